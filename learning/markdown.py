"""Lesson Markdown to safe HTML: markdown-it (raw HTML off) and then nh3 (Ammonia) as the
sanitiser, so even a parser bug or a future option cannot let a script or handler through."""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

MAX_MARKDOWN_CHARS = 50_000
ALLOWED_TAGS = {"p", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "a", "blockquote",
                "code", "pre", "hr", "br", "table", "thead", "tbody", "tr", "th", "td"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}, "td": set()}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


@functools.cache
def _parser() -> MarkdownIt:
    # "js-default": CommonMark with raw HTML disabled and tables; links are validated by it
    # (javascript:, vbscript:, data: are refused) before nh3 checks the schemes again.
    return MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})


def _shift_headings(html: str) -> str:
    # The page has its own <h1>: lesson headings start at <h2>.
    for level in (3, 2, 1):
        html = html.replace(f"<h{level}>", f"<h{level + 1}>").replace(
            f"</h{level}>", f"</h{level + 1}>")
    return html.replace("<h5>", "<h4>").replace("</h5>", "</h4>")


def markdown_html(text: str) -> str:
    """Sanitised HTML for a lesson body (safe to mark safe in a template)."""
    html = _shift_headings(_parser().render(text[:MAX_MARKDOWN_CHARS]))
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow")


def markdown_escape(text: str) -> str:
    """Quote directory text inside generated Markdown so it renders literally."""
    specials = "\\`*_{}[]()#+-.!|<>"
    return "".join(f"\\{c}" if c in specials else c for c in text.strip())
