"""The only tags and filters a message template may use (the sandbox's whole vocabulary).

Deliberately absent: `load`, `include`, `extends`, `url`, `csrf_token`, `debug`, `now`, and the
filters that switch escaping off (`safe`, `safeseq`) or make their own links (`urlize`):
every link in a message must be one of the signed links the context provides.
"""

from django.template import Library, defaultfilters, defaulttags

register = Library()

for name in ("for", "if", "with", "comment"):
    register.tag(name, defaulttags.register.tags[name])

SAFE_FILTERS = (
    "capfirst", "default", "default_if_none", "first", "join", "last", "length", "linebreaks",
    "linebreaksbr", "lower", "pluralize", "title", "truncatechars", "truncatewords", "upper",
    "yesno", "escape", "force_escape", "striptags", "wordwrap",
)
for name in SAFE_FILTERS:
    register.filter(name, defaultfilters.register.filters[name])
