"""The segment rule language: `country in ("GB", "IE") and age >= 18 and not language = "de"`.

Semantics for missing values (the same in `Rule.matches` and `Rule.to_q`):
- A field is *not set* when its key is missing, its value is None (or JSON null), or its
  value is not of the field's type. A built-in field with no column in the FieldMap is never
  set for stored recipients.
- Every condition on a field that is not set is False: `=`, `!=`, `<`, `in`, `not in`, `~`
  alike. Only `is not set` is True for it.
- `and`, `or` and `not` are plain two-valued logic over those results, so `not language = "de"`
  includes recipients with no language while `language != "de"` excludes them.
- Relative dates (-7d, +2w) resolve against `now.date()`; `now` must be timezone-aware.
- `~` is a case-insensitive substring test; case folding is guaranteed identical only for ASCII.
"""

from .errors import RuleError
from .nodes import RelativeDate
from .query import FieldMap
from .rule import Rule, parse_rule
from .schema import BUILTIN_FIELDS, AttributeSpec, FieldType, validate_attribute_name

__all__ = [
    "BUILTIN_FIELDS",
    "AttributeSpec",
    "FieldMap",
    "FieldType",
    "RelativeDate",
    "Rule",
    "RuleError",
    "parse_rule",
    "validate_attribute_name",
]
