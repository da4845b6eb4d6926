"""Where glibc's malloc keeps its state, by glibc version (x86-64, 8-byte words).

Tested: glibc 2.36 (Debian 12). The layouts below follow malloc/malloc.c and arena.c:
malloc_state has had `have_fastchunks` since 2.27; tcache counts are 16-bit since 2.30;
tcache and fastbin `next` pointers are mangled (safe-linking) since 2.32; heap_info gained
`pagesize`, and malloc_par the huge-page fields, in 2.35. Older versions are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gdbmem.errors import HeapError

WORD = 8
MINSIZE = 32
ALIGNMENT = 16
PREV_INUSE, IS_MMAPPED, NON_MAIN_ARENA = 1, 2, 4
SIZE_BITS = 7
NFASTBINS = 10
NBINS = 128
NSMALLBINS = 64
TCACHE_BINS = 64

OLDEST = (2, 30)
TESTED = ((2, 36),)


@dataclass(frozen=True)
class Layout:
    version: tuple[int, int]
    # struct malloc_state
    mutex: int = 0x0
    fastbins: int = 0x10
    top: int = 0x60
    last_remainder: int = 0x68
    bins: int = 0x70
    next: int = 0x870
    system_mem: int = 0x888
    max_system_mem: int = 0x890
    arena_size: int = 0x898
    # struct heap_info
    heap_info_size: int = 48
    # struct malloc_par (mp_)
    mp_n_mmaps: int = 0x3C
    mp_mmapped_mem: int = 0x50
    mp_sbrk_base: int = 0x60
    mp_tcache_bins: int = 0x68
    mp_tcache_count: int = 0x78
    mp_size: int = 0x88

    @property
    def safe_linking(self) -> bool:
        return self.version >= (2, 32)

    @property
    def tested(self) -> bool:
        return self.version in TESTED

    @property
    def tcache_size(self) -> int:
        """sizeof(tcache_perthread_struct): 16-bit counts, then the entries."""
        return TCACHE_BINS * 2 + TCACHE_BINS * WORD

    def bin_at(self, arena: int, i: int) -> int:
        """glibc's bin_at(m, i): the fake chunk whose fd/bk are bins[2i-2], bins[2i-1]."""
        return arena + self.bins + (i - 1) * 2 * WORD - 2 * WORD

    def reveal(self, field_address: int, value: int) -> int:
        """REVEAL_PTR: a tcache or fastbin `next` as stored at `field_address`."""
        return (field_address >> 12) ^ value if self.safe_linking else value


def layout_for(version: tuple[int, int]) -> Layout:
    if version < OLDEST:
        raise HeapError(f"glibc {version[0]}.{version[1]}: memheap reads glibc's malloc from "
                        f"{OLDEST[0]}.{OLDEST[1]} on")
    if version >= (2, 35):
        return Layout(version)
    # Before 2.35: no heap_info.pagesize, no mp_.thp_pagesize/hp_pagesize/hp_flags.
    return Layout(version, heap_info_size=32, mp_n_mmaps=0x28, mp_mmapped_mem=0x38,
                  mp_sbrk_base=0x48, mp_tcache_bins=0x50, mp_tcache_count=0x60, mp_size=0x70)


_VERSION_RE = re.compile(rb"GNU C Library [^\n\0]*? version (\d+)\.(\d+)")
_NAME_RE = re.compile(r"libc-(\d+)\.(\d+)\.so$")


def glibc_version(libc_text: bytes | None, libc_path: str = "") -> tuple[int, int] | None:
    """The version libc says it is (its banner string), or that its file name says."""
    if libc_text:
        m = _VERSION_RE.search(libc_text)
        if m:
            return int(m.group(1)), int(m.group(2))
    m = _NAME_RE.search(libc_path)
    return (int(m.group(1)), int(m.group(2))) if m else None
