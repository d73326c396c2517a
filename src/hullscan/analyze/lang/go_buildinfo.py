"""Read the build information the Go linker embeds in every binary (Go 1.13 and later).

The layout is Go's own (src/debug/buildinfo/buildinfo.go): a 32-byte header starting with
`\\xff Go buildinf:`, aligned to 16 bytes, at the start of the `.go.buildinfo` section (or
of the first writable segment in older linkers). Byte 14 is the pointer size, byte 15 the
flags: bit 1 means big-endian, bit 2 means the Go 1.18+ inline layout where the Go version
and the module info follow the header as varint-length-prefixed strings. Without bit 2,
two pointers after the header lead to Go string headers (data pointer, length) elsewhere in
the image, which is why the pointer layout needs the ELF segment table.

The module info is text framed by 16 sentinel bytes on each side:
`path`, `mod`, `dep` and `=>` (replacement of the line before) lines, tab-separated, and
`build` lines with the build settings (`-ldflags=...`, `vcs.revision=...`).
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from typing import Literal

from hullscan.analyze.lang.elf_file import ElfError, ElfFile

MAGIC = b"\xff Go buildinf:"
_HEADER_SIZE = 32
_FLAG_BIG_ENDIAN = 0x1
_FLAG_INLINE = 0x2
#: Go refuses strings longer than this in the pointer layout; so do we.
_MAX_STRING = 1 << 20
#: How far into a section or segment the header may sit (Go reads 64 KiB too).
_SEARCH_WINDOW = 64 * 1024


@dataclass(frozen=True)
class Module:
    path: str
    version: str
    replace: Module | None = None


@dataclass
class BuildInfo:
    """What one binary says about how it was built."""

    go_version: str  # as embedded: go1.22.1, go1.21rc2, devel go1.23-abc, ...
    path: str = ""  # the main package's import path
    main: Module | None = None
    deps: list[Module] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)


_Order = Literal["little", "big"]


class BuildInfoError(ValueError):
    """The binary has a build-info header that cannot be read."""


def read_build_info(data: bytes) -> BuildInfo | None:
    """The build info of a Go binary, or None when `data` is not one."""
    try:
        elf = ElfFile.parse(data)
    except ElfError:  # damaged headers: the magic is still searched for
        elf = None
    header_at = _find_header(data, elf)
    if header_at < 0:
        return None
    header = data[header_at : header_at + _HEADER_SIZE]
    if len(header) < _HEADER_SIZE:
        raise BuildInfoError("truncated build-info header")
    ptr_size, flags = header[14], header[15]
    if flags & _FLAG_INLINE:
        version, at = _varint_string(data, header_at + _HEADER_SIZE)
        modinfo, _ = _varint_string(data, at)
    else:
        if ptr_size not in (4, 8):
            raise BuildInfoError(f"build info with a pointer size of {ptr_size}")
        if elf is None:
            return None  # the pointer layout needs a segment table; only ELF is mapped
        order: _Order = "big" if flags & _FLAG_BIG_ENDIAN else "little"
        first = int.from_bytes(header[16 : 16 + ptr_size], order)
        second = int.from_bytes(header[16 + ptr_size : 16 + 2 * ptr_size], order)
        version = _pointed_string(elf, first, ptr_size, order)
        modinfo = _pointed_string(elf, second, ptr_size, order)
    if not version:
        return None
    info = BuildInfo(go_version=version.decode("utf-8", "replace"))
    text = modinfo.decode("utf-8", "replace")
    # the sentinels: 16 bytes each side, the text ending in a newline
    if len(text) >= 33 and text[-17] == "\n":
        _parse_modinfo(text[16:-16], info)
    return info


def _find_header(data: bytes, elf: ElfFile | None) -> int:
    """Offset of the build-info header: in `.go.buildinfo` for ELF programs (every Go linker
    since 1.13 writes it, and strip keeps it), else the first 16-byte-aligned occurrence of
    the magic anywhere (section headers removed, Mach-O or PE). An ELF file with sections
    but no `.go.buildinfo` is not a Go program: no need to scan all of it."""
    if elf is not None and elf.sections:
        section = elf.section(".go.buildinfo")
        if section is None or section.size < _HEADER_SIZE:
            return -1
        end = section.offset + min(section.size, _SEARCH_WINDOW)
        at = data.find(MAGIC, section.offset, end)
        while at >= 0 and (at - section.offset) % 16:
            at = data.find(MAGIC, at + 1, end)
        return at
    at = data.find(MAGIC)
    while at >= 0 and at % 16:
        at = data.find(MAGIC, at + 1)
    return at


def _varint_string(data: bytes, at: int) -> tuple[bytes, int]:
    length = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise BuildInfoError("truncated build info")
        byte = data[at]
        at += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if length > _MAX_STRING or at + length > len(data):
        raise BuildInfoError("build-info string runs past the end of the file")
    return data[at : at + length], at + length


def _pointed_string(elf: ElfFile, addr: int, ptr_size: int, order: _Order) -> bytes:
    """A Go string (data pointer, length) at virtual address `addr`; b"" when unmapped."""
    header = elf.read_at(addr, 2 * ptr_size)
    if header is None:
        return b""
    data_addr = int.from_bytes(header[:ptr_size], order)
    length = int.from_bytes(header[ptr_size:], order)
    if length > _MAX_STRING:
        return b""
    return elf.read_at(data_addr, length) or b""


def _parse_modinfo(text: str, info: BuildInfo) -> None:
    """Go's runtime/debug.ParseBuildInfo, forgiving: unknown or short lines are skipped."""
    last: Module | None = None
    last_list: list[Module] | None = None
    for line in text.split("\n"):
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if kind == "path":
            info.path = rest
        elif kind in ("mod", "dep") and len(fields) >= 2:
            last = Module(fields[0], fields[1])
            if kind == "mod":
                info.main, last_list = last, None
            else:
                info.deps.append(last)
                last_list = info.deps
        elif kind == "=>" and last is not None and len(fields) >= 2:
            replaced = Module(last.path, last.version, Module(fields[0], fields[1]))
            if last_list is None:
                info.main = replaced
            else:
                last_list[-1] = replaced
            last = None
        elif kind == "build":
            key, sep, value = rest.partition("=")
            if sep:
                info.settings[_unquote(key)] = _unquote(value)


