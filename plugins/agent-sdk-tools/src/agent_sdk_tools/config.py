"""The one settings model every tool of this plugin shares: the ``[plugins.tools]`` table.

All seven tools declare ``Config = ToolsConfig``, so the table is one flat list of keys (the
plugin schema is the union of its components' ``Config`` models, and here they are the same
model). Units are in the key names: ``_bytes``, ``_s``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.reliability.breaker import BreakerPolicy
from agent_sdk.reliability.cache import CachePolicy
from agent_sdk.reliability.ratelimit import RateLimitPolicy

__all__ = ["ToolsConfig", "normalize_domain"]

_MiB = 1024 * 1024

Domain = Annotated[
    str,
    Field(
        pattern=r"^(\*\.)?\.?[^\s/:@?#*]+\.?$",
        description="A host name such as 'example.com' (covers its subdomains).",
    ),
]
"""A domain rule; the pattern is in the JSON Schema, so start-up validation rejects URLs."""


def normalize_domain(value: str) -> str:
    """Return *value* as a lower-case host name without a trailing dot or a ``*.`` prefix.

    ``"*.Example.COM."`` and ``".example.com"`` both become ``"example.com"`` (a domain rule
    always covers its subdomains). Non-ASCII names become their IDNA (``xn--``) form.

    Raises:
        ValueError: the value is empty or looks like a URL (scheme, path, port, spaces).
    """
    text = value.strip().lower().rstrip(".")
    if text.startswith("*."):
        text = text[2:]
    text = text.lstrip(".")
    if not text or any(c in text for c in "/:@ \t?#*"):
        raise ValueError(
            f"expected a host name such as 'example.com', found {value!r} "
            "(no scheme, port, path or wildcard other than a leading '*.')"
        )
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ValueError(f"{value!r} is not a valid host name: {error}") from None


class ToolsConfig(EmptyConfig):
    """``[plugins.tools]``: settings shared by every tool of the plugin."""

    # --- file tools ------------------------------------------------------------------------
    workspace_root: str | None = Field(
        default=None,
        description=(
            "Directory read_file, write_file and list_dir are confined to (and python_exec/"
            "shell use with exec_in_workspace). Unset: the run's workspace ([runtime] "
            "workspace, default the current directory). A relative path is relative to the "
            "current directory. Wins over the run's workspace when set."
        ),
    )
    max_read_bytes: int = Field(
        default=1 * _MiB,
        ge=1,
        description="Most bytes read_file returns per call; longer files are truncated "
        "(the result says so and gives the total size; read on with offset).",
    )
    max_write_bytes: int = Field(
        default=1 * _MiB,
        ge=1,
        description="Most bytes write_file writes per call; larger content is refused.",
    )
    list_max_entries: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Most entries list_dir returns (recursive listings stop there and say so).",
    )

    # --- http_fetch ------------------------------------------------------------------------
    http_timeout_s: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="Wall-clock limit of one http_fetch call in seconds (connect, redirects, "
        "reading the body).",
    )
    http_max_bytes: int = Field(
        default=2 * _MiB,
        ge=1,
        description="Most body bytes http_fetch reads (after decompression); the download "
        "stops there and the result is marked truncated.",
    )
    http_max_redirects: int = Field(
        default=5,
        ge=0,
        le=20,
        description="Redirects http_fetch follows; each target is checked against the "
        "allow/deny domain lists.",
    )
    http_allow_domains: tuple[Domain, ...] = Field(
        default=(),
        description="If not empty, http_fetch only reaches these hosts and their subdomains "
        "('example.com' allows 'docs.example.com'). Empty: every host not denied.",
    )
    http_deny_domains: tuple[Domain, ...] = Field(
        default=(),
        description="Hosts (and their subdomains) http_fetch never reaches; wins over "
        "http_allow_domains.",
    )
    http_rate_limit: RateLimitPolicy = Field(
        default=RateLimitPolicy(rate=5, per_s=1.0),
        description="Requests http_fetch may start, shared by all hosts (cache hits are free).",
    )
    http_cache: CachePolicy = Field(
        default=CachePolicy(enabled=True, ttl_s=300.0, max_entries=256, max_bytes=32 * _MiB),
        description="Cache of successful GET results, keyed by URL and arguments.",
    )
    http_breaker: BreakerPolicy = Field(
        default=BreakerPolicy(),
        description="Circuit breaker per host: after failure_threshold connection errors, "
        "timeouts or 5xx answers, calls to that host fail at once for recovery_timeout_s.",
    )
    http_user_agent: str = Field(
        default="agent-sdk-tools/0.1 (+https://pypi.org/project/agent-sdk-tools/)",
        min_length=1,
        description="User-Agent header of http_fetch requests.",
    )

    # --- web_search ------------------------------------------------------------------------
    search_backend: str = Field(
        default="duckduckgo",
        min_length=1,
        description="ddgs text-search backend(s), comma-separated ('duckduckgo', 'brave', "
        "'auto'...).",
    )
    search_region: str = Field(
        default="us-en", min_length=1, description="Default search region, e.g. 'uk-en'."
    )
    search_proxy: str | None = Field(
        default=None,
        description="Proxy URL for web_search (http://, https:// or socks5://); unset: "
        "the DDGS_PROXY environment variable, if any.",
    )
    search_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Wall-clock limit of one web_search call in seconds; offline, the call "
        "fails within it.",
    )
    search_max_results: int = Field(
        default=10, ge=1, le=50, description="Most results one web_search call returns."
    )
    search_rate_limit: RateLimitPolicy = Field(
        default=RateLimitPolicy(rate=1, per_s=1.0),
        description="Searches web_search may start (search engines block eager clients).",
    )
    search_cache: CachePolicy = Field(
        default=CachePolicy(enabled=True, ttl_s=600.0, max_entries=256, max_bytes=4 * _MiB),
        description="Cache of search results, keyed by query and arguments.",
    )
    search_breaker: BreakerPolicy = Field(
        default=BreakerPolicy(),
        description="Circuit breaker of the search service.",
    )

    # --- python_exec / shell ---------------------------------------------------------------
    exec_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Default wall-clock limit of python_exec and shell in seconds.",
    )
    exec_max_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Largest timeout_s a python_exec or shell call may ask for.",
    )
    exec_in_workspace: bool = Field(
        default=False,
        description="Run code with the workspace root as its read-write working directory "
        "(it sees and may change the files of write_file). False: a fresh empty directory "
        "per call, removed afterwards.",
    )

    @field_validator("http_allow_domains", "http_deny_domains", mode="after")
    @classmethod
    def _normalize_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalize_domain(v) for v in value))

    @model_validator(mode="after")
    def _check_exec_timeouts(self) -> ToolsConfig:
        if self.exec_timeout_s > self.exec_max_timeout_s:
            raise ValueError(
                f"exec_timeout_s ({self.exec_timeout_s}) must not exceed exec_max_timeout_s "
                f"({self.exec_max_timeout_s}); lower the first or raise the second"
            )
        return self
