"""Deterministic model providers for tests, examples and benchmarks (builtin plugin ``scripted``).

:class:`ScriptedModel` (registered as ``scripted``) answers from a script, first in first out.
The script can live in the configuration file::

    [models.fake]
    provider = "scripted"
    responses = [
        { tool_calls = [ { name = "add", arguments = { a = 1, b = 2 } } ] },
        { content = "3", expect = { last_role = "tool", last_message_contains = "3" } },
    ]

or be built in Python with :meth:`ScriptedModel.from_responses`. It fails loudly: a call past
the end of the script, or a request that misses a step's ``expect``, raises
:class:`~agent_sdk.errors.ModelProviderError`; :meth:`ScriptedModel.assert_all_used` fails a
test that left steps unused.

:class:`FunctionModel` (name ``function``) decides each answer with a Python function. A
configuration file cannot hold a function, so it is *not* registered by this plugin (the
registry builds components from their ``Config`` alone): construct it directly,
``FunctionModel(fn)``, and hand it to the code under test.

Both are cheap per call (a lock, a pop and, when ``usage`` is not scripted, a whitespace word
count of the prompt), so benchmarks of the agent loop measure the loop, not the fake model.
This module imports no test framework.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ClassVar, Literal, Self, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent_sdk import hookimpl
from agent_sdk.errors import (
    AgentSDKError,
    ModelProviderError,
    RateLimitError,
    TimeoutError,
    TransientError,
)
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.model import ModelProvider
from agent_sdk.messages import Message, ModelRequest, ModelResponse, Role, ToolCall, Usage

__all__ = [
    "FunctionModel",
    "ModelFunction",
    "ScriptItem",
    "ScriptedError",
    "ScriptedExpect",
    "ScriptedModel",
    "ScriptedStep",
    "ScriptedToolCall",
    "agent_sdk_register_model_providers",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScriptedToolCall(_Strict):
    """One tool call in a scripted response."""

    name: str = Field(description="Name of the tool to call.")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="Arguments passed to the tool (a JSON object)."
    )
    id: str | None = Field(
        None,
        description="Call id; by default call_1, call_2... numbered through the whole script.",
    )


class ScriptedError(_Strict):
    """A scripted failure: the step raises instead of answering (to exercise retries)."""

    type: Literal["provider", "transient", "rate_limit", "timeout"] = Field(
        "transient",
        description="provider: ModelProviderError (not retried); transient: TransientError; "
        "rate_limit: RateLimitError; timeout: agent_sdk.errors.TimeoutError.",
    )
    message: str = Field("scripted failure", description="The error message.")
    retry_after: float | None = Field(
        None, ge=0, description="Seconds to wait before retrying (transient and rate_limit)."
    )

    def build(self, where: str) -> AgentSDKError:
        """Return a fresh exception of the scripted type; *where* prefixes the message."""
        message = f"{where}: {self.message}"
        if self.type == "transient":
            return TransientError(message, retry_after=self.retry_after)
        if self.type == "rate_limit":
            return RateLimitError(message, retry_after=self.retry_after)
        if self.type == "timeout":
            return TimeoutError(message)
        return ModelProviderError(message)


class ScriptedExpect(_Strict):
    """Checks a step makes on the request it answers; a miss raises ModelProviderError."""

    last_role: Role | None = Field(
        None, description="Role the request's last message must have (e.g. 'user' or 'tool')."
    )
    last_message_contains: str | None = Field(
        None, description="Substring the request's last message content must contain."
    )
    tools_offered: list[str] | None = Field(
        None, description="Tool names that must all be offered in the request."
    )

    def problems(self, request: ModelRequest) -> list[str]:
        """Return one line per unmet expectation (empty when the request matches)."""
        out: list[str] = []
        last = request.messages[-1] if request.messages else None
        if self.last_role is not None:
            found = last.role if last is not None else "no message"
            if found != self.last_role:
                out.append(f"last message role: expected {self.last_role!r}, found {found!r}")
        if self.last_message_contains is not None:
            content = (last.content or "") if last is not None else ""
            if self.last_message_contains not in content:
                out.append(
                    f"last message content: expected it to contain "
                    f"{self.last_message_contains!r}, found {_clip(content)!r}"
                )
        if self.tools_offered is not None:
            offered = [spec.name for spec in request.tools]
            missing = [name for name in self.tools_offered if name not in offered]
            if missing:
                out.append(
                    f"tools offered: expected {self.tools_offered}, found {offered} "
                    f"(missing {missing})"
                )
        return out


class ScriptedStep(_Strict):
    """One scripted model answer: text and/or tool calls, or a failure."""

    content: str | None = Field(None, description="Assistant text.")
    tool_calls: list[ScriptedToolCall] = Field(
        default_factory=list, description="Tool calls the model makes in this answer."
    )
    usage: Usage | None = Field(
        None,
        description="Token usage reported; by default input = whitespace words of the "
        "prompt, output = words of the content plus one per tool call and argument.",
    )
    finish_reason: str | None = Field(
        None, description="Defaults to 'tool_calls' when the step calls tools, else 'stop'."
    )
    error: ScriptedError | None = Field(
        None, description="Raise this error instead of answering (no content or tool calls)."
    )
    expect: ScriptedExpect | None = Field(
        None, description="Checks on the request this step answers."
    )

    @model_validator(mode="after")
    def _one_outcome(self) -> ScriptedStep:
        has_answer = self.content is not None or bool(self.tool_calls)
        if self.error is not None and has_answer:
            raise ValueError("a step has either an error or content/tool_calls, not both")
        if self.error is None and not has_answer:
            raise ValueError("a step needs content, tool_calls or error")
        return self


ScriptItem: TypeAlias = (
    ModelResponse | Message | str | ScriptedStep | Mapping[str, Any] | BaseException
)
"""What :meth:`ScriptedModel.from_responses` accepts for one step."""

ModelFunction: TypeAlias = Callable[
    [ModelRequest],
    ModelResponse | Message | str | Awaitable[ModelResponse | Message | str],
]
"""A :class:`FunctionModel` function: request in, answer (or awaitable answer) out."""


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


def _prompt_tokens(request: ModelRequest) -> int:
    return sum(_words(message.content) for message in request.messages)


def _output_tokens(message: Message) -> int:
    return _words(message.content) + sum(1 + len(c.arguments) for c in message.tool_calls)


def _coerce(value: object, who: str) -> tuple[ModelResponse, bool]:
    """Turn a Python answer into ``(response, usage_given)``.

    Raises:
        ModelProviderError: *value* is not a response, an assistant message or a string.
    """
    if isinstance(value, ModelResponse):
        return value, True
    if isinstance(value, str):
        return ModelResponse(message=Message(role="assistant", content=value)), False
    if isinstance(value, Message):
        if value.role != "assistant":
            raise ModelProviderError(
                f"{who}: a model answers with an assistant message, found role {value.role!r}",
                hint="use Message.assistant(...)",
            )
        finish = "tool_calls" if value.tool_calls else "stop"
        return ModelResponse(message=value, finish_reason=finish), False
    raise ModelProviderError(
        f"{who}: expected a ModelResponse, an assistant Message or a str, "
        f"found {type(value).__name__}"
    )


class _Step:
    """A prepared script step: everything computed once, so a call only pops and returns."""

    __slots__ = ("error", "expect", "label", "response", "usage_given")

    def __init__(
        self,
        label: str,
        response: ModelResponse | None = None,
        usage_given: bool = False,
        error: BaseException | ScriptedError | None = None,
        expect: ScriptedExpect | None = None,
    ) -> None:
        self.label = label
        self.response = response
        self.usage_given = usage_given
        self.error = error
        self.expect = expect


def _describe_response(response: ModelResponse) -> str:
    parts = []
    if response.message.content is not None:
        parts.append(f"content={_clip(response.message.content, 40)!r}")
    if response.message.tool_calls:
        parts.append("tool_calls=[" + ", ".join(c.name for c in response.message.tool_calls) + "]")
    return " ".join(parts) or "empty answer"


class ScriptedModel(ModelProvider):
    """A model provider that answers from a fixed script, first in first out.

    Args:
        config: a :class:`ScriptedModel.Config` (``responses``, ``model``); ``None`` means an
            empty script.

    Attributes:
        calls: every :class:`~agent_sdk.messages.ModelRequest` received, in order (including
            calls that failed).

    Calls are safe from several threads or asyncio tasks: each takes the next step under a
    lock, so concurrent callers get distinct steps in call order.
    """

    name: ClassVar[str] = "scripted"
    description: ClassVar[str] = "Deterministic answers from a script (tests, examples)."

    class Config(EmptyConfig):
        """``[models.<name>]`` options (or ``[plugins.scripted]``) of the scripted model."""

        responses: list[ScriptedStep] = Field(
            default_factory=list,
            description="The answers, in order: each has content and/or tool_calls (or an "
            "error), optional usage and expect.",
        )
        model: str = Field("scripted", description="Model name reported in responses.")

    def __init__(self, config: BaseModel | None = None) -> None:
        super().__init__(config)
        self.calls: list[ModelRequest] = []
        self._lock = threading.Lock()
        self._next = 0
        self._tool_call_counter = 0
        self._steps: list[_Step] = []
        for step in self.config.responses:
            self._add(step)

    # --- building ------------------------------------------------------------------------

    @classmethod
    def from_responses(cls, responses: Iterable[ScriptItem], *, model: str = "scripted") -> Self:
        """Build a scripted model from Python values.

        Args:
            responses: one item per call, each a :class:`~agent_sdk.messages.ModelResponse`
                (returned as is), an assistant :class:`~agent_sdk.messages.Message`, a ``str``
                (assistant text), a :class:`ScriptedStep` or a dict of its fields (as in TOML:
                ``{"tool_calls": [{"name": "add", "arguments": {...}}], "expect": {...}}``),
                or an exception instance, raised by that call.
            model: model name reported in responses.

        Returns:
            The model, with every step prepared.

        Raises:
            ModelProviderError: an item has an unsupported type or a dict does not validate;
                the message gives the item's position.
        """
        instance = cls(cls.Config(model=model))
        for item in responses:
            instance._add(item)
        return instance

    def _add(self, item: ScriptItem) -> None:
        position = len(self._steps) + 1
        label = f"step {position}"
        where = f"scripted model {self.config.model!r} {label}"
        if isinstance(item, BaseException):
            self._steps.append(_Step(f"{label}: raises {type(item).__name__}", error=item))
            return
        if isinstance(item, Mapping):
            try:
                item = ScriptedStep.model_validate(item)
            except ValidationError as exc:
                raise ModelProviderError(
                    f"{where}: invalid step: {exc.errors(include_url=False)[0]['msg']} "
                    f"(found {dict(item)!r})",
                    hint="a step is {content=..., tool_calls=[...], usage=..., expect=...} "
                    "or {error={type=..., message=...}}",
                ) from None
        if isinstance(item, ScriptedStep):
            self._steps.append(self._prepare(item, label))
            return
        response, usage_given = _coerce(item, where)
        if not usage_given:
            usage = Usage(input_tokens=0, output_tokens=_output_tokens(response.message))
            response = response.model_copy(update={"usage": usage, "model": self.config.model})
        self._steps.append(_Step(f"{label}: {_describe_response(response)}", response, usage_given))

    def _prepare(self, step: ScriptedStep, label: str) -> _Step:
        if step.error is not None:
            return _Step(
                f"{label}: raises {step.error.type} error", error=step.error, expect=step.expect
            )
        calls = []
        for call in step.tool_calls:
            self._tool_call_counter += 1
            call_id = call.id or f"call_{self._tool_call_counter}"
            calls.append(ToolCall(id=call_id, name=call.name, arguments=call.arguments))
        message = Message(role="assistant", content=step.content, tool_calls=tuple(calls))
        finish = step.finish_reason or ("tool_calls" if calls else "stop")
        usage = step.usage or Usage(input_tokens=0, output_tokens=_output_tokens(message))
        response = ModelResponse(
            message=message, usage=usage, model=self.config.model, finish_reason=finish
        )
        return _Step(
            f"{label}: {_describe_response(response)}",
            response,
            usage_given=step.usage is not None,
            expect=step.expect,
        )

    # --- calling -------------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        """Number of steps not yet used."""
        return len(self._steps) - self._next

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Answer *request* with the next step of the script.

        Returns:
            The step's response; without scripted ``usage``, input tokens are the prompt's
            whitespace-separated words and output tokens the answer's words plus one per tool
            call and per argument.

        Raises:
            ModelProviderError: the script is exhausted (the message says how many responses
                were scripted), or the request misses the step's ``expect`` (the message lists
                expected and found values).
            AgentSDKError: whatever error the step scripts (``TransientError``...); an
                exception instance given to :meth:`from_responses` is raised as is.
        """
        with self._lock:
            self.calls.append(request)
            index = self._next
            if index >= len(self._steps):
                raise self._exhausted(request)
            self._next = index + 1
        step = self._steps[index]
        where = f"scripted model {self.config.model!r} step {index + 1}"
        if step.expect is not None:
            problems = step.expect.problems(request)
            if problems:
                raise ModelProviderError(
                    f"{where}: the request does not match the step's expect:\n    "
                    + "\n    ".join(problems),
                    hint="the code under test sent something else than the script expects; "
                    "fix the code or the script's expect",
                )
        if step.error is not None:
            if isinstance(step.error, ScriptedError):
                raise step.error.build(where)
            raise step.error
        response = step.response
        assert response is not None
        if step.usage_given:
            return response
        usage = Usage(
            input_tokens=_prompt_tokens(request), output_tokens=response.usage.output_tokens
        )
        return response.model_copy(update={"usage": usage})

    def _exhausted(self, request: ModelRequest) -> ModelProviderError:
        count = len(self._steps)
        last = request.messages[-1] if request.messages else None
        found = f"{last.role}: {_clip(last.content or '')!r}" if last is not None else "nothing"
        return ModelProviderError(
            f"scripted model {self.config.model!r}: call {len(self.calls)} but only {count} "
            f"response{'s were' if count != 1 else ' was'} scripted (last message: {found})",
            hint="add a response to the script, or check why the code under test calls the "
            "model more often than expected",
        )

    def unused(self) -> list[str]:
        """Describe each step not yet used, e.g. ``"step 3: content='bye'"``."""
        with self._lock:
            return [step.label for step in self._steps[self._next :]]

    def assert_all_used(self) -> None:
        """Fail if some scripted steps were never requested.

        Raises:
            AssertionError: listing every unused step (a test assertion, not an SDK error).
        """
        unused = self.unused()
        if unused:
            total = len(self._steps)
            raise AssertionError(
                f"{len(unused)} of {total} scripted responses of model {self.config.model!r} "
                "were not used:\n  " + "\n  ".join(unused)
            )


