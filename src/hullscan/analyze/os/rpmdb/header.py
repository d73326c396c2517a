"""rpm header blobs, the records every rpm database backend stores (lib/header.c).

A blob is ``il`` (number of index entries) and ``dl`` (size of the data store), both
big-endian uint32, then ``il`` entries of 16 bytes (tag, type, offset, count), then the
data store. An installed header starts with a *region* entry (HEADERIMMUTABLE, a BIN of
16 bytes whose data is a trailer entry pointing back over the region's entries); entries
after the region are "dribble" entries rpm added at install time, and they replace
region entries of the same tag, so the last entry for a tag wins here too.

Only the tags a scanner needs are decoded, each bounds-checked against the data store;
entries of other tags are never looked at, so damage there costs nothing. A header whose
NAME, VERSION or RELEASE cannot be read is refused with HeaderError; damaged optional
tags (EPOCH, ARCH, SOURCERPM, VENDOR, MODULARITYLABEL) read as missing and are named in
`HeaderInfo.problems`. Headers copied from a package file (with the 8-byte 8eade801
magic in front) are accepted too.

With `files=True` the package's file list is decoded too (BASENAMES + DIRNAMES +
DIRINDEXES, or OLDFILENAMES in headers of rpm < 4.1), leaving out directories (FILEMODES):
the Applier uses it to know which files an OS package owns. A damaged file list reads as
empty and is named in `problems`; it never costs the package.
"""

from __future__ import annotations

import stat
import struct
from dataclasses import dataclass

# Limits of rpm's hdrblobInit (HEADER_TAGS_MAX, HEADER_DATA_MAX).
MAX_ENTRIES = 0xFFFF
MAX_DATA = 0x0FFFFFFF
HEADER_MAGIC = b"\x8e\xad\xe8\x01"

TAG_HEADERIMAGE = 61
TAG_HEADERSIGNATURES = 62
TAG_HEADERIMMUTABLE = 63
TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_VENDOR = 1011
TAG_ARCH = 1022
TAG_SOURCERPM = 1044
TAG_OLDFILENAMES = 1027
TAG_FILEMODES = 1030
TAG_DIRINDEXES = 1116
TAG_BASENAMES = 1117
TAG_DIRNAMES = 1118
TAG_MODULARITYLABEL = 5096

TYPE_INT16 = 3
TYPE_INT32 = 4
TYPE_STRING = 6
TYPE_BIN = 7
TYPE_STRING_ARRAY = 8
TYPE_I18NSTRING = 9

_REGION_TAGS = frozenset({TAG_HEADERIMAGE, TAG_HEADERSIGNATURES, TAG_HEADERIMMUTABLE})
_STRING_TAGS = {
    TAG_NAME: "name",
    TAG_VERSION: "version",
    TAG_RELEASE: "release",
    TAG_ARCH: "arch",
    TAG_SOURCERPM: "source rpm",
    TAG_VENDOR: "vendor",
    TAG_MODULARITYLABEL: "modularity label",
}
_REQUIRED = (TAG_NAME, TAG_VERSION, TAG_RELEASE)
_WANTED = frozenset(_STRING_TAGS) | {TAG_EPOCH}
_FILE_TAGS = frozenset(
    {TAG_OLDFILENAMES, TAG_FILEMODES, TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES}
)
_WANTED_WITH_FILES = _WANTED | _FILE_TAGS
_ENTRY = struct.Struct(">iIiI")


class HeaderError(ValueError):
    """A header blob that cannot give a package's name and version."""


@dataclass(frozen=True)
class HeaderInfo:
    """What hullscan reads from one installed package's header ("" for a missing tag)."""

    name: str
    version: str
    release: str
    epoch: int | None = None
    arch: str = ""
    source_rpm: str = ""
    vendor: str = ""
    modularity_label: str = ""
    problems: tuple[str, ...] = ()
    #: installed files (not directories) without the leading '/'; only with files=True
    files: tuple[str, ...] = ()

    @property
    def evr(self) -> str:
        """``[epoch:]version-release``; epoch 0 is left out (it compares as no epoch)."""
        prefix = f"{self.epoch}:" if self.epoch else ""
        return f"{prefix}{self.version}-{self.release}"


