"""Message templates rendered in a sandbox with a fixed context.

The sandbox is a dedicated Django template `Engine` with no loaders and no default builtins:
only the tags and filters in campaigns/sandbox_library.py exist (for, if, with, comment and a
few text filters; no `safe`, no `load`, no `include`). Autoescaping is on for the HTML part.

Unknown variables are refused twice: `message_validate` walks the parsed template and checks
every variable against the fixed context schema (the services call it before saving), and at
render time a missing variable renders as a sentinel that makes `render_message` raise.

The fixed context (what a programme manager may write between `{{ }}`):
    help_resources    list of {name, phone, url (signed help link), open_now (None: hours
                      unknown), kind}, open ones first (directory.selectors.help_resources_for)
    legal_notice      {jurisdiction, statutes: list of {name, section, summary, max_penalty}}
    help_link         signed link to the first help resource
    opt_out_link      signed opt-out link (empty for anonymous on-platform messages)
    referral_code, organisation_name, language, country
"""

from __future__ import annotations

import functools
import html as html_lib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.template import Context, Engine, Node, TemplateSyntaxError
from django.template.base import FilterExpression, TextNode, Variable, VariableNode
from django.template.defaultfilters import linebreaks_filter
from django.template.defaulttags import CommentNode, ForNode, IfNode, TemplateLiteral, WithNode

from campaigns.models import Campaign, Message
from directory.selectors import help_resources_for, legal_notice_for

MAX_TEMPLATE_CHARS = 20_000
INVALID = "\u2983invalid\u2984"  # rendered for a missing variable; render_message refuses it

# Leaf = None, object = dict of fields, list = [item schema].
RESOURCE_SCHEMA: dict = {"name": None, "phone": None, "url": None, "open_now": None,
                         "kind": None}
STATUTE_SCHEMA: dict = {"name": None, "section": None, "summary": None, "max_penalty": None}
CONTEXT_SCHEMA: dict = {
    "help_resources": [RESOURCE_SCHEMA],
    "legal_notice": {"jurisdiction": None, "statutes": [STATUTE_SCHEMA]},
    "help_link": None,
    "opt_out_link": None,
    "referral_code": None,
    "organisation_name": None,
    "language": None,
    "country": None,
}
FORLOOP_SCHEMA: dict = {"counter": None, "counter0": None, "revcounter": None,
                        "revcounter0": None, "first": None, "last": None, "parentloop": None}


class SandboxEngine(Engine):
    default_builtins: list[str] = []  # nothing from Django's default tags unless listed


ENGINE = SandboxEngine(
    dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=True,
    builtins=["campaigns.sandbox_library"], string_if_invalid=INVALID, debug=False,
)


class RenderError(ValueError):
    """The template cannot be rendered (syntax, unknown variable, forbidden tag)."""


@dataclass
class RenderContext:
    help_resources: list[dict] = field(default_factory=list)
    legal_notice: dict | None = None
    help_link: str = ""
    opt_out_link: str = ""
    referral_code: str = ""
    organisation_name: str = ""
    language: str = ""
    country: str = ""

    def as_dict(self) -> dict:
        data = asdict(self)
        data["legal_notice"] = self.legal_notice or {"jurisdiction": "", "statutes": []}
        return data


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str
    sms_segments: int
    sms_length: int
    sms_encoding: str = "GSM-7"


