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
from gdbmem.options import usage_message


def write(text: str, stream: int | None = None) -> None:
    """gdb.write, for text that may hold bytes that are not UTF-8 (the kernel's paths are
    bytes, carried as surrogate escapes): those are written as \\xNN, as `ls -b` does."""
    try:
        gdb.write(text) if stream is None else gdb.write(text, stream)
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        gdb.write(text) if stream is None else gdb.write(text, stream)


_UNRECOGNIZED = "unrecognized arguments: "


class _HelpShown(Exception):
    """-h printed the help: the command is done."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports through UsageError instead of exiting gdb."""

    def __init__(self, prog: str, summary: str, epilog: str = "", usage: str | None = None):
        """`prog` is the command's name (`memsnap trend` for a subcommand)."""
        # The summary is gdb's first line of `help`; argparse's own description would repeat it.
        self.summary = summary
        super().__init__(prog=prog, epilog=epilog, add_help=True, usage=usage,
                         formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(
                             prog, width=88, max_help_position=30))

    def error(self, message: str) -> Any:
        if message.startswith(_UNRECOGNIZED):  # without the `--` arrange() put in
            words = [w for w in message[len(_UNRECOGNIZED):].split(" ") if w != "--"]
            message = _UNRECOGNIZED + " ".join(words)
        raise UsageError(f"{usage_message(message)} (see `help {self.prog}`)")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if message:
            gdb.write(message)
        raise _HelpShown()

    def print_help(self, file: Any = None) -> None:
        gdb.write(self.format_help())


def report_failure(where: str, exc: BaseException) -> str:
    """The one line a failure says, at every edge where gdb calls us (a command, a
    breakpoint's stop(), a condition's or a convenience function's invoke): a user's error
    in its own words, a bug of ours as an internal error, its traceback printed when `set
    gdbmem debug on`."""
    if isinstance(exc, (GdbmemError, gdb.error)):
        return f"{where}: {exc}"
    if isinstance(exc, KeyboardInterrupt):
        return f"{where}: interrupted"
    if debug_enabled():
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    return (f"{where}: internal error: {type(exc).__name__}: {exc} "
            "(`set gdbmem debug on` shows the traceback)")


def warn(where: str, message: str) -> None:
    """A line to the user beside a command's output (on gdb's stderr)."""
    write(f"{where}: {message}\n", gdb.STDERR)


class Command(gdb.Command):
    """A gdbmem command: subclasses set `parser` (whose prog is the command's name) and
    implement `run(args, from_tty)`."""

    parser: ArgumentParser
    # A gdb.COMPLETE_* class; None calls the complete(text, word) method instead (gdb ignores
    # that method whenever a completer class is given).
    completer: int | None = None
    # How complete() completes a word that is no option: a gdb.COMPLETE_* class.
    words = gdb.COMPLETE_NONE
    # A prefix command has subcommands (`memsnap trend`); gdb passes it any other words.
    prefix = False

    @property
    def name(self) -> str:
        return self.parser.prog

    def __init__(self) -> None:
        # gdb's `help NAME` is the class docstring: a summary line, then argparse's usage.
        type(self).__doc__ = f"{self.parser.summary}\n\n{self.parser.format_help()}".rstrip()
        if self.completer is None:
            super().__init__(self.name, gdb.COMMAND_DATA, prefix=self.prefix)
        else:
            super().__init__(self.name, gdb.COMMAND_DATA, self.completer, prefix=self.prefix)

    def complete(self, text: str, word: str):
        """Tab completion: an option's values (--format, --kind, --sort, --region), the
        options for a word that starts with '-', else complete_positional()."""
        words = text.split()
        token = words.pop() if words and not text.endswith(" ") else ""
        previous = words[-1] if words else ""
        if previous in ("--format", "--kind", "--sort", "--region"):
            return trim_to_word(option_values(previous, token), token, word)
        if token.startswith("-") and not _is_expression(token):
            return trim_to_word(complete_choices(token, option_strings(self.parser)), token,
                                word)
        return self.complete_positional(_positionals(self.parser, words), token, word)

    def complete_positional(self, before: int, token: str, word: str):
        """The `before`+1-th positional word: a list of matches, or a gdb.COMPLETE_* class
        for gdb to complete it (`words` by default)."""
        return self.words

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
        except gdb.GdbError:
            raise
        except (Exception, KeyboardInterrupt) as exc:  # one line, the traceback on request
            raise gdb.GdbError(report_failure(self.name, exc)) from None
        finally:
            _command_done()
            if collecting:
                gc.enable()

    def run(self, args: argparse.Namespace, from_tty: bool) -> None:
        raise NotImplementedError

    def note(self, message: str) -> None:
        """A line to the user beside the command's output (on gdb's stderr)."""
        warn(self.name, message)


def _positionals(parser: argparse.ArgumentParser, words: Sequence[str]) -> int:
    """How many of `words` are positionals (not options, nor the values options take)."""
    takes_value = {flag: action.nargs != 0
                   for action in parser._actions for flag in action.option_strings}
    count, skip = 0, False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("-") and not _is_expression(word):
            skip = "=" not in word and takes_value.get(word, False)
        else:
            count += 1
    return count


def option_values(option: str, token: str) -> list[str]:
    """What completes the value of an option many commands share."""
    if option == "--format":
        from gdbmem.render.table import FORMATS

        return complete_choices(token, FORMATS)
    if option == "--kind":
        from gdbmem.model import KINDS

        return complete_choices(token, KINDS, comma_list=True)
    if option == "--sort":
        from gdbmem.analysis.select import SORT_KEYS

        return complete_choices(token, SORT_KEYS)
    from gdbmem.commands.regionspec import complete_names

    return complete_names(token)


def _command_done() -> None:
    """What a command parsed is given back as it ends (state.py's snapshots, the caches)."""
    from gdbmem.commands.state import registered

    owner = registered()
    if owner is not None:
        owner.session.command_done()


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
