"""An allow-list HTML cleaner for message bodies handed to partners to insert into their pages.

Message templates are reviewed and rendered with autoescaping, but a partner inserts our HTML
into its own page, so the answer carries only a small set of formatting tags, links only to
http(s) addresses, and no attributes besides href. Everything else is escaped or dropped.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

ALLOWED_TAGS = frozenset({"p", "br", "strong", "b", "em", "i", "ul", "ol", "li", "h2", "h3",
                          "h4", "a", "span", "blockquote"})
VOID_TAGS = frozenset({"br"})
DROP_CONTENT = frozenset({"script", "style", "iframe", "object", "template", "noscript"})
SAFE_SCHEMES = ("https://", "http://", "/")


class _Cleaner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_CONTENT:
            self.dropping += 1
            return
        if self.dropping or tag not in ALLOWED_TAGS:
            return
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if not href.strip().lower().startswith(SAFE_SCHEMES) or href.startswith("//"):
                href = ""
            rel = ' rel="noopener noreferrer"'
            self.out.append(f'<a href="{escape(href, quote=True)}"{rel}>' if href else "<a>")
        else:
            self.out.append(f"<{tag}>")
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in self.open and tag not in VOID_TAGS and self.open[-1] == tag:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_CONTENT:
            self.dropping = max(0, self.dropping - 1)
            return
        if self.dropping or tag not in self.open:
            return
        while self.open:
            closing = self.open.pop()
            self.out.append(f"</{closing}>")
            if closing == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(escape(data, quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))


def clean_html(markup: str) -> str:
    cleaner = _Cleaner()
    cleaner.feed(markup)
    return cleaner.result()
