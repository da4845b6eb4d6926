"""Fuzzing the parsers: no exception but ParseError escapes, and what a kernel would write
comes back exactly, by the fast path, by the line walk and in chunks split anywhere."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gdbmem.analysis.totals import field_totals
from gdbmem.errors import ParseError
from gdbmem.proc import parse_maps, parse_smaps, parse_smaps_rollup
from gdbmem.proc.smaps import _parse_lines, parse_smaps_chunks

FIELDS = ["Size", "KernelPageSize", "MMUPageSize", "Rss", "Pss", "Pss_Dirty", "Shared_Clean",
          "Shared_Dirty", "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "Swap",
          "SwapPss", "Locked"]

names = st.one_of(
    st.just(""), st.sampled_from(["[heap]", "[stack]", "[vdso]", "[anon:my pool]", "[stack:77]"]),
    st.text(alphabet=st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",)),
            min_size=1, max_size=30).map(lambda s: "/" + s.strip() + "x"),
)


@st.composite
def region_specs(draw):
    start = draw(st.integers(0, 2**47)) & ~0xFFF
    pages = draw(st.integers(1, 4096))
    perms = draw(st.sampled_from(["r--p", "rw-p", "r-xp", "---p", "rw-s", "r--s"]))
    figures = {name: draw(st.integers(0, 10**9)) for name in FIELDS}
    flags = draw(st.lists(st.sampled_from(["rd", "wr", "ex", "mr", "mw", "me", "ac", "sd"]),
                          max_size=6))
    return (start, start + pages * 4096, perms, draw(st.integers(0, 2**40)),
            draw(st.sampled_from(["00:00", "fe:00", "08:01"])), draw(st.integers(0, 2**32)),
            draw(names), figures, flags)


def render_smaps(specs, field_names=FIELDS):
    lines = []
    for start, end, perms, offset, dev, inode, name, figures, flags in specs:
        head = f"{start:x}-{end:x} {perms} {offset:08x} {dev} {inode}"
        lines.append(f"{head:<72} {name}" if name else head + " ")
        lines.extend(f"{n + ':':<16}{figures[n]:>8} kB" for n in field_names)
        lines.append("THPeligible:    0")
        lines.append("VmFlags: " + " ".join(flags) + " ")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


@settings(max_examples=200, deadline=None)
@given(st.lists(region_specs(), min_size=1, max_size=12), st.data())
def test_kernel_shaped_smaps_round_trips(specs, data):
    text = render_smaps(specs)
    regions = parse_smaps(text)
    assert len(regions) == len(specs)
    for region, spec in zip(regions, specs):
        start, end, perms, offset, dev, inode, name, figures, flags = spec
        assert (region.start, region.end, region.perms, region.offset, region.dev,
                region.inode, region.path) == (start, end, perms, offset, dev, inode, name)
        assert {n: region.fields[n] for n in FIELDS} == figures
        assert region.fields["VmFlags"] == flags
        assert region.rss_kb == figures["Rss"] and region.swap_kb == figures["Swap"]
        assert region.dirty_kb == figures["Shared_Dirty"] + figures["Private_Dirty"]
    slow = _parse_lines(text.split(b"\n"))
    assert [dict(r.fields) for r in regions] == [r.fields for r in slow]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=5)))
    parts = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    assert [dict(r.fields) for r in parse_smaps_chunks(parts)] == [dict(r.fields) for r in regions]
    # The summary's columns converted as the chunks come read the same.
    summed = parse_smaps_chunks(parts, summed=True)
    assert [dict(r.fields) for r in summed] == [dict(r.fields) for r in regions]
    assert field_totals(summed, ("Private_Clean", "SwapPss")) == {
        n: sum(spec[7][n] for spec in specs) for n in ("Private_Clean", "SwapPss")}


def _only_parse_errors(parse, data):
    try:
        for region in parse(data):
            dict(region.fields)  # the fast path converts fields when they are read
    except ParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_parse_errors(data):
    _only_parse_errors(parse_maps, data)
    _only_parse_errors(parse_smaps, data)
    try:
        parse_smaps_rollup(data)
    except ParseError:
        pass


line_pieces = st.sampled_from([
    b"00400000-00401000 r-xp 00000000 08:01 12 /bin/x", b"7f00-7e00 rw-p 0 00:00 0",
    b"Rss:  4 kB", b"Pss: x kB", b"Size:", b"VmFlags: rd", b"", b"  ", b"Swap: 99999999999 kB",
    b"ffffffffffffffffff-0 ---p 0 0:0 0", b":", b"Rss: 4", b"THPeligible: 1", b"A: kB",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(line_pieces, max_size=30), st.sampled_from([b"\n", b"\r\n"]))
def test_near_miss_lines_raise_only_parse_errors(pieces, newline):
    data = newline.join(pieces)
    _only_parse_errors(parse_maps, data)
    _only_parse_errors(parse_smaps, data)
    _only_parse_errors(lambda d: parse_smaps_chunks([d[: len(d) // 2], d[len(d) // 2:]]), data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300).map(lambda b: bytes(b"\n0aR x"[c % 6] for c in b)))
def test_blocks_split_where_a_lookbehind_would(data):
    """split_blocks looks for the newline before a block (as fast as memchr), and cuts
    where the plain definition, a lookbehind tried at every byte, does."""
    import re

    from gdbmem.store.delta import split_blocks

    plain = re.split(rb"(?<=\n)(?=[0-9a-f])", data) if data else []
    assert split_blocks(data) == plain
    assert b"".join(split_blocks(data)) == data