def _unquote(text: str) -> str:
    """Build settings are strconv.Quote'd when they hold spaces, quotes or `=`."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:  # Go's escapes (\t, \x41, \u00e9, \") are all Python string escapes
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text[1:-1]
        return value if isinstance(value, str) else text[1:-1]
    return text


_GO_TAG = re.compile(r"^go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(beta|rc)(\d+))?$")


def go_tag_to_semver(tag: str) -> str:
    """`go1.22.1` -> `v1.22.1`, `go1.21` -> `v1.21.0`, `go1.21rc2` -> `v1.21.0-rc.2`
    (golang.org/x/vuln's GoTagToSemver, what the Go vulnerability DB's stdlib ranges use);
    "" for development builds (`devel go1.23-abc`) that have no release version."""
    words = tag.split()
    if not words:
        return ""
    match = _GO_TAG.match(words[0])  # drops experiments: "go1.22.1 X:boringcrypto"
    if not match:
        return ""
    major, minor, patch, pre, pre_n = match.groups()
    if minor is None:
        return "v1.0.0" if major == "1" else ""
    if major == "1" and minor == "0":
        return ""  # go1.0 never existed as a tag; go1 is 1.0.0
    version = f"v{major}.{minor}.{patch or 0}"
    if pre:
        version += f"-{pre}.{pre_n}"
    return version


_SEMVER = re.compile(r"^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.+-]*)?$")


def ldflags_version(ldflags: str) -> str:
    """The version a build stamped with `-X <pkg>.version=vX.Y.Z` (or `.Version`, `.ver`),
    the way Trivy reads it: the common way to version a Go program whose module info says
    `(devel)`."""
    try:
        words = shlex.split(ldflags)
    except ValueError:
        words = ldflags.split()
    values: list[str] = []
    for i, word in enumerate(words):
        if word in ("-X", "--X") and i + 1 < len(words):
            values.append(words[i + 1])
        elif word.startswith(("-X=", "--X=")):
            values.append(word.partition("=")[2])
    for value in values:
        key, sep, version = value.partition("=")
        if sep and key.lower().endswith((".version", ".ver")) and _SEMVER.match(version):
            return version if version.startswith("v") else f"v{version}"
    return ""