# --- validation ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=512)
def compile_template(source: str):  # type: ignore[no-untyped-def]
    """Compiled templates are immutable and safe to share: compile each source once."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise RenderError(f"template is longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        return ENGINE.from_string(source)
    except TemplateSyntaxError as error:
        raise RenderError(_syntax_message(error)) from error


def _syntax_message(error: TemplateSyntaxError) -> str:
    text = str(error)
    match = re.search(r"Invalid (?:block tag|filter)[^:]*: '([^']+)'", text)
    if match:
        return f"'{match.group(1)}' is not allowed in a message template"
    return f"template syntax error: {text}"


def template_problems(source: str) -> list[str]:
    """Problems in one template source: syntax, forbidden tags, unknown variables."""
    try:
        template = compile_template(source)
    except RenderError as error:
        return [str(error)]
    problems: list[str] = []
    _check_nodes(template.nodelist, dict(CONTEXT_SCHEMA), problems)
    return sorted(set(problems))


def message_validate(message: Message) -> list[str]:
    """Problems that stop `message` from rendering, each naming the part and the cause."""
    problems = [f"body: {problem}" for problem in template_problems(message.body)]
    if message.subject:
        problems += [f"subject: {problem}" for problem in template_problems(message.subject)]
    return problems


def _check_nodes(nodes: Iterable[Node], scope: dict, problems: list[str]) -> None:
    for node in nodes:
        _check_node(node, scope, problems)


def _check_node(node: Node, scope: dict, problems: list[str]) -> None:
    if isinstance(node, TextNode | CommentNode):
        return
    if isinstance(node, VariableNode):
        _check_expression(node.filter_expression, scope, problems)
    elif isinstance(node, ForNode):
        _check_for(node, scope, problems)
    elif isinstance(node, IfNode):
        for condition, nodelist in node.conditions_nodelists:
            if condition is not None:
                _check_condition(condition, scope, problems)
            _check_nodes(nodelist, scope, problems)
    elif isinstance(node, WithNode):
        inner = dict(scope)
        for name, expression in node.extra_context.items():
            inner[name] = _check_expression(expression, scope, problems)
        _check_nodes(node.nodelist, inner, problems)
    else:  # only the sandbox's tags can parse, so this is a programming error
        problems.append(f"'{type(node).__name__}' is not allowed in a message template")


def _check_for(node: ForNode, scope: dict, problems: list[str]) -> None:
    sequence = _check_expression(node.sequence, scope, problems)
    item = sequence[0] if isinstance(sequence, list) and sequence else None
    inner = dict(scope)
    inner["forloop"] = FORLOOP_SCHEMA
    for name in node.loopvars:
        inner[name] = item if len(node.loopvars) == 1 else None
    _check_nodes(node.nodelist_loop, inner, problems)
    _check_nodes(node.nodelist_empty, scope, problems)


def _check_condition(condition: Any, scope: dict, problems: list[str]) -> None:
    if isinstance(condition, TemplateLiteral):
        _check_expression(condition.value, scope, problems)
        return
    for part in (getattr(condition, "first", None), getattr(condition, "second", None)):
        if part is not None:
            _check_condition(part, scope, problems)


def _check_expression(expression: FilterExpression, scope: dict, problems: list[str]) -> Any:
    for _func, args in expression.filters:
        for is_lookup, arg in args:
            if is_lookup:
                _resolve(arg, scope, problems)
    if isinstance(expression.var, Variable):
        return _resolve(expression.var, scope, problems)
    return None


def _resolve(variable: Variable, scope: dict, problems: list[str]) -> Any:
    if variable.lookups is None:  # a literal
        return None
    schema: Any = scope
    for depth, part in enumerate(variable.lookups):
        if isinstance(schema, list) and part.isdigit():
            schema = schema[0] if schema else None
        elif isinstance(schema, dict) and part in schema:
            schema = schema[part]
        else:
            name = ".".join(variable.lookups[: depth + 1])
            problems.append(f"unknown variable '{name}'")
            return None
    return schema


# --- rendering -----------------------------------------------------------------------------

def _render(source: str, data: dict, *, autoescape: bool) -> str:
    template = compile_template(source)
    output = template.render(Context(data, autoescape=autoescape))
    if INVALID in output:
        raise RenderError(f"unknown variable in template ({'; '.join(template_problems(source))})")
    return output


_TAG = re.compile(r"<[a-zA-Z/!]")
_LINK = re.compile(r"<a\s[^>]*href=\"([^\"]*)\"[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<br\s*/?>|</p>|</li>|</h[1-6]>|</div>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]+>")


def html_to_text(markup: str) -> str:
    """A readable plain-text part: links become 'label (url)', blocks become lines."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", markup)
    text = _BREAKS.sub("\n", text)
    text = html_lib.unescape(_ANY_TAG.sub("", text))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _link_addresses(markup: str, context: RenderContext) -> str:
    """In a plain-text body's HTML, each help or opt-out address becomes a link named after
    what it leads to: a signed link is 150 characters that nobody should have to read."""
    labels = {html_lib.escape(item["url"]): html_lib.escape(item.get("name") or "Get help")
              for item in context.help_resources if item.get("url")}
    if context.opt_out_link:
        labels.setdefault(html_lib.escape(context.opt_out_link), "Unsubscribe")
    if not labels:
        return markup
    pattern = re.compile("|".join(re.escape(url) for url in sorted(labels, key=len, reverse=True)))
    return pattern.sub(lambda m: f'<a href="{m.group(0)}">{labels[m.group(0)]}</a>', markup)


def render_message(*, message: Message, context: RenderContext) -> RenderedMessage:
    """Render subject, HTML (escaped), plain text and the SMS length of one message."""
    data = context.as_dict()
    html = _render(message.body, data, autoescape=True)
    if _TAG.search(message.body):
        text = html_to_text(html)
    else:
        # A plain-text body: the text part is the author's text as written, and paragraphs
        # and line breaks become HTML (the variables in `html` are already escaped).
        text = _render(message.body, data, autoescape=False).strip()
        html = _link_addresses(linebreaks_filter(html, autoescape=False), context)
    subject = " ".join(_render(message.subject, data, autoescape=False).split()) \
        if message.subject else ""
    encoding, length, segments = sms_measure(text)
    return RenderedMessage(subject=subject, text=text, html=html, sms_segments=segments,
                           sms_length=length, sms_encoding=encoding)


