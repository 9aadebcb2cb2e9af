"""The ``email`` sink: send each alert by SMTP (STARTTLS or TLS, optional AUTH).

Uses the standard library's :mod:`smtplib` in a worker thread (one connection per alert:
alerts are rare, and a kept-open connection would time out between them). TLS certificates are
always verified, against ``smtp_ca_file`` or the system's trust store; credentials are never
sent over an unencrypted connection (the settings refuse that combination), and STARTTLS is
never skipped when the server does not offer it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from agent_sdk.kinds.alerts import Alert, AlertSink
from agent_sdk.logging import get_logger
from agent_sdk.reliability.retry import Retrier
from agent_sdk_alerts._secrets import SecretCache
from agent_sdk_alerts.config import AlertsConfig
from agent_sdk_alerts.errors import AlertDeliveryError
from agent_sdk_alerts.payload import alert_text, one_line

if TYPE_CHECKING:
    from email.message import EmailMessage

__all__ = ["EmailSink", "build_message"]


def build_message(alert: Alert, config: AlertsConfig) -> EmailMessage:
    """The mail for *alert*: subject ``<prefix> [SEVERITY] <title>``, a plain-text body, and
    ``X-Agent-SDK-Rule``/``-Severity``/``-Run-Id``/``-Task-Id`` headers for filtering."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid, parseaddr

    from agent_sdk.secrets import REDACTOR

    message = EmailMessage()
    prefix = config.email_subject_prefix.strip()
    subject = f"{prefix} [{alert.severity.upper()}] {alert.title}".strip()
    message["Subject"] = one_line(REDACTOR.redact(subject), 250)
    message["From"] = config.email_from or ""
    message["To"] = ", ".join(config.email_to)
    message["Date"] = formatdate(alert.created_at, usegmt=True)
    address = parseaddr(config.email_from or "")[1]
    domain = address.rpartition("@")[2] or "agent-sdk.invalid"
    message["Message-ID"] = make_msgid("alert", domain=one_line(domain, 100))
    message["X-Agent-SDK-Rule"] = one_line(alert.rule, 100)
    message["X-Agent-SDK-Severity"] = alert.severity
    if alert.run_id:
        message["X-Agent-SDK-Run-Id"] = one_line(alert.run_id, 100)
    if alert.task_id:
        message["X-Agent-SDK-Task-Id"] = one_line(alert.task_id, 100)
    message.set_content(alert_text(alert))
    return message


class EmailSink(AlertSink):
    """Mails each alert to ``email_to`` through ``smtp_host``."""

    name: ClassVar[str] = "email"
    description: ClassVar[str] = "Send each alert by email (SMTP with STARTTLS/TLS and AUTH)."
    Config = AlertsConfig

    def __init__(self, config: AlertsConfig | None = None) -> None:
        super().__init__(config)
        self._password = SecretCache()

    async def send(self, alert: Alert) -> None:
        config: AlertsConfig = self.config
        missing = [
            key for key in ("smtp_host", "email_from", "email_to") if not getattr(config, key)
        ]
        if missing:
            raise AlertDeliveryError(
                f"email sink: {', '.join(missing)} not set",
                hint="set them in [plugins.alerts]",
            )
        password: str | None = None
        if config.smtp_password is not None:
            password = await self._password.get(
                config.smtp_password, where="plugins.alerts.smtp_password"
            )
        message = build_message(alert, config)
        log = get_logger(__name__)

        def on_retry(attempt: int, error: BaseException, wait_s: float) -> None:
            log.info(
                "alert_delivery_retry",
                sink=self.name,
                attempt=attempt,
                wait_s=round(wait_s, 3),
                error=str(error),
            )

        async def attempt() -> None:
            await asyncio.to_thread(self._deliver, message, password)

        await Retrier(config.delivery_retry, on_retry=on_retry).call(attempt)

    def _deliver(self, message: EmailMessage, password: str | None) -> None:
        """One SMTP session (blocking; runs in a worker thread)."""
        import smtplib
        import ssl

        config: AlertsConfig = self.config
        host = config.smtp_host or ""
        port = config.smtp_port_or_default()
        where = f"SMTP {host}:{port}"
        context = None
        if config.smtp_security != "none":
            context = ssl.create_default_context(cafile=config.smtp_ca_file)
        try:
            client: smtplib.SMTP
            if config.smtp_security == "tls":
                client = smtplib.SMTP_SSL(
                    host, port, timeout=config.delivery_timeout_s, context=context
                )
            else:
                client = smtplib.SMTP(host, port, timeout=config.delivery_timeout_s)
            with client:
                client.ehlo()
                if config.smtp_security == "starttls":
                    if not client.has_extn("starttls"):
                        raise AlertDeliveryError(
                            f"{where}: the server does not offer STARTTLS",
                            hint='use smtp_security = "tls" if it speaks SMTPS, or another '
                            "server; the alert is not sent in plain text",
                        )
                    client.starttls(context=context)
                    client.ehlo()
                if config.smtp_username is not None:
                    client.login(config.smtp_username, password or "")
                refused = client.send_message(message)
            if refused:
                raise AlertDeliveryError(
                    f"{where}: recipients refused: {', '.join(sorted(refused))}",
                    hint="check email_to",
                )
        except AlertDeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise AlertDeliveryError(
                f"{where}: authentication as {config.smtp_username!r} failed "
                f"({exc.smtp_code} {_reply(exc.smtp_error)})",
                status=exc.smtp_code,
                hint="check smtp_username and the secret smtp_password refers to",
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise AlertDeliveryError(
                f"{where}: {exc}", hint="the server does not support what the settings ask for"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            rejected = ", ".join(sorted(exc.recipients))
            raise AlertDeliveryError(
                f"{where}: every recipient was refused ({rejected})", hint="check email_to"
            ) from None
        except smtplib.SMTPResponseException as exc:
            # 4xx: temporary (greylisting, busy server); 5xx: permanent
            raise AlertDeliveryError(
                f"{where}: {exc.smtp_code} {_reply(exc.smtp_error)}",
                transient=400 <= exc.smtp_code < 500,
                status=exc.smtp_code,
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise AlertDeliveryError(
                f"{where}: the server's TLS certificate is not trusted ({exc.verify_message})",
                hint="set smtp_ca_file to the CA certificate that signed it (verification is "
                "never turned off)",
            ) from None
        except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timeout, TLS failure
            raise AlertDeliveryError(
                f"{where}: {type(exc).__name__}: {exc}", transient=True
            ) from None


def _reply(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return one_line(text, 200)
