"""The one exception a rule can raise while being parsed."""

from __future__ import annotations


class RuleError(ValueError):
    """A rule the author must fix: a readable sentence plus the 1-based position it names.

    `str(error)` is the whole sentence (position included) so that it can be shown as is;
    `line` and `column` are there for editors that want to highlight the spot.
    """

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __repr__(self) -> str:
        return f"RuleError({self.message!r}, {self.line}, {self.column})"