@dataclass(frozen=True)
class _Entry:
    tag: int
    type: int
    offset: int
    count: int


def parse_header(blob: bytes, *, files: bool = False) -> HeaderInfo:
    """Decode the tags hullscan needs from one header blob; HeaderError if it cannot.

    `files`: also decode the file list (costs time; only the analyzer needs it)."""
    if blob[:4] == HEADER_MAGIC:
        blob = blob[8:]
    if len(blob) < 8:
        raise HeaderError(f"header blob of {len(blob)} bytes is too short")
    il, dl = struct.unpack_from(">II", blob, 0)
    if not 1 <= il <= MAX_ENTRIES:
        raise HeaderError(f"absurd index entry count {il}")
    if dl > MAX_DATA:
        raise HeaderError(f"absurd data size {dl}")
    start = 8 + 16 * il
    if start + dl > len(blob):
        raise HeaderError(
            f"header claims {start + dl} bytes ({il} entries, {dl} data) but has {len(blob)}"
        )
    store = blob[start : start + dl]
    found: dict[int, _Entry] = {}
    first = _Entry(*_ENTRY.unpack_from(blob, 8))
    problems: list[str] = []
    if first.tag in _REGION_TAGS and first.type == TYPE_BIN and first.count == 16:
        problem = _region_problem(first, store, il)
        if problem:
            problems.append(problem)
    wanted = _WANTED_WITH_FILES if files else _WANTED
    for tag, typ, offset, count in _ENTRY.iter_unpack(blob[8:start]):
        if tag in wanted:
            found[tag] = _Entry(tag, typ, offset, count)  # dribble entries come last and win
    values: dict[int, str] = {}
    for tag, label in _STRING_TAGS.items():
        entry = found.get(tag)
        if entry is None:
            continue
        try:
            values[tag] = _string(entry, store)
        except HeaderError as exc:
            if tag in _REQUIRED:
                raise HeaderError(f"{label}: {exc}") from None
            problems.append(f"{label}: {exc}")
    for tag in _REQUIRED:
        if tag not in values:
            raise HeaderError(f"no {_STRING_TAGS[tag]} tag")
    epoch = None
    if TAG_EPOCH in found:
        try:
            epoch = _int32(found[TAG_EPOCH], store)
        except HeaderError as exc:
            problems.append(f"epoch: {exc}")
    owned: tuple[str, ...] = ()
    if files:
        try:
            owned = _file_list(found, store)
        except HeaderError as exc:
            problems.append(f"file list: {exc}")
    return HeaderInfo(
        name=values[TAG_NAME],
        version=values[TAG_VERSION],
        release=values[TAG_RELEASE],
        epoch=epoch,
        arch=values.get(TAG_ARCH, ""),
        source_rpm=values.get(TAG_SOURCERPM, ""),
        vendor=values.get(TAG_VENDOR, ""),
        modularity_label=values.get(TAG_MODULARITYLABEL, ""),
        problems=tuple(problems),
        files=owned,
    )


def _region_problem(region: _Entry, store: bytes, il: int) -> str:
    """Why the region trailer is unusable, or "" (only reported: reading needs no region)."""
    if region.offset < 0 or region.offset + 16 > len(store):
        return "region trailer lies outside the data store"
    tag, typ, back, _count = _ENTRY.unpack_from(store, region.offset)
    if tag != region.tag or typ != TYPE_BIN or back >= 0 or back % 16 or -back // 16 > il:
        return "damaged region trailer"
    return ""


