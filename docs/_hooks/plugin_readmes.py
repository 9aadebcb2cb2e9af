"""MkDocs hook: every ``plugins/agent-sdk-<name>/README.md`` becomes a page under "Plugins".

House style 20: a plugin's README *is* its documentation page, so it is written once, next to
the code, and shipped to PyPI with the package. This hook adds one generated page per plugin
directory (``plugins/<name>.md``) and lists it in the navigation after ``plugins/index.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

PREFIX = "agent-sdk-"


def _plugin_dirs(config: Any) -> list[Path]:
    root = Path(config["config_file_path"]).parent / "plugins"
    return sorted(p for p in root.glob(f"{PREFIX}*") if (p / "README.md").is_file())


def on_config(config: Any) -> Any:
    """Append one nav entry per plugin README to the ``Plugins`` section."""
    dirs = _plugin_dirs(config)
    for item in config["nav"] or []:
        if isinstance(item, dict) and isinstance(item.get("Plugins"), list):
            item["Plugins"].extend({p.name: f"plugins/{p.name[len(PREFIX) :]}.md"} for p in dirs)
    config["watch"].extend(str(p) for p in dirs)
    return config


def on_files(files: Files, config: Any) -> Files:
    """Add each plugin README as a generated page."""
    for plugin_dir in _plugin_dirs(config):
        name = plugin_dir.name[len(PREFIX) :]
        content = (plugin_dir / "README.md").read_text(encoding="utf-8")
        files.append(File.generated(config, f"plugins/{name}.md", content=content))
    return files
