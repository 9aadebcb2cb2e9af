"""agent-sdk-llamacpp: local GGUF models through llama-cpp-python (provider ``llamacpp``).

The ``agent_sdk`` entry point targets :mod:`agent_sdk_llamacpp.hooks`. ``LlamaCppModel`` is
imported on first access, so loading the entry point imports neither the provider nor
llama-cpp-python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["LlamaCppModel", "__version__"]

if TYPE_CHECKING:
    from agent_sdk_llamacpp.provider import LlamaCppModel


def __getattr__(name: str) -> Any:
    if name == "LlamaCppModel":
        from agent_sdk_llamacpp.provider import LlamaCppModel

        return LlamaCppModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