def _string(entry: _Entry, store: bytes) -> str:
    """First string of a STRING, I18NSTRING or STRING_ARRAY entry, NUL-terminated in bounds."""
    if entry.type not in (TYPE_STRING, TYPE_I18NSTRING, TYPE_STRING_ARRAY):
        raise HeaderError(f"type {entry.type} is not a string")
    if entry.count < 1:
        raise HeaderError("empty string entry")
    if not 0 <= entry.offset < len(store):
        raise HeaderError(f"offset {entry.offset} outside the {len(store)}-byte data store")
    end = store.find(b"\0", entry.offset)
    if end < 0:
        raise HeaderError("string runs past the data store")
    return store[entry.offset : end].decode("utf-8", errors="replace")


def _int32(entry: _Entry, store: bytes) -> int:
    if entry.type != TYPE_INT32 or entry.count < 1:
        raise HeaderError(f"type {entry.type} x{entry.count} is not an INT32")
    if entry.offset < 0 or entry.offset + 4 > len(store):
        raise HeaderError(f"offset {entry.offset} outside the {len(store)}-byte data store")
    value: int = struct.unpack_from(">I", store, entry.offset)[0]
    return value


def _file_list(found: dict[int, _Entry], store: bytes) -> tuple[str, ...]:
    """Installed files (directories left out), relative to the root."""
    if TAG_BASENAMES in found:
        basenames = _strings(found[TAG_BASENAMES], store)
        if TAG_DIRNAMES not in found or TAG_DIRINDEXES not in found:
            raise HeaderError("BASENAMES without DIRNAMES or DIRINDEXES")
        dirnames = _strings(found[TAG_DIRNAMES], store)
        indexes = _ints(found[TAG_DIRINDEXES], store, TYPE_INT32, "I")
        if len(indexes) != len(basenames):
            raise HeaderError(f"{len(basenames)} base names but {len(indexes)} dir indexes")
        try:
            names = [dirnames[i] + base for i, base in zip(indexes, basenames, strict=True)]
        except IndexError:
            raise HeaderError("dir index out of range") from None
    elif TAG_OLDFILENAMES in found:
        names = _strings(found[TAG_OLDFILENAMES], store)
    else:
        return ()
    modes: tuple[int, ...] = ()
    if TAG_FILEMODES in found:
        modes = _ints(found[TAG_FILEMODES], store, TYPE_INT16, "H")
    if len(modes) != len(names):  # no modes: keep every path (directories do no harm)
        return tuple(name.lstrip("/") for name in names)
    return tuple(
        name.lstrip("/") for name, mode in zip(names, modes, strict=True) if not stat.S_ISDIR(mode)
    )


def _strings(entry: _Entry, store: bytes) -> list[str]:
    """Every string of a STRING_ARRAY entry, each NUL-terminated within the data store."""
    if entry.type != TYPE_STRING_ARRAY:
        raise HeaderError(f"type {entry.type} is not a string array")
    if not 0 <= entry.offset <= len(store):
        raise HeaderError(f"offset {entry.offset} outside the {len(store)}-byte data store")
    if entry.count == 0:
        return []
    end = entry.offset
    for _ in range(entry.count):
        end = store.find(b"\0", end)
        if end < 0:
            raise HeaderError("string array runs past the data store")
        end += 1
    text = store[entry.offset : end - 1].decode("utf-8", errors="backslashreplace")
    return text.split("\0")


def _ints(entry: _Entry, store: bytes, kind: int, code: str) -> tuple[int, ...]:
    size = struct.calcsize(code)
    if entry.type != kind:
        raise HeaderError(f"type {entry.type} is not {'INT16' if kind == TYPE_INT16 else 'INT32'}")
    if entry.offset < 0 or entry.offset + size * entry.count > len(store):
        raise HeaderError(f"array at {entry.offset} runs past the {len(store)}-byte data store")
    return struct.unpack_from(f">{entry.count}{code}", store, entry.offset)
