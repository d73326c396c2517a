"""rpm's Berkeley DB `Packages` file (CentOS/RHEL <= 7, Amazon Linux 2, old SUSE/Fedora).

A Berkeley DB hash database: page 0 is the hash metadata page, every other page has a
26-byte header (pgno, prev/next pgno, entry count, free offset, type) and, on hash pages,
an array of uint16 item offsets. Items come in (key, value) pairs; an item is either
on-page data (H_KEYDATA) or a reference (H_OFFPAGE: first page and total length) to a
chain of overflow pages, each carrying its share of the bytes. The key is rpm's header
instance number (uint32 in the writer's byte order), the value the header blob. Key 0
holds rpm's own bookkeeping (the highest instance) and is not a package.

Byte order: Berkeley DB writes the metadata, page headers and offsets in the writing
host's order; the magic tells which (0x061561 read directly or swapped), as rpm's own
read-only reader (lib/backend/bdb_ro.c) does. Header blobs are big-endian either way.

Pages are read in file order, like go-rpmdb (Trivy, Syft) does, rather than bucket by
bucket like rpm: every hash page holds live records only (Berkeley DB marks freed pages
P_INVALID), and a damaged bucket chain then costs only the records on its own pages.

Hostile files: the page count is capped by the file size, every page is read at most once
as a hash page, an overflow chain stops at a page already used by any chain (loops and
shared chains), at a page that is not an overflow page, at the end of the file or at the
declared length; each problem is a warning naming the record, never a hang.
"""

from __future__ import annotations

import struct

from hullscan.analyze.base import some_names
from hullscan.analyze.os.rpmdb.blobs import DbBlobs, HeaderBlob
from hullscan.errors import AnalyzerError

HASH_MAGIC = 0x00061561
_BTREE_MAGIC = 0x00053162
_PAGE_HEADER = 26
_P_HASH_UNSORTED = 2
_P_OVERFLOW = 7
_P_HASH = 13
_H_KEYDATA = 1
_H_DUPLICATE = 2
_H_OFFPAGE = 3
_H_OFFDUP = 4
_PAGE_SIZES = frozenset(1 << n for n in range(9, 17))  # 512 .. 65536


def is_bdb_hash(data: bytes) -> bool:
    """Whether `data` starts like a Berkeley DB hash file in either byte order."""
    if len(data) < 16:
        return False
    magic = int.from_bytes(data[12:16], "little")
    return magic in (HASH_MAGIC, _swap32(HASH_MAGIC))


def read_bdb(data: bytes) -> DbBlobs:
    """Header blobs of a Berkeley DB hash `Packages` file (see module docs)."""
    return _Reader(data).read()


def _swap32(value: int) -> int:
    return int.from_bytes(value.to_bytes(4, "little"), "big")


