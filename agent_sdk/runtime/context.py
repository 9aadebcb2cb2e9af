"""Durable, guarded model and tool calls: the runtime side of :class:`AgentContext`.

:class:`Services` holds what one engine shares between runs (component instances, circuit
breakers, rate limiters, the retry policy). :class:`TaskContext` is what an agent receives:
every ``call_model`` / ``call_tools`` goes through, in order,

1. the **journal**: a recorded result is replayed and nothing else happens;
2. the **limits** (max turns, max tool calls, token budget) → ``BudgetExceededError``;
3. the ``agent_sdk_before_*`` hooks (tracing, guardrails);
4. the **rate limiter** for that model/tool, then its **circuit breaker**, then **retries**
   of transient errors (models only: a tool with side effects is never retried implicitly);
5. the journal write of the result, *before* the result is returned;
6. the ``agent_sdk_after_*`` hooks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agent_sdk.errors import AgentSDKError, BudgetExceededError, ToolError
from agent_sdk.events import ModelCallInfo, ToolCallInfo
from agent_sdk.kinds.model import ModelProvider
from agent_sdk.kinds.sandbox import Sandbox
from agent_sdk.kinds.tool import Tool, ToolContext
from agent_sdk.messages import ModelRequest, ModelResponse, ToolCall, ToolResult, ToolSpec, Usage
from agent_sdk.runtime.journal import EventLog, Journal, step_key

if TYPE_CHECKING:
    from agent_sdk.app import App
    from agent_sdk.config import AgentSection, RuntimeSection
    from agent_sdk.reliability.breaker import BreakerRegistry
    from agent_sdk.reliability.ratelimit import RateLimiter
    from agent_sdk.reliability.retry import Retrier

__all__ = ["Services", "TaskContext"]

T = TypeVar("T")


class Services:
    """Per-engine shared state: component instances and reliability guards.

    Instances are created on first use and reused (a local model loads its weights once).
    Breakers are keyed ``model:<name>`` and ``tool:<name>``; rate limiters by the keys of
    ``[runtime.rate_limits]`` (same naming).
    """

    def __init__(self, app: App, settings: RuntimeSection) -> None:
        from agent_sdk.reliability.breaker import BreakerRegistry
        from agent_sdk.reliability.retry import Retrier

        self.app = app
        self.settings = settings
        self.breakers: BreakerRegistry = BreakerRegistry(
            settings.breaker, on_state_change=self._breaker_changed
        )
        self.retrier: Retrier = Retrier(settings.model_retry)
        # after a first failed attempt, the remaining attempts go through stamina
        remaining = max(settings.model_retry.attempts - 1, 1)
        self._retry_rest: Retrier = Retrier(
            settings.model_retry.model_copy(update={"attempts": remaining})
        )
        self._models: dict[str, ModelProvider] = {}
        self._tools: dict[str, Tool] = {}
        self._limiters: dict[str, RateLimiter] = {}
        self._sandbox: Sandbox | None = None
        from agent_sdk.reliability.cache import ResultCache

        self.model_cache = ResultCache(settings.model_cache, name="model")
        self.tool_cache = ResultCache(settings.tool_cache, name="tool")
        self.breaker_listeners: list[Callable[[str, str, str], None]] = []

    def _breaker_changed(self, name: str, old: Any, new: Any) -> None:
        for listener in list(self.breaker_listeners):
            listener(name, str(old), str(new))

    def model(self, name: str) -> ModelProvider:
        """The model instance for a configured model name or provider name."""
        instance = self._models.get(name)
        if instance is None:
            created = self.app.create_model(name)
            assert isinstance(created, ModelProvider)
            instance = self._models[name] = created
        return instance

    def sandbox(self) -> Sandbox:
        """The configured sandbox (``[sandbox] backend``), created and probed once.

        Raises:
            UnknownComponentError: no sandbox of that name is installed.
            SandboxUnavailableError: its isolation is not available here (it never falls back
                to running code unconfined).
        """
        if self._sandbox is None:
            created = self.app.create("sandbox", self.app.config.sandbox.backend, where="sandbox")
            assert isinstance(created, Sandbox)
            created.probe()
            self._sandbox = created
        return self._sandbox

    def provider_name(self, model: str) -> str:
        """The registered provider behind configured model *model*."""
        section = self.app.config.models.get(model)
        return section.provider if section is not None else model

    def tool(self, name: str) -> Tool:
        """The tool instance registered as *name*."""
        instance = self._tools.get(name)
        if instance is None:
            created = self.app.create("tool", name)
            assert isinstance(created, Tool)
            instance = self._tools[name] = created
        return instance

    def limiter(self, key: str) -> RateLimiter | None:
        """The rate limiter configured for *key* (``model:<name>``/``tool:<name>``), or ``None``."""
        policy = self.settings.rate_limits.get(key)
        if policy is None:
            return None
        limiter = self._limiters.get(key)
        if limiter is None:
            from agent_sdk.reliability.ratelimit import create_rate_limiter

            limiter = self._limiters[key] = create_rate_limiter(policy, key=key)
        return limiter

    async def guarded(self, key: str, fn: Callable[[], Awaitable[T]], *, retry: bool) -> T:
        """Run *fn* under *key*'s rate limiter, circuit breaker and (if *retry*) retries."""
        limiter = self.limiter(key)
        breaker = self.breakers.get(key)

        async def attempt() -> T:
            if limiter is not None:
                await limiter.acquire()
            return await breaker.call(fn)

        if not retry:
            return await attempt()
        # fast path: the first attempt is a plain await (stamina costs ~50 us per call even
        # when nothing fails); only a retryable failure enters the backoff machinery
        try:
            return await attempt()
        except Exception as exc:
            policy = self.settings.model_retry
            if policy.attempts <= 1 or not self.retrier.retry_if(exc):
                raise
            from agent_sdk.reliability.retry import retry_after_of

            wait = retry_after_of(exc)
            too_long = (
                policy.retry_after_max_s is not None and (wait or 0) > policy.retry_after_max_s
            )
            if too_long:
                raise
            await asyncio.sleep(wait if wait is not None else policy.backoff_s(1))
            return await self._retry_rest.call(attempt)

    async def aclose(self) -> None:
        """Close model providers and rate limiters (errors are logged, not raised)."""
        from agent_sdk.logging import get_logger

        log = get_logger(__name__)
        for name, model in list(self._models.items()):
            try:
                await model.aclose()
            except Exception as exc:  # noqa: BLE001 - isolate a plugin/tool failure
                log.warning("model_close_failed", model=name, error=str(exc))
        for key, limiter in list(self._limiters.items()):
            try:
                await limiter.aclose()
            except Exception as exc:  # noqa: BLE001 - isolate a plugin/tool failure
                log.warning("rate_limiter_close_failed", key=key, error=str(exc))
        self._models.clear()
        self._limiters.clear()


