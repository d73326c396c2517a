"""rpm's NDB `Packages.db` (SUSE since 15 SP3/openSUSE; lib/backend/ndb/rpmpkg.c).

All little-endian. A 32-byte header ("RpmP", version 0, generation, number of slot pages,
next package index) opens the first of `slotnpages` 4 KiB slot pages; each 16-byte slot
is "Slot", package index, block offset and block count (blocks of 16 bytes), a block
offset of 0 marking a free slot. A blob is a 16-byte head ("BlbS", package index,
timestamp, length), the header blob, zero padding and a 12-byte tail (adler32 of head,
blob and padding; length; "BlbE").

Every check rpm makes when reading a blob is made here (magics, index, block count,
tail length, checksum), but per slot: a bad slot or blob is a warning and the others are
still read, where rpm and go-rpmdb give up on the whole file. Slots are read in block
order and a blob overlapping the previous one is refused, so no byte is checksummed
twice and a hostile file costs at most one pass over its bytes.
"""

from __future__ import annotations

import struct
import zlib

from hullscan.analyze.base import some_names
from hullscan.analyze.os.rpmdb.blobs import DbBlobs, HeaderBlob
from hullscan.errors import AnalyzerError

NDB_MAGIC = b"RpmP"
_SLOT_MAGIC = b"Slot"
_BLOB_HEAD = b"BlbS"
_BLOB_TAIL = b"BlbE"
_PAGE = 4096
_BLOCK = 16
_HEAD_SIZE = 16
_TAIL_SIZE = 12
_FIRST_SLOT = 2  # the 32-byte database header takes the first two slots
_SLOT = struct.Struct("<4sIII")
_HEAD = struct.Struct("<4sIII")
_TAIL = struct.Struct("<II4s")


def is_ndb(data: bytes) -> bool:
    return data[:4] == NDB_MAGIC


def read_ndb(data: bytes) -> DbBlobs:
    """Header blobs of an NDB Packages.db (see module docs)."""
    if len(data) < 32 or not is_ndb(data):
        raise AnalyzerError("not an rpm NDB database (bad magic)")
    version, _generation, slot_pages = struct.unpack_from("<III", data, 4)
    if version != 0:
        raise AnalyzerError(f"unsupported NDB version {version}")
    if slot_pages == 0:
        raise AnalyzerError("NDB database without slot pages")
    warnings: list[str] = []
    if len(data) % _BLOCK:
        warnings.append(f"file size {len(data)} is not a multiple of {_BLOCK}; truncated?")
    file_blocks = len(data) // _BLOCK
    readable_pages = min(slot_pages, len(data) // _PAGE)
    if readable_pages < slot_pages:
        warnings.append(f"truncated: {slot_pages} slot pages announced, {readable_pages} present")
    first_blob_block = slot_pages * (_PAGE // _BLOCK)
    bad: list[str] = []
    slots: list[tuple[int, int, int]] = []  # (block offset, block count, package index)
    bad_magic = 0
    for slot_no in range(_FIRST_SLOT, readable_pages * (_PAGE // _BLOCK)):
        magic, index, offset, count = _SLOT.unpack_from(data, slot_no * _BLOCK)
        if magic != _SLOT_MAGIC:
            bad_magic += 1
            continue
        if offset == 0:
            continue  # free slot
        if index == 0 or count == 0 or offset < first_blob_block:
            bad.append(f"slot {slot_no} (index {index}, blocks {offset}+{count})")
        elif offset + count > file_blocks:
            bad.append(f"#{index} (blob beyond the end of the file; truncated)")
        else:
            slots.append((offset, count, index))
    if bad_magic:
        warnings.append(f"ignored {bad_magic} slot(s) without the slot magic")
    blobs: dict[int, HeaderBlob] = {}
    end_of_previous = first_blob_block
    for offset, count, index in sorted(slots):
        if offset < end_of_previous:
            bad.append(f"#{index} (overlaps the previous blob)")
            continue
        problem = _blob_problem(data, offset, count, index)
        if problem:
            bad.append(f"#{index} ({problem})")
            continue
        end_of_previous = offset + count
        if index in blobs:
            bad.append(f"#{index} (second slot for the same package)")
            continue
        start = offset * _BLOCK
        length = _HEAD.unpack_from(data, start)[3]
        blobs[index] = HeaderBlob(index, data[start + _HEAD_SIZE : start + _HEAD_SIZE + length])
    if bad:
        warnings.append(f"skipped {len(bad)} unreadable record(s): {some_names(bad)}")
    return DbBlobs(tuple(blobs[n] for n in sorted(blobs)), tuple(warnings))


def _blob_problem(data: bytes, offset: int, count: int, index: int) -> str:
    """What is wrong with the blob a slot points to, as rpmpkgReadBlob checks it."""
    start = offset * _BLOCK
    end = (offset + count) * _BLOCK
    magic, blob_index, _stamp, length = _HEAD.unpack_from(data, start)
    if magic != _BLOB_HEAD:
        return "no blob at the slot's offset"
    if blob_index != index:
        return f"blob belongs to package {blob_index}"
    if count != (_HEAD_SIZE + length + _TAIL_SIZE + _BLOCK - 1) // _BLOCK:
        return f"blob length {length} does not fit {count} blocks"
    checksum, tail_length, tail_magic = _TAIL.unpack_from(data, end - _TAIL_SIZE)
    if tail_magic != _BLOB_TAIL or tail_length != length:
        return "damaged blob tail"
    if zlib.adler32(memoryview(data)[start : end - _TAIL_SIZE]) != checksum:
        return "checksum mismatch"
    return ""