class _Reader:
    """One pass over one file; mutable scan state stays in here."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 512:
            raise AnalyzerError(f"not a Berkeley DB file: only {len(data)} bytes")
        magic = int.from_bytes(data[12:16], "little")
        if magic == HASH_MAGIC:
            order = "<"
        elif magic == _swap32(HASH_MAGIC):
            order = ">"
        elif magic in (_BTREE_MAGIC, _swap32(_BTREE_MAGIC)):
            raise AnalyzerError("a Berkeley DB btree, not the hash database rpm uses")
        else:
            raise AnalyzerError("not a Berkeley DB hash database (bad magic)")
        self.data = data
        self.u16 = struct.Struct(order + "H")
        self.u32 = struct.Struct(order + "I")
        version = self.u32.unpack_from(data, 16)[0]
        if not 8 <= version <= 10:
            raise AnalyzerError(f"unsupported Berkeley DB hash version {version}")
        self.page_size: int = self.u32.unpack_from(data, 20)[0]
        if self.page_size not in _PAGE_SIZES:
            raise AnalyzerError(f"absurd Berkeley DB page size {self.page_size}")
        if data[24]:
            raise AnalyzerError("encrypted Berkeley DB databases are not supported")
        self.warnings: list[str] = []
        last_pgno: int = self.u32.unpack_from(data, 32)[0]
        whole_pages = len(data) // self.page_size
        if len(data) % self.page_size:
            self.warnings.append(
                f"file ends in the middle of page {whole_pages} ({len(data)} bytes); truncated?"
            )
        if last_pgno >= whole_pages:
            self.warnings.append(
                f"truncated: the metadata counts {last_pgno + 1} pages, the file holds "
                f"{whole_pages}; records on the missing pages are lost"
            )
        self.last_page = min(last_pgno, whole_pages - 1)
        self.used_overflow: set[int] = set()
        self.bad_pages: list[str] = []
        self.bad_records: list[str] = []

    def page(self, pgno: int) -> memoryview:
        start = pgno * self.page_size
        return memoryview(self.data)[start : start + self.page_size]

    def read(self) -> DbBlobs:
        blobs: dict[int, HeaderBlob] = {}
        duplicates: list[str] = []
        for pgno in range(1, self.last_page + 1):
            page = self.page(pgno)
            if page[25] not in (_P_HASH, _P_HASH_UNSORTED):
                continue
            for number, value in self.hash_page(pgno, page):
                if number == 0:
                    continue  # rpm's "highest instance" record
                if number in blobs:
                    duplicates.append(f"#{number}")
                    continue
                blobs[number] = HeaderBlob(number, value)
        if self.bad_pages:
            self.warnings.append(
                f"skipped {len(self.bad_pages)} damaged page(s): {some_names(self.bad_pages)}"
            )
        if self.bad_records:
            self.warnings.append(
                f"skipped {len(self.bad_records)} unreadable record(s): "
                f"{some_names(self.bad_records)}"
            )
        if duplicates:
            self.warnings.append(
                f"kept the first of duplicate records {some_names(duplicates)}; damaged database?"
            )
        ordered = tuple(blobs[n] for n in sorted(blobs))
        return DbBlobs(ordered, tuple(self.warnings))

    def hash_page(self, pgno: int, page: memoryview) -> list[tuple[int, bytes]]:
        """(instance, blob) pairs of one hash page; damage goes to the warning lists."""
        size = self.page_size
        if self.u32.unpack_from(page, 8)[0] != pgno:
            self.bad_pages.append(f"page {pgno} (its header names another page)")
            return []
        count: int = self.u16.unpack_from(page, 20)[0]
        limit = (size - _PAGE_HEADER) // 2
        if count > limit or count % 2:
            self.bad_pages.append(f"page {pgno} ({count} items)")
            count = min(count, limit) & ~1
        offsets = [self.u16.unpack_from(page, _PAGE_HEADER + 2 * i)[0] for i in range(count)]
        lowest = _PAGE_HEADER + 2 * count
        found: list[tuple[int, bytes]] = []
        for i in range(0, count, 2):
            where = f"page {pgno} item {i // 2}"
            key_off, value_off = offsets[i], offsets[i + 1]
            key_end = size if i == 0 else offsets[i - 1]
            if not lowest <= value_off < key_off < key_end <= size:
                self.bad_records.append(f"{where} (item offsets out of order)")
                continue
            try:
                key = self.item(page, key_off, key_end)
                if len(key) != 4:
                    raise _Damage(f"{len(key)}-byte key")
                number: int = self.u32.unpack_from(key)[0]
                if number == 0:
                    continue
                found.append((number, self.item(page, value_off, key_off)))
            except _Damage as exc:
                self.bad_records.append(f"{where} ({exc})")
        return found

    def item(self, page: memoryview, start: int, end: int) -> bytes:
        """Bytes of one hash item: inline data or an overflow chain."""
        kind = page[start]
        if kind == _H_KEYDATA:
            return bytes(page[start + 1 : end])
        if kind == _H_OFFPAGE:
            if end - start != 12:
                raise _Damage(f"off-page reference of {end - start} bytes")
            first: int = self.u32.unpack_from(page, start + 4)[0]
            length: int = self.u32.unpack_from(page, start + 8)[0]
            return self.overflow(first, length)
        if kind in (_H_DUPLICATE, _H_OFFDUP):
            raise _Damage("duplicate-key items, which rpm never writes")
        raise _Damage(f"unknown item type {kind}")

    def overflow(self, pgno: int, length: int) -> bytes:
        """Concatenate an overflow chain of `length` bytes starting at page `pgno`."""
        if length == 0 or length > len(self.data):
            raise _Damage(f"absurd record length {length}")
        chunks: list[bytes] = []
        remaining = length
        while remaining:
            if not 0 < pgno <= self.last_page:
                raise _Damage(f"overflow chain leaves the file at page {pgno}")
            if pgno in self.used_overflow:
                raise _Damage(f"overflow chain loops or is shared at page {pgno}")
            self.used_overflow.add(pgno)
            page = self.page(pgno)
            if page[25] != _P_OVERFLOW:
                raise _Damage(f"page {pgno} in an overflow chain is of type {page[25]}")
            size: int = self.u16.unpack_from(page, 22)[0]
            if size == 0 or size > remaining or _PAGE_HEADER + size > self.page_size:
                raise _Damage(f"overflow page {pgno} holds an absurd {size} bytes")
            chunks.append(bytes(page[_PAGE_HEADER : _PAGE_HEADER + size]))
            remaining -= size
            pgno = self.u32.unpack_from(page, 16)[0]
        return b"".join(chunks)


class _Damage(Exception):
    """One record cannot be read; the message says why."""