class TaskContext:
    """What an agent (or a tool task) uses to call models and tools, durably.

    Args:
        services: the engine's shared services.
        journal: the run's journal.
        events: the run's event log.
        run_id: the run.
        task_id: the task.
        attempt: the task attempt (part of every journal key).
        agent: the ``[agents.<name>]`` settings (model, tools, limits), or ``None`` for a tool task.
        workspace: directory handed to tools as :attr:`ToolContext.workspace`.
        mounts: the run's read-only sandbox mounts (mount point → host path), handed to tools
            as ``services["mounts"]`` for code they run in the sandbox.
    """

    def __init__(
        self,
        services: Services,
        journal: Journal,
        events: EventLog,
        *,
        run_id: str,
        task_id: str,
        attempt: int,
        agent: AgentSection | None = None,
        workspace: Path | None = None,
        mounts: Mapping[str, Path] | None = None,
    ) -> None:
        self.services = services
        self.journal = journal
        self.events = events
        self.run_id = run_id
        self.task_id = task_id
        self.attempt = attempt
        self.agent = agent
        self.workspace = workspace
        self.mounts = dict(mounts or {})
        self.usage = Usage()
        self.model_calls = 0
        self.tool_calls = 0
        self._seen_call_ids: set[str] = set()
        self._hook = services.app.pm.hook
        self._tool_semaphore = asyncio.Semaphore(services.settings.max_parallel_tool_calls)

    # --- tools -----------------------------------------------------------------------------

    def allowed_tools(self) -> list[str]:
        """Tool names this agent may call (``tools`` of its section; all registered if unset)."""
        if self.agent is not None and self.agent.tools is not None:
            return list(self.agent.tools)
        return self.services.app.registry.names("tool")

    def tool_specs(self, names: list[str] | None = None) -> list[ToolSpec]:
        """Specs of the allowed tools (or of *names*, which must be allowed)."""
        allowed = self.allowed_tools()
        chosen = allowed if names is None else [n for n in names if n in allowed]
        registry = self.services.app.registry
        specs = []
        for name in chosen:
            cls = registry.get("tool", name)
            assert issubclass(cls, Tool)
            specs.append(cls.spec())
        return specs

    async def call_tools(self, calls: list[ToolCall]) -> list[ToolResult]:
        """Run *calls* concurrently (bounded by ``max_parallel_tool_calls``); results in order.

        Raises:
            BudgetExceededError: the agent's ``max_tool_calls`` would be exceeded.
            StorageError: the journal could not be written (the run stops).
        """
        limit = self.agent.max_tool_calls if self.agent is not None else None
        if limit is not None and self.tool_calls + len(calls) > limit:
            raise BudgetExceededError(
                f"task {self.task_id!r} would exceed max_tool_calls = {limit} "
                f"({self.tool_calls} made, {len(calls)} requested)",
                hint=f"raise max_tool_calls in [agents.{self.agent.name if self.agent else ''}]",
            )
        self.tool_calls += len(calls)
        unique = []
        for index, call in enumerate(calls):
            call_id = call.id or f"call_{self.model_calls}_{index}"
            if call_id in self._seen_call_ids:  # some models reuse ids; keys must stay unique
                call_id = f"{call_id}~{self.model_calls}_{index}"
            self._seen_call_ids.add(call_id)
            unique.append(call if call_id == call.id else call.model_copy(update={"id": call_id}))
        if len(unique) == 1:
            return [
                await self._one_tool(
                    unique[0], step_key(self.task_id, self.attempt, "tool", unique[0].id)
                )
            ]
        return list(
            await asyncio.gather(
                *(
                    self._one_tool(c, step_key(self.task_id, self.attempt, "tool", c.id))
                    for c in unique
                )
            )
        )

    async def run_tool_task(self, tool: str, args: Mapping[str, Any]) -> ToolResult:
        """Run the single tool call of a deterministic tool task, durably."""
        call = ToolCall(id="task", name=tool, arguments=dict(args))
        return await self._one_tool(call, step_key(self.task_id, self.attempt, "task_tool"))

    async def _one_tool(self, call: ToolCall, key: str) -> ToolResult:
        recorded = self.journal.get(key)
        if recorded is not None:
            result = ToolResult.model_validate(recorded.data)
            self._hook.agent_sdk_after_tool_call(
                call=ToolCallInfo(self.run_id, self.task_id, call, replayed=True), result=result
            )
            return result
        info = ToolCallInfo(self.run_id, self.task_id, call)
        outcome: ToolResult | None = None
        try:
            async with self._tool_semaphore:
                # No separate "intent" step: if the process dies while the tool runs, the
                # replayed model response asks for the same call again and it re-executes
                # under the same deterministic idempotency key, which is all an intent record
                # would tell us.
                outcome = await self._execute_tool(call, info, key)
            await self.journal.record(
                self.task_id, key, "tool_result", outcome.model_dump(mode="json")
            )
            await self.events.emit(
                "tool_call_finished",
                self.task_id,
                tool=call.name,
                call_id=call.id,
                ok=outcome.ok,
                error=(outcome.error or {}).get("message"),
            )
            return outcome
        except BaseException as exc:  # cancelled, timed out, journal failed: say so, re-raise
            if outcome is None or isinstance(exc, asyncio.CancelledError):
                error = (
                    exc.to_dict()
                    if isinstance(exc, AgentSDKError)
                    else {
                        "type": type(exc).__name__,
                        "message": "tool call interrupted",
                        "hint": None,
                        "transient": True,
                    }
                )
                outcome = ToolResult(call_id=call.id, name=call.name, ok=False, error=error)
            raise
        finally:
            assert outcome is not None
            self._hook.agent_sdk_after_tool_call(call=info, result=outcome)

    async def _execute_tool(self, call: ToolCall, info: ToolCallInfo, key: str) -> ToolResult:
        allowed = self.allowed_tools() if self.agent is not None else None
        if allowed is not None and call.name not in allowed:
            err = ToolError(
                f"tool {call.name!r} is not available to this agent",
                hint=f"available tools: {', '.join(allowed) or 'none'}",
            )
            return ToolResult(call_id=call.id, name=call.name, ok=False, error=err.to_dict())
        try:
            self._hook.agent_sdk_before_tool_call(call=info)
            tool = self.services.tool(call.name)
        except AgentSDKError as exc:
            return ToolResult(call_id=call.id, name=call.name, ok=False, error=exc.to_dict())
        ctx = ToolContext(
            run_id=self.run_id,
            task_id=self.task_id,
            call_id=call.id,
            workspace=self.workspace,
            services={
                "app": self.services.app,
                "runtime": self.services,
                "idempotency_key": key,
                "mounts": self.mounts,
            },
        )
        breaker_key = f"tool:{call.name}"
        cache_key_: str | None = None
        if not tool.side_effects and self.services.tool_cache.enabled:
            from agent_sdk.reliability.cache import cache_key

            cache_key_ = cache_key(f"tool:{call.name}", call.arguments)
            cached = self.services.tool_cache.get(cache_key_)
            if cached is not None:
                return ToolResult.model_validate({**cached, "call_id": call.id})

        async def invoke() -> ToolResult:
            result = await tool.invoke(call, ctx)
            if not result.ok and (result.error or {}).get("transient"):
                # let the breaker count transient failures of the dependency behind the tool
                raise _TransientToolFailure(result)
            return result

        try:
            result = await self.services.guarded(breaker_key, invoke, retry=False)
            if cache_key_ is not None and result.ok:  # failures are never cached
                self.services.tool_cache.set(cache_key_, result.model_dump(mode="json"))
            return result
        except _TransientToolFailure as failure:
            return failure.result
        except AgentSDKError as exc:  # breaker open, rate limit timeout
            return ToolResult(call_id=call.id, name=call.name, ok=False, error=exc.to_dict())

    # --- models ----------------------------------------------------------------------------

    async def call_model(self, request: ModelRequest, *, model: str | None = None) -> ModelResponse:
        """One durable model call (replayed from the journal when recorded).

        Raises:
            BudgetExceededError: ``max_turns`` or ``token_budget`` of the agent exceeded.
            ModelProviderError: the provider failed after retries.
            StorageError: the journal could not be written.
        """
        agent = self.agent
        model_name = model or (agent.model if agent is not None else None) or "default"
        index = self.model_calls
        if agent is not None and agent.max_turns is not None and index >= agent.max_turns:
            raise BudgetExceededError(
                f"task {self.task_id!r}: agent {agent.name!r} reached "
                f"max_turns = {agent.max_turns} "
                "without a final answer",
                hint=f"raise max_turns in [agents.{agent.name}] or simplify the task",
            )
        self.model_calls += 1
        key = step_key(self.task_id, self.attempt, "model", index)
        recorded = self.journal.get(key)
        if recorded is not None:
            response = ModelResponse.model_validate(recorded.data)
        else:
            provider_name = self.services.provider_name(model_name)
            info = ModelCallInfo(
                self.run_id, self.task_id, model_name, provider_name, request, index
            )
            try:
                self._hook.agent_sdk_before_model_call(call=info)
                provider = self.services.model(model_name)

                async def complete() -> ModelResponse:
                    return await self.services.guarded(
                        f"model:{model_name}", lambda: provider.complete(request), retry=True
                    )

                if self.services.model_cache.enabled:
                    from agent_sdk.reliability.cache import cache_key

                    key_ = cache_key(f"model:{model_name}", request.model_dump(mode="json"))

                    async def complete_as_json() -> dict[str, Any]:
                        return (await complete()).model_dump(mode="json")

                    response = ModelResponse.model_validate(
                        await self.services.model_cache.get_or_call(key_, complete_as_json)
                    )
                else:
                    response = await complete()
            except BaseException as exc:
                self._hook.agent_sdk_after_model_call(call=info, response=None, error=exc)
                raise
            await self.journal.record(
                self.task_id, key, "model_response", response.model_dump(mode="json")
            )
            await self.events.emit(
                "model_call_finished",
                self.task_id,
                model=model_name,
                index=index,
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
                tool_calls=len(response.message.tool_calls),
            )
            self._hook.agent_sdk_after_model_call(call=info, response=response, error=None)
        self.usage = self.usage + response.usage
        budget = agent.token_budget if agent is not None else None
        if budget is not None and self.usage.total_tokens > budget:
            raise BudgetExceededError(
                f"task {self.task_id!r}: token budget {budget} exceeded "
                f"({self.usage.total_tokens} tokens used)",
                hint=f"raise token_budget in [agents.{agent.name if agent else ''}]",
            )
        return response


class _TransientToolFailure(AgentSDKError):
    """Carries a transient tool failure through the breaker so it is counted (internal)."""

    transient = True

    def __init__(self, result: ToolResult) -> None:
        super().__init__(str((result.error or {}).get("message", "tool failed")))
        self.result = result
