"""``research-agent`` end to end: engine + MemoryStorage + scripted model + fake search/fetch."""

from __future__ import annotations

from typing import Any

import pytest
from agent_sdk_agents.research_agent import SearchHit, search_hits

from agent_sdk.runtime.engine import Engine
from agent_sdk.testing.memory import MemoryStorage

AGENT = '[agents.researcher]\ntype = "research-agent"\ntools = ["web_search", "http_fetch"]\n'


def model(*responses: str) -> str:
    lines = "\n".join(f"  {r}," for r in responses)
    return f'[models.default]\nprovider = "scripted"\nresponses = [\n{lines}\n]\n'


async def test_sources_are_the_fetched_pages_and_the_summary_is_the_model_answer(
    app_factory: Any, wf: Any, world: Any
) -> None:
    app = app_factory(
        model(
            '{ content = "The answer is 42 [1][2].", expect = { last_role = "user", '
            'last_message_contains = "Alpha page: the answer is 42." } }'
        )
        + AGENT
        + wf("researcher", "what is the answer")
    )
    async with Engine(app, MemoryStorage()) as engine:
        result = await engine.run("w")
        (request,) = engine.services.model("default").calls  # type: ignore[attr-defined]
    assert result.status == "succeeded", result.error
    assert result.outputs["t"] == {
        "summary": "The answer is 42 [1][2].",
        "sources": ["https://a.example/alpha", "https://c.example/gamma"],
    }
    assert world.searches == [{"query": "what is the answer", "max_results": 5}]
    # the top three results were fetched; beta's 404 is reported, not cited
    assert world.fetched == [
        "https://a.example/alpha",
        "https://b.example/beta",
        "https://c.example/gamma",
    ]
    prompt = request.messages[-1].content
    assert "[1] https://a.example/alpha" in prompt
    assert "[2] https://c.example/gamma" in prompt
    assert "https://b.example/beta (GET https://b.example/beta: HTTP 404 Not Found)" in prompt
    assert request.tools == (), "without follow_up the model gets no tools"


async def test_offline_search_ends_cleanly_with_a_summary_saying_so(
    app_factory: Any, run: Any, wf: Any, world: Any
) -> None:
    world.offline = True
    app = app_factory(model() + AGENT + wf("researcher", "latest news"))
    result = await run(app)
    assert result.status == "succeeded", result.error
    output = result.outputs["t"]
    assert output["sources"] == []
    assert "web search failed" in output["summary"]
    assert "Temporary failure in name resolution" in output["summary"]
    assert world.fetched == []


async def test_unreadable_pages_fall_back_to_the_search_snippets(
    app_factory: Any, run: Any, wf: Any, world: Any
) -> None:
    world.pages = {}
    app = app_factory(
        model(
            '{ content = "From snippets [1].", expect = { last_message_contains = "alpha snippet" } }'
        )
        + AGENT
        + "max_sources = 1\n"
        + wf("researcher", "q")
    )
    result = await run(app)
    assert result.outputs["t"] == {
        "summary": "From snippets [1].",
        "sources": ["https://a.example/alpha"],
    }
    assert world.fetched == ["https://a.example/alpha"]


async def test_no_search_results_means_no_model_call_and_an_honest_summary(
    app_factory: Any, run: Any, world: Any
) -> None:
    world.results = []
    app = app_factory(
        model()
        + AGENT
        + """
[workflows.w]
[[workflows.w.tasks]]
id = "t"
agent = "researcher"
input = { question = "Who wrote TOML?", depth = 2 }
"""
    )
    result = await run(app)
    assert world.searches == [{"query": "Who wrote TOML?", "max_results": 5}]
    assert result.outputs["t"]["sources"] == []
    assert "returned no results" in result.outputs["t"]["summary"]


async def test_follow_up_lets_the_model_fetch_more_and_those_pages_become_sources(
    app_factory: Any, run: Any, wf: Any, world: Any
) -> None:
    world.pages["https://d.example/delta"] = "Delta page."
    app = app_factory(
        model(
            '{ tool_calls = [ { name = "http_fetch", arguments = { url = "https://d.example/delta" } } ], '
            'expect = { tools_offered = ["web_search", "http_fetch"] } }',
            '{ content = "Summary [1][2][3]." }',
        )
        + AGENT
        + "follow_up = true\nmax_sources = 2\nsearch_arguments = { max_results = 2 }\n"
        + wf("researcher", "q")
    )
    result = await run(app)
    assert result.status == "succeeded", result.error
    assert result.outputs["t"]["sources"] == ["https://a.example/alpha", "https://d.example/delta"]
    assert world.searches == [{"query": "q", "max_results": 2}]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            [{"url": "https://x.example", "title": "X", "snippet": "s"}],
            [SearchHit("https://x.example", "X", "s")],
        ),
        (
            {"items": [{"link": "https://y.example", "description": "d"}, "https://z.example"]},
            [SearchHit("https://y.example", "", "d"), SearchHit("https://z.example")],
        ),
        ("see https://w.example/a and https://w.example/a", [SearchHit("https://w.example/a")]),
        ([{"url": "ftp://nope"}, {"title": "no url"}, 3], []),
        (None, []),
    ],
)
def test_search_hits_accepts_the_common_result_shapes(data: Any, expected: list[SearchHit]) -> None:
    assert search_hits(data) == expected
