"""``research-agent``: search the web, read the top results, summarise them with sources.

The steps, each through the agent's context (journaled, replayed on resume):

1. one call of the search tool (``web_search``) with the task's question;
2. one call of the fetch tool (``http_fetch``) per result, for the first ``max_sources``
   results, run concurrently;
3. the model writes the summary from the pages read (or, when no page could be read, from the
   search snippets), citing them as ``[n]``; with ``follow_up = true`` it may call the search
   and fetch tools again first, and pages it fetches become sources too.

When the search fails (offline, service down, tool missing from the run) or finds nothing, the
agent ends cleanly with a summary that says so and no sources; it never crashes on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
from pydantic import Field

from agent_sdk.kinds.agent import Agent, AgentContext, AgentResult
from agent_sdk.messages import Message, ToolCall, ToolResult, ToolSpec
from agent_sdk.runtime.loop import run_tool_loop
from agent_sdk_agents._common import AgentOptions, clip, query_of

__all__ = ["DEFAULT_SYSTEM_PROMPT", "ResearchAgent", "SearchHit", "search_hits"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a research assistant. Answer the question using the numbered sources you are "
    "given, citing them in square brackets like [1] or [2][3]. Do not invent facts or sources; "
    "if the sources do not answer the question, say so. Be concise and neutral."
)

_URL_RE = re.compile(r"https?://[^\s<>\"')\]]+")
_LIST_KEYS = ("results", "items", "hits", "organic", "organic_results", "data", "web")
_URL_KEYS = ("url", "link", "href")
_SNIPPET_KEYS = ("snippet", "description", "summary", "content", "body", "text")
_TEXT_KEYS = ("text", "content", "body", "markdown", "html")


@attrs.frozen
class SearchHit:
    """One search result: its URL, title and snippet (either may be empty)."""

    url: str
    title: str = ""
    snippet: str = ""


def _is_http(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def search_hits(data: Any) -> list[SearchHit]:
    """The results in a search tool's output, in order, one per URL.

    Accepts a list of results, or a mapping holding one under ``results``/``items``/``hits``...;
    a result is a mapping with ``url``/``link``/``href`` (plus ``title``, ``snippet``...) or a
    URL string. Text is scanned for URLs. Only ``http(s)`` URLs are kept.
    """
    items: Any = data
    if isinstance(data, Mapping):
        items = next(
            (data[k] for k in _LIST_KEYS if isinstance(data.get(k), list)),
            [data],
        )
    if isinstance(items, str):
        items = _URL_RE.findall(items)
    hits: list[SearchHit] = []
    seen: set[str] = set()
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            url = next((item[k] for k in _URL_KEYS if _is_http(item.get(k))), None)
            title = str(item.get("title") or item.get("name") or "")
            snippet = next((str(item[k]) for k in _SNIPPET_KEYS if item.get(k)), "")
        elif _is_http(item):
            url, title, snippet = item, "", ""
        else:
            continue
        if url is None or url in seen:
            continue
        seen.add(url)
        hits.append(SearchHit(url, title.strip(), snippet.strip()))
    return hits


def _page_text(result: ToolResult) -> tuple[str | None, str]:
    """``(text, problem)`` of a fetch result: the page text, or ``None`` and why not."""
    if not result.ok:
        error = result.error or {}
        return None, str(error.get("message") or error.get("type") or "fetch failed")
    data = result.data
    if isinstance(data, Mapping):
        status = data.get("status", data.get("status_code"))
        if isinstance(status, int) and status >= 400:
            return None, f"HTTP {status}"
        text = next((data[k] for k in _TEXT_KEYS if isinstance(data.get(k), str)), None)
        if text is None:
            text = json.dumps(data, default=str, ensure_ascii=False)
    elif isinstance(data, str):
        text = data
    else:
        text = json.dumps(data, default=str, ensure_ascii=False)
    if not text.strip():
        return None, "empty page"
    return text, ""


class ResearchAgent(Agent):
    """Searches, reads the top results and summarises them with their sources.

    Output: ``{"summary": str, "sources": [url, ...]}``; ``sources`` are the pages the summary
    was written from, in citation order.
    """

    name: ClassVar[str] = "research-agent"
    description: ClassVar[str] = (
        "Searches the web, reads the top results and summarises them with sources."
    )

    class Config(AgentOptions):
        """``research-agent`` settings (plus the shared ``system_prompt``, ``temperature``...)."""

        search_tool: str = Field("web_search", description="Tool that searches the web.")
        fetch_tool: str = Field("http_fetch", description="Tool that fetches a page by URL.")
        query_argument: str = Field(
            "query", description="Argument of search_tool that holds the question."
        )
        url_argument: str = Field("url", description="Argument of fetch_tool that holds the URL.")
        search_arguments: dict[str, Any] = Field(
            default_factory=dict,
            description="Extra arguments of every search call, e.g. { max_results = 5 }.",
        )
        max_sources: int = Field(
            3, ge=0, le=20, description="Search results fetched and read (0: snippets only)."
        )
        source_chars: int = Field(
            4000,
            ge=200,
            le=200_000,
            description="Characters of each page (its start) given to the model.",
        )
        follow_up: bool = Field(
            False,
            description="Let the model call the search and fetch tools again before it "
            "answers (bounded by the agent's max_turns and max_tool_calls).",
        )

    async def run(self, task_input: Any, ctx: AgentContext) -> AgentResult:
        config: ResearchAgent.Config = self.config
        query = query_of(task_input)
        messages: list[Message] = []
        calls_made = 0

        def done(summary: str, sources: list[str]) -> AgentResult:
            return AgentResult(
                output={"summary": summary, "sources": sources},
                messages=messages,
                tool_calls=calls_made,
            )

        search = ToolCall(
            id="research-search",
            name=config.search_tool,
            arguments={**config.search_arguments, config.query_argument: query},
        )
        (found,) = await ctx.call_tools([search])
        calls_made += 1
        if not found.ok:
            error = found.error or {}
            reason = str(error.get("message") or error.get("type") or "unknown error")
            return done(
                f"No research could be done for {query!r}: the web search failed "
                f"({reason}). No sources were consulted, so there is nothing to summarise; "
                "try again when the search service is reachable.",
                [],
            )
        hits = search_hits(found.data)
        if not hits:
            return done(
                f"The web search for {query!r} returned no results, so there is nothing to "
                "summarise and no sources.",
                [],
            )

        pages: list[tuple[SearchHit, str]] = []
        unreadable: list[tuple[str, str]] = []
        chosen = hits[: config.max_sources]
        if chosen and ctx.tool_specs([config.fetch_tool]):
            fetches = [
                ToolCall(
                    id=f"research-fetch-{i}",
                    name=config.fetch_tool,
                    arguments={config.url_argument: hit.url},
                )
                for i, hit in enumerate(chosen, start=1)
            ]
            results = await ctx.call_tools(fetches)
            calls_made += len(fetches)
            for hit, result in zip(chosen, results, strict=True):
                text, problem = _page_text(result)
                if text is None:
                    unreadable.append((hit.url, problem))
                else:
                    pages.append((hit, clip(text.strip(), config.source_chars, keep="start")))

        if pages:
            material = [(hit.url, hit.title, text) for hit, text in pages]
            basis = "the pages below"
        else:
            with_snippets = [h for h in hits if h.snippet][: max(config.max_sources, 1)]
            if not with_snippets:
                listed = "; ".join(f"{url} ({why})" for url, why in unreadable) or "none"
                return done(
                    f"The web search for {query!r} found {len(hits)} result(s), but none "
                    f"could be read (unreadable: {listed}), so there is nothing to summarise.",
                    [],
                )
            material = [(h.url, h.title, h.snippet) for h in with_snippets]
            basis = "the search result snippets below (the pages themselves could not be read)"

        sources = [url for url, _, _ in material]
        blocks = []
        for number, (url, title, text) in enumerate(material, start=1):
            heading = f"[{number}] {url}" + (f"\nTitle: {title}" if title else "")
            blocks.append(f"{heading}\n{text}")
        prompt = (
            f"Question: {query}\n\nAnswer it from {basis}, citing them as [n].\n\n"
            + "\n\n".join(blocks)
        )
        if unreadable:
            prompt += "\n\nPages that could not be read: " + "; ".join(
                f"{url} ({why})" for url, why in unreadable
            )
        messages += [
            Message.system(config.system_prompt or DEFAULT_SYSTEM_PROMPT),
            Message.user(prompt),
        ]
        tools: list[ToolSpec] = []
        if config.follow_up:
            tools = ctx.tool_specs([config.search_tool, config.fetch_tool])
        answer = await run_tool_loop(
            ctx,
            messages,
            tools=tools,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
        )
        sources += [u for u in self._followed_urls(answer.messages) if u not in sources]
        return AgentResult(
            output={"summary": str(answer.output or "").strip(), "sources": sources},
            messages=answer.messages,
            usage=answer.usage,
            turns=answer.turns,
            tool_calls=calls_made + answer.tool_calls,
        )

    def _followed_urls(self, conversation: list[Message]) -> list[str]:
        """URLs of pages the model fetched itself (``follow_up``) and that could be read."""
        config: ResearchAgent.Config = self.config
        requested: dict[str, str] = {}
        urls: list[str] = []
        for message in conversation:
            for call in message.tool_calls:
                url = call.arguments.get(config.url_argument)
                if call.name == config.fetch_tool and _is_http(url):
                    requested[call.id] = str(url)
            result = message.tool_result
            if result is not None and result.call_id in requested:
                text, _ = _page_text(result)
                if text is not None and requested[result.call_id] not in urls:
                    urls.append(requested[result.call_id])
        return urls
