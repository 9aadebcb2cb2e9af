"""A model provider for a small JSON completion service, using only the standard library.

The service takes ``POST {base_url}/complete`` with ``{"model", "messages", "max_tokens",
"temperature"}`` and answers ``{"text", "model", "usage": {"input", "output"}}``. What matters
is the error mapping: it tells the runtime what it may retry.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

from pydantic import Field

from agent_sdk import hookimpl
from agent_sdk.errors import ModelProviderError, RateLimitError, TransientError
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.model import ModelProvider
from agent_sdk.messages import Message, ModelRequest, ModelResponse, Usage
from agent_sdk.secrets import SecretRef, resolve


class CompletionService(ModelProvider):
    name = "completion-service"
    description = "A JSON completion service over HTTP (text only, no tool calls)."

    class Config(EmptyConfig):
        base_url: str = Field(description="Root URL of the service, e.g. http://127.0.0.1:8080.")
        model: str = Field("small", description="Model name sent with every request.")
        api_key: SecretRef | None = Field(
            None, description='Secret reference, e.g. { env = "COMPLETION_API_KEY" }.'
        )
        timeout_s: float = Field(30.0, gt=0, description="Seconds one call may take.")

    async def complete(self, request: ModelRequest) -> ModelResponse:
        body = {
            "model": request.model or self.config.model,
            "messages": [{"role": m.role, "content": m.content or ""} for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        # urllib blocks: run it in a thread so the event loop keeps serving other tasks
        data = await asyncio.to_thread(self._post, body)
        return ModelResponse(
            message=Message.assistant(data["text"]),
            usage=Usage(input_tokens=data["usage"]["input"], output_tokens=data["usage"]["output"]),
            model=data.get("model", ""),
        )

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.config.api_key is not None:
            # resolved late, and registered with the redactor: never in logs or errors
            key = resolve(self.config.api_key, where=f"model provider {self.name!r} api_key")
            headers["Authorization"] = f"Bearer {key}"
        url = self.config.base_url.rstrip("/") + "/complete"
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode(errors="replace")
            if exc.code == 429:
                retry_after = exc.headers.get("Retry-After")
                raise RateLimitError(
                    f"{url}: rate limited (HTTP 429): {detail}",
                    retry_after=float(retry_after) if retry_after else None,
                ) from None
            if exc.code >= 500:
                raise TransientError(f"{url}: server error (HTTP {exc.code}): {detail}") from None
            raise ModelProviderError(
                f"{url}: request refused (HTTP {exc.code}): {detail}",
                hint="check base_url, model and api_key in the provider's settings",
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise TransientError(f"{url}: cannot reach the service: {exc}") from None


@hookimpl
def agent_sdk_register_model_providers() -> list[type[ModelProvider]]:
    return [CompletionService]
