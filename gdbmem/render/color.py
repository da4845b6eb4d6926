"""Colour, through pygments: kinds, verdicts, figures and headers are pygments token types,
and a pygments style and terminal formatter say how each looks. Whether to colour at all,
and in which style and colour depth, is decided at the command edge (settings.py).

A Palette asks the formatter once per token type for its escape codes, so a table of
20,000 rows is painted cell by cell without running the formatter over 200,000 tokens.
JSON and hexdumps are highlighted by pygments' own lexers.
"""

from __future__ import annotations

import pygments
from pygments.formatters import (
    Terminal256Formatter,
    TerminalFormatter,
    TerminalTrueColorFormatter,
)
from pygments.lexers import HexdumpLexer, JsonLexer
from pygments.styles import get_all_styles
from pygments.token import Comment, Generic, Name, Number, String, Token, _TokenType
from pygments.util import ClassNotFound

# The default style: its colours are mid-tones, read on dark and on light backgrounds.
DEFAULT_STYLE = "default"

HEADING = Generic.Heading
FIGURE = Number
KIND_TOKENS: dict[str, _TokenType] = {
    "heap": Name.Builtin, "arena": Name.Builtin, "stack": Name.Variable,
    "thread-stack": Name.Variable, "guard": Comment, "exe": Name.Class, "lib": Name.Namespace,
    "file": String, "anon": Name.Constant, "shm": Name.Decorator, "vdso": Comment,
    "vvar": Comment, "vsyscall": Comment,
}
VERDICT_TOKENS: dict[str, _TokenType] = {
    "leak": Generic.Error, "growing": Generic.Strong, "stable": Generic.Inserted,
    "shrinking": Generic.Subheading,
}


def styles() -> list[str]:
    """Every installed pygments style, by name."""
    return sorted(get_all_styles())


def _formatter(style: str, depth: str):
    if depth == "truecolor":
        return TerminalTrueColorFormatter(style=style)
    if depth == "256":
        return Terminal256Formatter(style=style)
    return TerminalFormatter()  # the terminal's own 16 colours: they follow its theme


class Palette:
    """Escape codes for token types, in one pygments style at one colour depth."""

    def __init__(self, style: str = DEFAULT_STYLE, depth: str = "256"):
        try:
            self.formatter = _formatter(style, depth)
        except ClassNotFound:
            self.formatter = _formatter(DEFAULT_STYLE, depth)
        self._codes: dict[_TokenType, tuple[str, str]] = {}

    def codes(self, token: _TokenType) -> tuple[str, str]:
        """What goes before and after text painted as `token` ("", "" when unstyled)."""
        codes = self._codes.get(token)
        if codes is None:
            painted = pygments.format([(token, "\0")], self.formatter)
            before, _, after = painted.partition("\0")
            codes = self._codes[token] = (before, after.rstrip("\n") if before else "")
        return codes

    def paint(self, text: str, token: _TokenType | None) -> str:
        if token is None or token is Token.Text or not text:
            return text
        before, after = self.codes(token)
        return f"{before}{text}{after}" if before else text

    def highlight(self, text: str, lexer_name: str) -> str:
        """JSON or a hexdump, highlighted by pygments' own lexer for it."""
        lexer = JsonLexer() if lexer_name == "json" else HexdumpLexer()
        return pygments.highlight(text, lexer, self.formatter)
