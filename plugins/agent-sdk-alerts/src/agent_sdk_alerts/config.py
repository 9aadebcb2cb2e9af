"""``[plugins.alerts]``: one settings model shared by the four sinks.

Each setting belongs to one sink by its prefix (``webhook_``, ``slack_``, ``smtp_``/``email_``,
``log_``); ``delivery_timeout_s`` and ``delivery_retry`` apply to every network sink. Secrets
(the webhook signing secret, the Slack webhook URL, the SMTP password) are references
(``{ env = "NAME" }`` / ``{ keyring = "service/user" }``), resolved when the first alert is
sent.

:func:`check_settings` runs at start-up (``agent_sdk_configure``): it reports what a JSON
Schema cannot express, such as a sink named in ``[alerts] sinks`` whose required settings are
missing, before any run starts instead of when the first alert is due.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, model_validator

from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.reliability.retry import RetryPolicy
from agent_sdk.secrets import SecretRef

if TYPE_CHECKING:
    from agent_sdk.config import Config

__all__ = ["PLUGIN", "REQUIRED", "AlertsConfig", "check_settings"]

PLUGIN = "alerts"
"""The plugin's name: its entry point and its ``[plugins.alerts]`` table."""

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
SmtpSecurity = Literal["starttls", "tls", "none"]

REQUIRED: dict[str, tuple[str, ...]] = {
    "log": (),
    "webhook": ("webhook_url",),
    "slack": ("slack_webhook_url",),
    "email": ("smtp_host", "email_from", "email_to"),
}
"""Settings each sink needs (checked at start-up when the sink is in ``[alerts] sinks``)."""


def _default_retry() -> RetryPolicy:
    # alerts are delivered while the run finishes: keep the worst case short
    return RetryPolicy(
        attempts=3, initial_s=0.5, max_s=5.0, jitter_s=0.5, timeout_s=30.0, retry_after_max_s=10.0
    )


class AlertsConfig(EmptyConfig):
    """``[plugins.alerts]`` settings of the ``log``, ``webhook``, ``slack`` and ``email`` sinks."""

    log_level: LogLevel | None = Field(
        None,
        description="Level of the `alert` log event; unset: the alert's severity "
        "(info, warning, error, critical).",
    )
    webhook_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="URL the webhook sink POSTs each alert to (JSON).",
    )
    webhook_secret: SecretRef | None = Field(
        None,
        description="Secret reference of the HMAC-SHA256 signing key; unset: requests are "
        "not signed (receivers cannot tell them from forgeries).",
    )
    slack_webhook_url: SecretRef | None = Field(
        None, description="Secret reference holding the Slack incoming-webhook URL."
    )
    smtp_host: str | None = Field(None, description="SMTP server host name.")
    smtp_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="SMTP port; unset: 587 (starttls), 465 (tls) or 25 (none).",
    )
    smtp_security: SmtpSecurity = Field(
        "starttls",
        description="starttls: upgrade the connection with STARTTLS (required, never "
        "skipped); tls: TLS from the first byte (SMTPS); none: plain text (no credentials "
        "allowed).",
    )
    smtp_username: str | None = Field(None, description="SMTP AUTH user name; unset: no AUTH.")
    smtp_password: SecretRef | None = Field(
        None, description="Secret reference of the SMTP AUTH password."
    )
    smtp_ca_file: str | None = Field(
        None,
        description="PEM file of the CA certificates that verify the SMTP server; unset: "
        "the system's trust store. Certificates are always verified.",
    )
    email_from: str | None = Field(None, description="Sender address (From).")
    email_to: list[str] = Field(default_factory=list, description="Recipient addresses (To).")
    email_subject_prefix: str = Field("[agent-sdk]", description="Text put before every subject.")
    delivery_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Seconds one delivery attempt may take."
    )
    delivery_retry: RetryPolicy = Field(
        default=_default_retry(),
        description="Retries of transient delivery failures (network errors, HTTP 408/429/5xx, "
        "SMTP 4xx); other failures are not retried.",
    )

    @model_validator(mode="after")
    def _smtp_credentials(self) -> AlertsConfig:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError(
                "smtp_username and smtp_password go together: set both (AUTH) or neither"
            )
        if self.smtp_username is not None and self.smtp_security == "none":
            raise ValueError(
                'smtp_username needs smtp_security = "starttls" or "tls": credentials are '
                "never sent over an unencrypted connection"
            )
        return self

    def smtp_port_or_default(self) -> int:
        """The configured port, or the usual one for :attr:`smtp_security`."""
        return self.smtp_port or {"starttls": 587, "tls": 465, "none": 25}[self.smtp_security]


def _missing(settings: dict[str, Any], key: str) -> bool:
    value = settings.get(key)
    return value is None or value == "" or value == []


def check_settings(config: Config) -> None:
    """Reject, before any work, ``[plugins.alerts]`` settings the sinks in use cannot work with.

    Raises:
        ConfigError: one issue per problem: a required setting of a sink named in
            ``[alerts] sinks`` is missing, or settings contradict each other.
    """
    from agent_sdk.errors import ConfigError, ConfigIssue

    settings = config.plugins.settings(PLUGIN)
    where = f"plugins.{PLUGIN}"
    issues: list[ConfigIssue] = []
    for sink in config.alerts.sinks:
        for key in REQUIRED.get(sink, ()):
            if _missing(settings, key):
                issues.append(
                    ConfigIssue(
                        config.source,
                        f"{where}.{key}",
                        f"required by the {sink!r} alert sink named in [alerts] sinks, but not set",
                        f"set {key} in [{where}], or remove {sink!r} from [alerts] sinks",
                    )
                )
    try:
        AlertsConfig.model_validate(settings)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if err["type"] == "value_error":  # cross-field checks; the schema caught the rest
                message = str(err["msg"]).removeprefix("Value error, ")
                issues.append(ConfigIssue(config.source, where, message))
    if issues:
        raise ConfigError(issues)
