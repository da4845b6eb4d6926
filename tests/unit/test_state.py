"""State with one owner: memtrace's accounts (one per address space, their lines in journals
and saved files) and the cache registry (each cache emptied by the events it names)."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil

import pytest

import gdbmem
from gdbmem import caches
from gdbmem.errors import ParseError
from gdbmem.store.codec import read_records
from gdbmem.trace.account import Accounts
from gdbmem.trace.events import Event
from gdbmem.trace.fold import Frame

MMAP = Event("mmap", (0, 8192, 3, 0x22, (1 << 64) - 1), 0x7000_0000, 0, (0x401000, 0x402000),
             7, 1.0)


def traced(pid: int = 42, exe: str = "/bin/a") -> Accounts:
    accounts = Accounts()
    account = accounts.begin(pid, exe, 1.0)
    for pc, name in ((0x401000, "mmap"), (0x402000, "main")):
        account.name(Frame(pc, name, "a.c", 3))
    account.record(MMAP)
    return accounts


def test_an_account_writes_its_line_and_names_once_to_each_journal():
    accounts = traced()
    account = accounts.items[0]
    first = account.journal_lines(MMAP, 1)
    assert [json.loads(line)["format"] for line in first] == [
        "gdbmem-space-1", "gdbmem-frames-1", "gdbmem-trace-1"]
    assert [json.loads(line)["format"] for line in account.journal_lines(MMAP, 1)] == [
        "gdbmem-trace-1"]  # nothing new to name
    account.name(Frame(0x403000, "other", None, None))
    assert [json.loads(line)["format"] for line in account.journal_lines(MMAP, 1)] == [
        "gdbmem-frames-1", "gdbmem-trace-1"]
    again = account.journal_lines(MMAP, 2)  # a new journal (after memsnap clear)
    names = json.loads(again[1])["frames"]
    assert (json.loads(again[0])["format"], len(names)) == ("gdbmem-space-1", 3)


def test_accounts_read_back_as_written_each_its_own():
    a = traced(42, "/bin/a")
    b = a.begin(42, "/bin/b", 2.0)  # the same pid after an exec: another account
    a.end(42, "exec")
    b.name(Frame(0x401000, "b_main", "b.c", 9))  # the same pc means another function
    b.record(MMAP._replace(result=0x7100_0000))
    data = b"".join(line for account in a.items for line in account.saved_lines())
    read = Accounts()
    assert read_records(data, "x", None, read) == []
    first, second = read.items
    assert (first.pid, first.exe, second.exe) == (42, "/bin/a", "/bin/b")
    assert first.resolve(0x401000).function == "mmap"
    assert second.resolve(0x401000).function == "b_main"
    assert sum(first.ledger.held().values()) == sum(second.ledger.held().values()) == 8192
    assert read.of_process(42, 1.5) is first and read.of_process(42, 3.0) is second


def test_a_file_without_accounts_is_one_account():
    old = (b'{"format":"gdbmem-frames-1","frames":[[4198400,"f","a.c",1]]}\n'
           + MMAP.to_line().replace(b'"space":1,', b""))
    read = Accounts()
    read_records(old, "x", None, read)
    (account,) = read.items
    assert (account.pid, len(account.events), account.resolve(0x401000).function) == (
        0, 1, "f")


def test_loaded_accounts_are_history_renumbered():
    session = traced()
    loaded = traced(7, "/bin/c")
    assert session.adopt(loaded, "loaded from f") == 1
    assert [(a.number, a.pid, a.ended) for a in session.items] == [
        (1, 42, ""), (2, 7, "loaded from f")]
    assert session.live_for(42) is session.items[0] and session.live_for(7) is None
    assert session.shown(pid=42) is session.items[0]
    assert session.shown(pid=99) is session.items[1]  # no live one: the newest traced
    with pytest.raises(LookupError, match="no account 9"):
        session.shown(9)


@pytest.mark.parametrize("line, why", [
    (b'{"format":"gdbmem-trace-1","call":"munmap","args":[0],"result":0,"pcs":[],"tid":1,'
     b'"time":1}', "has 5 arguments"),
    (b'{"format":"gdbmem-trace-1","call":"mmap","args":[0,18446744073709551615,3,34,0],'
     b'"result":0,"pcs":[],"tid":1,"time":1}', "a mmap of more than"),
    (b'{"format":"gdbmem-space-1","space":"x"}', "space is not"),
    (b'{"format":"gdbmem-frames-1","frames":{}}', "frames is a list"),
])
def test_malformed_trace_lines_are_refused(line, why):
    with pytest.raises(ParseError, match=why):
        read_records(line + b"\n", "x", None, Accounts())


def _import_everything_but_gdb_s() -> None:
    for info in pkgutil.walk_packages(gdbmem.__path__, "gdbmem."):
        if info.name.split(".")[1] in ("commands",) or info.name == "gdbmem.__main__":
            continue
        try:
            importlib.import_module(info.name)
        except ImportError as exc:  # target's gdb-side modules
            assert exc.name == "gdb", exc


def test_every_cache_names_real_events_and_is_emptied_by_them():
    _import_everything_but_gdb_s()
    names = {cache.name for cache in caches.REGISTRY}
    assert {"parsed regions", "open /proc files"} <= names
    for cache in caches.REGISTRY:
        assert cache.stale_on and cache.why, cache.name

        def value(cache=cache):  # a cache of open files closes what it lets go
            return os.open(os.devnull, os.O_RDONLY) if cache.close is os.close else "v"

        for event in cache.stale_on:
            cache.put("k", value())
            assert cache.name in caches.stale(event) and not cache
        others = set(caches.EVENTS) - cache.stale_on
        cache.put("k", value())
        for event in others:
            caches.stale(event)
        assert cache, f"{cache.name} emptied by an event it does not name"
        cache.clear()


def test_a_cache_is_bounded_and_closes_what_it_lets_go():
    closed = []
    cache = caches.Cache("test", 2, {caches.EXITED}, "a test", close=closed.append)
    try:
        cache.put(1, "a")
        cache.put(2, "b")
        cache.put(3, "c")  # full: it starts again, closing what it held
        assert (dict(cache), sorted(closed)) == ({3: "c"}, ["a", "b"])
        assert caches.stale(caches.EXITED) == ["test"] and closed[-1] == "c"
        with pytest.raises(ValueError, match="no such event"):
            caches.Cache("bad", 1, {"sunrise"}, "")
    finally:
        caches.REGISTRY.remove(cache)


def test_what_a_command_parsed_is_given_back(tmp_path):
    from gdbmem.store.record import PARSED, Record
    from gdbmem.store.session import Session
    from tests.helpers import fixture

    session = Session()
    for n in range(3):
        session.add(Record(1, float(n), fixture("layout.smaps")), lambda: str(tmp_path))
    assert len(session.records[-1].snapshot.regions) == 35 and PARSED
    session.command_done()
    assert not PARSED and all(r._snapshot is None for r in session.records)
    assert len(session.records[0].snapshot.regions) == 35  # parsed again when looked at
