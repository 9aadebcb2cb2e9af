"""Keeps pytest out of the unrendered template (its tests import ``agent_sdk_NAME``).

Not part of the template: ``render.py`` does not copy this file. The template is checked by
``tests/test_plugin_layout.py``, which renders it and verifies the result.
"""

collect_ignore = ["tests", "src", "render.py"]