class FunctionModel(ModelProvider):
    """A model provider whose every answer is decided by a Python function.

    Not registered as a plugin component (a ``Config`` cannot hold a function): construct it
    and pass it where a provider is expected.

    Args:
        fn: called with each :class:`~agent_sdk.messages.ModelRequest`; returns (or, when
            async, resolves to) a :class:`~agent_sdk.messages.ModelResponse`, an assistant
            :class:`~agent_sdk.messages.Message` or a ``str``. Exceptions it raises propagate
            unchanged (so a failed ``assert`` inside it fails the test).
        config: optional :class:`FunctionModel.Config` (the reported ``model`` name).

    Attributes:
        calls: every request received, in order.
    """

    name: ClassVar[str] = "function"
    description: ClassVar[str] = "Answers computed by a Python function (tests only)."

    class Config(EmptyConfig):
        """Options of a function model."""

        model: str = Field("function", description="Model name reported in responses.")

    def __init__(self, fn: ModelFunction, config: BaseModel | None = None) -> None:
        super().__init__(config)
        if not callable(fn):
            raise ModelProviderError(
                f"FunctionModel needs a callable, found {type(fn).__name__}",
                hint="pass a function (request) -> ModelResponse | Message | str",
            )
        self.fn = fn
        self.calls: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Return ``fn(request)`` as a :class:`~agent_sdk.messages.ModelResponse`.

        A ``str`` or ``Message`` answer gets the same usage estimate as :class:`ScriptedModel`.

        Raises:
            ModelProviderError: the function returned something else than a response, an
                assistant message or a string.
        """
        self.calls.append(request)
        result: Any = self.fn(request)
        if inspect.isawaitable(result):
            result = await result
        response, usage_given = _coerce(result, f"function model {self.fn!r}")
        if usage_given:
            return response
        usage = Usage(
            input_tokens=_prompt_tokens(request), output_tokens=_output_tokens(response.message)
        )
        return response.model_copy(update={"usage": usage, "model": self.config.model})


@hookimpl
def agent_sdk_register_model_providers() -> list[type[ModelProvider]]:
    """Register :class:`ScriptedModel` (``FunctionModel`` is Python-only, see the module)."""
    return [ScriptedModel]
