"""What heaptrack recorded, read as heaptrack_interpret writes it: allocation sites by the
bytes they still hold (memtrace on --malloc). Pure: the reading of heaptrack's own text
format, not of heaptrack_print's report.

heaptrack's preload library records every malloc and free inside the process, with its
stack, and heaptrack_interpret turns that into lines (hexadecimal numbers; version 3, of
heaptrack 1.1 and newer):

  v VERSION FILEVERSION       s LEN TEXT        a string, numbered from 1
  i IP MODULE [FUNCTION FILE LINE]...           an instruction pointer, numbered from 1,
                                                its function, file and line (string numbers)
  t IP PARENT                 a node of the tree of stacks, numbered from 1 (0: the root)
  a SIZE TRACE                an allocation's size and stack, numbered from 0
  + ALLOCATION                one allocation of that size and stack
  - ALLOCATION                one of them freed
  (and others: X cmdline, c time, R rss, I page size, A attached, ...: not needed here)

The bytes still held by a stack are (allocations - frees) x size: the sizes requested, as
heaptrack counts them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from gdbmem.trace.fold import Frame, Site, by_weight, site_frame, site_key

FILE_VERSIONS = (2, 3)


class HeaptrackData:
    """heaptrack_interpret's output so far, fed as it grows (a last line not yet ended
    waits for the rest)."""

    def __init__(self) -> None:
        self.strings: list[str] = [""]
        self.ips: list[Frame] = [Frame(0, None, None, None)]
        self.traces: list[tuple[int, int]] = [(0, 0)]
        self.allocations: list[tuple[int, int]] = []  # (size, trace)
        self.made: Counter[int] = Counter()  # by allocation: how many
        self.freed: Counter[int] = Counter()
        self.version: int | None = None
        self._tail = b""

    def feed(self, data: bytes) -> None:
        data = self._tail + data
        end = data.rfind(b"\n") + 1
        self._tail = data[end:]
        # Nearly every line is an allocation or a free of a few thousand kinds: the lines are
        # counted by C (a Counter keeps the order lines were first seen in, and the others
        # are each seen once: strings, frames, stack nodes and allocation kinds are written
        # once each), then the few distinct ones read. 2,000,000 lines: ~0.2 s.
        for raw, n in Counter(data[:end].split(b"\n")).items():
            if raw[:2] in (b"+ ", b"- "):
                try:
                    (self.made if raw[0] == 43 else self.freed)[int(raw[2:], 16)] += n
                except ValueError:
                    continue
            elif raw:
                line = raw.decode("utf-8", "surrogateescape")
                for _ in range(n):
                    try:
                        self._line(line)
                    except (ValueError, IndexError):
                        break  # a line of a kind or form this reader does not know

    def _line(self, line: str) -> None:
        kind, _, rest = line.partition(" ")
        if kind == "a":
            size, trace = rest.split()
            self.allocations.append((int(size, 16), int(trace, 16)))
        elif kind == "t":
            ip, parent = rest.split()
            self.traces.append((int(ip, 16), int(parent, 16)))
        elif kind == "i":
            fields = [int(f, 16) for f in rest.split()]
            if len(fields) >= 5:
                function, file, line_number = fields[2:5]
                self.ips.append(Frame(fields[0], self.strings[function] or None,
                                      self.strings[file] or None, line_number or None))
            else:
                self.ips.append(Frame(fields[0], None, None, None))
        elif kind == "s":
            length, _, text = rest.partition(" ")
            self.strings.append(text[:int(length, 16)])
        elif kind == "v":
            self.version = int(rest.split()[1], 16)

    def stack(self, trace: int) -> list[Frame]:
        """The frames of a stack, the allocating function's caller first."""
        frames = []
        while 0 < trace < len(self.traces) and len(frames) < 256:
            ip, trace = self.traces[trace]
            frames.append(self.ips[ip] if ip < len(self.ips) else Frame(0, None, None, None))
        return frames

    def sites(self, folded: Callable[[list[Frame]], Frame] = site_frame) -> list[Site]:
        """Allocation sites, most bytes still held first: held = the bytes of allocations
        not freed, mapped = all bytes allocated, unmapped = those freed, calls = allocations
        made."""
        by_key: dict[tuple, dict] = {}
        for n, (size, trace) in enumerate(self.allocations):
            made, freed = self.made[n], self.freed[n]
            if not made:
                continue
            frames = self.stack(trace) or [Frame(0, None, None, None)]
            top = folded(frames)
            entry = by_key.setdefault(site_key(top), {"frame": top, "calls": 0, "mapped": 0,
                                            "unmapped": 0, "held": 0, "stacks": []})
            entry["calls"] += made
            entry["mapped"] += made * size
            entry["unmapped"] += freed * size
            entry["held"] += (made - freed) * size
            if len(entry["stacks"]) < 16:
                entry["stacks"].append(frames)
        out = [Site(e["frame"], e["calls"], e["mapped"], e["unmapped"], e["held"], ["malloc"],
                    e["stacks"]) for e in by_key.values()]
        out.sort(key=by_weight)
        return out


class RawAllocations:
    """The blocks allocated and not freed, by address, from the raw lines heaptrack's preload
    (or inject) library writes before heaptrack_interpret reads them (its interpreted output
    keeps no addresses): which stack allocated the block at an address.

      t IP PARENT        a node of the tree of stacks, numbered from 1 (0: the root); IP is a
                         return address in the process
      + SIZE TRACE PTR   a block of SIZE bytes at PTR, allocated from stack TRACE
      - PTR              the block at PTR freed
    (hexadecimal; the other lines are not needed here). Fed as the file grows; a last line
    not yet ended waits for the rest."""

    def __init__(self) -> None:
        self.live: dict[int, tuple[int, int]] = {}  # address -> (size, trace)
        self.traces: list[tuple[int, int]] = [(0, 0)]
        self._tail = b""

    def feed(self, data: bytes) -> None:
        data = self._tail + data
        end = data.rfind(b"\n") + 1
        self._tail = data[end:]
        live, traces = self.live, self.traces
        for line in data[:end].split(b"\n"):
            kind = line[:2]
            try:
                if kind == b"+ ":
                    _plus, size, trace, ptr = line.split()
                    live[int(ptr, 16)] = (int(size, 16), int(trace, 16))
                elif kind == b"- ":
                    live.pop(int(line[2:], 16), None)
                elif kind == b"t ":
                    _t, ip, parent = line.split()
                    traces.append((int(ip, 16), int(parent, 16)))
            except ValueError:
                continue  # a line of another kind, or torn: not an allocation's

    def stack(self, trace: int) -> list[int]:
        """The return addresses of a stack, innermost first."""
        out = []
        seen = 0
        while 0 < trace < len(self.traces) and seen < 1024:
            ip, trace = self.traces[trace]
            out.append(ip)
            seen += 1
        return out

    def at(self, address: int) -> tuple[int, list[int]] | None:
        """(requested size, stack) of the live block that starts at `address`."""
        found = self.live.get(address)
        return None if found is None else (found[0], self.stack(found[1]))