# --- SMS -----------------------------------------------------------------------------------

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")


def sms_measure(text: str) -> tuple[str, int, int]:
    """(encoding, length in its units, segments): GSM-7 160/153, otherwise UCS-2 70/67."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        length = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return "GSM-7", length, _segments(length, single=160, multi=153)
    length = len(text.encode("utf-16-le")) // 2  # UTF-16 code units: an emoji counts 2
    return "UCS-2", length, _segments(length, single=70, multi=67)


def _segments(length: int, *, single: int, multi: int) -> int:
    if length == 0:
        return 0
    return 1 if length <= single else math.ceil(length / multi)


# --- building the context ------------------------------------------------------------------

def resource_as_context(resource: Any, *, link: str) -> dict:
    return {
        "name": getattr(resource, "name", ""),
        "phone": getattr(resource, "phone", "") or "",
        "url": link,
        "open_now": getattr(resource, "open_now", None),  # None: hours unknown
        "kind": getattr(resource, "kind", ""),
    }


def legal_notice_as_context(notice: Any) -> dict | None:
    if notice is None:
        return None
    statutes = getattr(notice, "statutes", None) or []
    if hasattr(statutes, "all"):  # the directory's related manager (prefetched)
        statutes = [statute.as_dict() for statute in statutes.all()]
    return {
        "jurisdiction": getattr(notice, "jurisdiction", ""),
        "statutes": [
            {"name": s.get("name", ""), "section": s.get("section", ""),
             "summary": s.get("offence_summary", s.get("summary", "")),
             "max_penalty": s.get("max_penalty", "")}
            for s in statutes if isinstance(s, dict)
        ],
    }


def build_render_context(*, campaign: Campaign, country: str, language: str,
                         stage: str | None, link_signer: Callable[[Any], str] | None,
                         opt_out_url: str | None, at: datetime | None = None,
                         jurisdiction: str | None = None) -> RenderContext:
    """The fixed context for one recipient: their country's help (open first) and law.

    `link_signer(resource)` returns the signed /go/ link for a resource (the interventions
    app owns the redirect); without one, the resource's own URL is used (previews only).
    `jurisdiction` (ISO 3166-2 such as GB-SCT) picks the legal notice when the country has
    several; by default the country code is used (the directory resolves it when unambiguous).
    """
    context = directory_context(organisation=campaign.organisation, country=country,
                                language=language, stage=stage, link_signer=link_signer, at=at,
                                jurisdiction=jurisdiction)
    context.opt_out_link = opt_out_url or ""
    context.referral_code = campaign.referral_code
    return context


def directory_context(*, organisation: Any, country: str, language: str, stage: str | None,
                      link_signer: Callable[[Any], str] | None = None,
                      at: datetime | None = None,
                      jurisdiction: str | None = None) -> RenderContext:
    resources = list(help_resources_for(organisation=organisation, country=country,
                                        language=language, audience=stage, at=at))
    signer = link_signer or (lambda resource: getattr(resource, "url", "") or "")
    items = [resource_as_context(r, link=signer(r)) for r in resources]
    notice = legal_notice_for(organisation=organisation, jurisdiction=jurisdiction or country)
    return RenderContext(
        help_resources=items, legal_notice=legal_notice_as_context(notice),
        help_link=items[0]["url"] if items else "", organisation_name=organisation.name,
        language=language, country=country,
    )


def build_preview_context(*, organisation: Any, country: str, language: str,
                          stage: str | None) -> RenderContext:
    """A preview for a sample recipient: real directory data, unsigned links, sample codes."""
    context = directory_context(organisation=organisation, country=country, language=language,
                                stage=stage)
    context.opt_out_link = "https://example.org/opt-out/preview"
    context.referral_code = "PREVIEW"
    return context


def sample_context(*, organisation_name: str = "Example Programme", country: str = "GB",
                   language: str = "en", referral_code: str = "ABC234") -> RenderContext:
    """A context for previews and validation when no directory data is at hand."""
    resource = {"name": "Example confidential helpline", "phone": "+440000000000",
                "url": "https://example.org/go/sample", "open_now": True, "kind": "helpline"}
    return RenderContext(
        help_resources=[resource],
        legal_notice={"jurisdiction": country, "statutes": [
            {"name": "Example Act", "section": "s.1", "summary": "What the law forbids.",
             "max_penalty": "Imprisonment."}]},
        help_link=resource["url"], opt_out_link="https://example.org/opt-out/sample",
        referral_code=referral_code, organisation_name=organisation_name, language=language,
        country=country,
    )
