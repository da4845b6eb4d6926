"""Pure parsers of /proc files. Each takes the file's bytes (or str) and imports no gdb."""

from gdbmem.proc.maps import parse_maps
from gdbmem.proc.pagemap import PageState, decode_pagemap_entry, parse_pagemap
from gdbmem.proc.smaps import parse_smaps, parse_smaps_chunks, parse_smaps_rollup

__all__ = ["PageState", "decode_pagemap_entry", "parse_maps", "parse_pagemap", "parse_smaps",
           "parse_smaps_chunks", "parse_smaps_rollup"]
