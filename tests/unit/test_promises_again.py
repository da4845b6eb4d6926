"""gdbmem's promises, second round, outside gdb: every field of a traced call checked as it
is read (one line, never an internal error), a bad field inside a saved smaps named by its
file and line, argparse's words as the user typed them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdbmem.cli import main
from gdbmem.errors import ParseError
from gdbmem.store.codec import encoded, read_records
from gdbmem.store.record import Record
from tests.helpers import fixture

GOOD = (b'{"format":"gdbmem-trace-1","call":"mmap","args":[0,4096,3,34,0],"result":1048576,'
        b'"length":0,"pcs":[4198400],"tid":1,"time":1.0}\n')


@pytest.mark.parametrize("line, says", [
    (b'{"format":"gdbmem-trace-1","call":"munmap","args":[0],"result":0,"pcs":[],"tid":1,'
     b'"time":1}', "a munmap has 5 arguments, not 1"),
    (b'{"format":"gdbmem-trace-1","call":"mmap","args":[0,18446744073709551615,3,34,0],'
     b'"result":0,"pcs":[],"tid":1,"time":1}', "a mmap of more than 0x800000000000 bytes"),
    (b'{"format":"gdbmem-trace-1","call":"brk","args":[0,0,0,0,0],"result":"x","pcs":[],'
     b'"tid":1,"time":1}', "result is not a whole number"),
    (b'{"format":"gdbmem-frames-1","frames":[[1,2,3]]}', "a frame is [pc, function, file"),
])
def test_a_bad_traced_call_is_one_line_in_trace_and_report(capsys, tmp_path, line, says):
    path = tmp_path / "t.jsonl"
    path.write_bytes(GOOD + line + b"\n")
    for argv in (["trace", str(path)], ["report", str(path), "-o", str(tmp_path / "r.html")]):
        assert main(argv) == 2
        _, err = capsys.readouterr()
        assert err.count("\n") == 1 and says in err and "internal error" not in err, err
        assert f"{path}: " in err and "line 2" in err


def test_a_bad_field_in_a_saved_smaps_names_its_file_and_line():
    smaps = fixture("layout.smaps")
    bad = smaps.replace(b"Rss:                  72 kB", b"Rss:                  7x kB")
    data = b"".join(encoded(Record(1, float(i), smaps)) for i in range(3))
    data += encoded(Record(1, 5.0, bad))
    records = read_records(data, "j.jsonl")
    with pytest.raises(ParseError) as caught:
        records[3].snapshot  # noqa: B018  # parsed when first looked at
    line = next(n for n, text in enumerate(data.split(b"\n"), 1) if b"7x kB" in text)
    header = next(n for n, text in enumerate(data.split(b"\n"), 1)
                  if text.startswith(b'{"format"') and b'"taken_at":5.0' in text)
    assert str(caught.value).startswith(f"j.jsonl: line {line}: Rss is not a number of kB")
    assert str(caught.value).endswith(f"(in the snapshot recorded at line {header})")
    assert line > 3000  # not its line inside the record's smaps


def test_argparse_says_the_user_s_own_words(capsys):
    assert main(["trace", "x.jsonl", "--top", "0"]) == 2
    _, err = capsys.readouterr()
    assert "--top takes a number of sites, 1 or more" in err and "argument" not in err


@settings(max_examples=300, deadline=None)
@given(st.lists(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                             lambda kids: st.lists(kids, max_size=3)
                             | st.dictionaries(st.text(), kids, max_size=3), max_leaves=8),
                max_size=6))
def test_a_list_written_an_item_at_a_time_is_json_s_own(items):
    from gdbmem.render.jsonout import dumps, dumps_items

    assert dumps_items(iter(items)) == dumps(items)
