"""The error a sink raises when an alert could not be delivered."""

from __future__ import annotations

from agent_sdk.errors import AgentSDKError

__all__ = ["AlertDeliveryError"]


class AlertDeliveryError(AgentSDKError):
    """An alert could not be delivered (the kernel logs it and records it on the stored alert).

    Args:
        message: what failed, where (sink, host, status); never a secret value.
        transient: ``True`` when a retry may succeed (network error, HTTP 408/429/5xx, SMTP 4xx).
        retry_after: seconds the receiver asked to wait (``Retry-After``), or ``None``.
        status: the HTTP status or SMTP reply code, when there was one.
        hint: how to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.transient = transient
        self.retry_after = retry_after
        self.status = status
