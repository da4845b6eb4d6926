"""What gdb's commands and the gdbmem command share of their options: counts with a range,
checked as argparse reads them (so a report never knows a flag's name), and argparse's
messages in the user's own words."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable


def count(what: str, low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number of `what`, from `low` (to `high`)."""

    def parse(text: str) -> int:
        try:
            number = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if number < low or (high is not None and number > high):
            span = f", {low} or more" if high is None else f" from {low} to {high}"
            raise argparse.ArgumentTypeError(f"takes a number of {what}{span}")
        return number

    parse.__name__ = f"number of {what}"
    return parse


_TAKES = re.compile(r"argument ([-\w/]+): takes ")


def usage_message(message: str) -> str:
    """argparse's `argument --top: takes a number ...` as `--top takes a number ...`."""
    return _TAKES.sub(r"\1 takes ", message)
