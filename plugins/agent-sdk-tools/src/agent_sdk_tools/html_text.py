"""HTML to readable plain text with the standard library's :mod:`html.parser`.

Why not a library: ``html2text`` is GPL-3.0 (this plugin is Apache-2.0); ``trafilatura`` pulls
in lxml and a dozen packages for article extraction a tool call does not need; with
``beautifulsoup4`` we would still write this same walk over the tree. :class:`html.parser.
HTMLParser` is tolerant of broken markup, streams, decodes entities, and costs nothing to
install. What a model needs from a page is its text with the structure that carries meaning:

* ``<script>``, ``<style>``, ``<noscript>``, ``<template>``, ``<svg>``... are dropped;
* block elements (``p``, ``div``, ``li``, ``h1``-``h6``, ``tr``...) start new lines,
  headings become ``# Title``, list items ``- item``, table cells are separated by `` | ``;
* whitespace is collapsed outside ``<pre>``, which keeps its lines;
* the ``<title>`` is returned apart.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_SKIP = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas"}
)
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "header", "hgroup", "hr", "html", "legend", "li", "main", "nav", "ol", "p", "pre",
        "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
        "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.title: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.in_title = False
        self.row_cells = 0

    # --- output ----------------------------------------------------------------------------

    def _break(self, blank: bool = False) -> None:
        line = "".join(self.current)
        if self.pre_depth == 0:
            line = line.strip()
        self.current = []
        if line:
            self.lines.append(line)
        if blank and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def _emit(self, text: str) -> None:
        if self.pre_depth:
            parts = text.split("\n")
            self.current.append(parts[0])
            for part in parts[1:]:
                self.lines.append("".join(self.current))
                self.current = [part]
            return
        text = _SPACES.sub(" ", text)
        if not text or (text == " " and (not self.current or self.current[-1].endswith(" "))):
            return
        if self.current and self.current[-1].endswith(" ") and text.startswith(" "):
            text = text[1:]
        self.current.append(text)

    # --- parser callbacks ------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag == "title":
            self.in_title = True
        elif tag == "br":
            self._break()
        elif tag == "pre":
            self._break(blank=True)
            self.pre_depth += 1
        elif tag in _BLOCK:
            self._break(blank=tag in _PARAGRAPH)
            if tag[0] == "h" and tag[1:].isdigit():
                self.current.append("#" * int(tag[1]) + " ")
            elif tag == "li":
                self.current.append("- ")
            elif tag == "tr":
                self.row_cells = 0
        elif tag in {"td", "th"}:
            # cells of one row stay on one line, separated by " | "
            if self.row_cells:
                self.current.append(" | ")
            self.row_cells += 1
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._emit(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.skip_depth:
            return
        if tag == "title":
            self.in_title = False
        elif tag == "pre":
            self._break()
            self.pre_depth = max(0, self.pre_depth - 1)
            self._break(blank=True)
        elif tag in _BLOCK:
            self._break(blank=tag in _PARAGRAPH)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.in_title:
            self.title.append(data)
            return
        self._emit(data)


def html_to_text(html: str) -> tuple[str, str]:
    """Convert an HTML document (or fragment) to plain text.

    Args:
        html: the markup; broken markup is tolerated.

    Returns:
        ``(title, text)``: the ``<title>`` (whitespace collapsed, ``""`` if none) and the
        visible text, one block per line, paragraphs separated by a blank line.
    """
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    parser._break()
    text = "\n".join(parser.lines).strip("\n")
    title = _SPACES.sub(" ", "".join(parser.title)).strip()
    return title, _BLANK_LINES.sub("\n\n", text)
