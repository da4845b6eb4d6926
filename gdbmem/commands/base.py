"""What every gdbmem command shares: argparse-declared arguments whose help is gdb's `help`,
gdb expressions for addresses, and one error edge that prints a single line, never a traceback."""

from __future__ import annotations

import argparse
import gc
import traceback
from collections.abc import Sequence
from typing import Any

import gdb  # type: ignore[import-not-found]

from gdbmem.commands.settings import debug_enabled
from gdbmem.errors import GdbmemError, UsageError


def write(text: str, stream: int | None = None) -> None:
    """gdb.write, for text that may hold bytes that are not UTF-8 (the kernel's paths are
    bytes, carried as surrogate escapes): those are written as \\xNN, as `ls -b` does."""
    try:
        gdb.write(text) if stream is None else gdb.write(text, stream)
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        gdb.write(text) if stream is None else gdb.write(text, stream)


class _HelpShown(Exception):
    """-h printed the help: the command is done."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports through UsageError instead of exiting gdb."""

    def __init__(self, prog: str, summary: str, epilog: str = "", usage: str | None = None):
        # The summary is gdb's first line of `help`; argparse's own description would repeat it.
        self.summary = summary
        super().__init__(prog=prog, epilog=epilog, add_help=True, usage=usage,
                         formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(
                             prog, width=88, max_help_position=30))

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see `help {self.prog}`)")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if message:
            gdb.write(message)
        raise _HelpShown()

    def print_help(self, file: Any = None) -> None:
        gdb.write(self.format_help())


class Command(gdb.Command):
    """A gdbmem command: subclasses set `name`, `parser` and implement `run(args, from_tty)`."""

    name = ""
    parser: ArgumentParser
    # A gdb.COMPLETE_* class; None calls the complete(text, word) method instead (gdb ignores
    # that method whenever a completer class is given).
    completer: int | None = None
    # How complete() completes a word that is no option: a gdb.COMPLETE_* class.
    words = gdb.COMPLETE_NONE
    # A prefix command has subcommands (`memsnap trend`); gdb passes it any other words.
    prefix = False

    def __init__(self) -> None:
        # gdb's `help NAME` is the class docstring: a summary line, then argparse's usage.
        type(self).__doc__ = f"{self.parser.summary}\n\n{self.parser.format_help()}".rstrip()
        if self.completer is None:
            super().__init__(self.name, gdb.COMMAND_DATA, prefix=self.prefix)
        else:
            super().__init__(self.name, gdb.COMMAND_DATA, self.completer, prefix=self.prefix)

    def complete(self, text: str, word: str):
        """The options, for a word that starts with '-'; other words as `words` says."""
        words = text.split()
        token = words.pop() if words and not text.endswith(" ") else ""
        if words and words[-1] == "--format":
            from gdbmem.render.table import FORMATS

            return trim_to_word(complete_choices(token, FORMATS), token, word)
        if not token.startswith("-"):
            return self.words
        return trim_to_word(complete_choices(token, option_strings(self.parser)), token, word)

    def invoke(self, argument: str, from_tty: bool) -> None:
        # A report makes tens of thousands of objects (regions, cells, rows), none in a cycle;
        # left on, the cyclic collector would walk them all again and again while they grow.
        collecting = gc.isenabled()
        gc.disable()
        try:
            args = self.parser.parse_args(arrange(self.parser, gdb.string_to_argv(argument)))
            self.run(args, from_tty)
        except _HelpShown:
            return
        except GdbmemError as exc:
            raise gdb.GdbError(f"{self.name}: {exc}") from None
        except gdb.GdbError:
            raise
        except gdb.error as exc:
            raise gdb.GdbError(f"{self.name}: {exc}") from None
        except KeyboardInterrupt:
            raise gdb.GdbError(f"{self.name}: interrupted") from None
        except Exception as exc:  # a bug of ours: one line, the traceback on request
            if debug_enabled():
                traceback.print_exc()
            raise gdb.GdbError(f"{self.name}: internal error: {type(exc).__name__}: {exc} "
                               "(`set gdbmem debug on` shows the traceback)") from None
        finally:
            if collecting:
                gc.enable()

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        raise NotImplementedError

    def note(self, message: str) -> None:
        """A line to the user beside the command's output (on gdb's stderr)."""
        write(f"{self.name}: {message}\n", gdb.STDERR)


def _is_expression(word: str) -> bool:
    """`-0x10`, `-8`, `-(x)`, `-$sp`: a negative expression, not an option."""
    return len(word) > 1 and word[0] == "-" and (word[1].isdigit() or word[1] in "($&*.")


def arrange(parser: argparse.ArgumentParser, words: Sequence[str]) -> list[str]:
    """The words with every option (and its value) first and every other word after `--`:
    so a word after an option is still a positional (`memdump /libc/ --first libc.bin`), and
    a negative expression is never read as an option (`vmainfo $sp -0x10`). Unknown options
    stay options, for argparse to name."""
    takes_value = {flag: action.nargs != 0
                   for action in parser._actions for flag in action.option_strings}
    options: list[str] = []
    positionals: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            positionals += words[i + 1:]
            break
        if word.startswith("-") and not _is_expression(word):
            options.append(word)
            if "=" not in word and takes_value.get(word) and i + 1 < len(words):
                options.append(words[i + 1])
                i += 1
        else:
            positionals.append(word)
        i += 1
    return [*options, "--", *positionals] if positionals else options


def add_format(parser: argparse.ArgumentParser) -> None:
    """--format FMT: any of tabulate's table formats (the default: set gdbmem table-format)."""
    from gdbmem.render.table import FORMATS

    parser.add_argument("--format", choices=FORMATS, metavar="FMT",
                        help="the tables' format: any of tabulate's (simple, github, pipe, "
                             "html, latex, tsv, grid, rst, ...); default: set gdbmem "
                             "table-format")


def complete_choices(word: str, choices: Sequence[str], comma_list: bool = False) -> list[str]:
    """Choices that complete `word`; with comma_list, the last item of `a,b,c`."""
    head, last = "", word
    if comma_list and "," in word:
        head, _, last = word.rpartition(",")
        head += ","
    return [head + c for c in choices if c.startswith(last)]


def trim_to_word(matches: Sequence[str], token: str, word: str | None) -> list[str]:
    """gdb replaces only its last `word` ('-', ',' and '/' break words), so drop the part of
    the whole `token` that stands before it from each match."""
    cut = len(token) - len(word or "")
    return [m[cut:] for m in matches]


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(s for action in parser._actions for s in action.option_strings)
