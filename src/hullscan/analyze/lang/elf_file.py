"""Just enough of ELF to find a named section and read bytes at a virtual address.

Go and Rust binaries record what they were built from in sections (`.go.buildinfo`,
`.dep-v0`); older Go binaries point from there to strings elsewhere in the image, so a
virtual address must be mapped back to a file offset through the PT_LOAD segments.
`debug/elf` or pyelftools would do, but this is all the analyzers need, it reads from the
bytes the walker already holds, and every offset is checked against the file's size, so
a truncated or hostile file raises ElfError instead of reading garbage.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ELF_MAGIC = b"\x7fELF"
_SHT_NOBITS = 8
_PT_LOAD = 1
#: More sections than this is not a real program (the largest real ones have a few hundred
#: thousand with -ffunction-sections object files; linked executables far fewer).
_MAX_SECTIONS = 1 << 16


class ElfError(ValueError):
    """The file starts like ELF but its headers do not fit in it."""


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    addr: int
    offset: int
    size: int


@dataclass(frozen=True)
class Segment:
    vaddr: int
    offset: int
    filesz: int


class ElfFile:
    """Section and segment tables of an ELF image held in memory (32/64-bit, either byte
    order). Construct with `ElfFile.parse`, which returns None for non-ELF bytes."""

    def __init__(
        self,
        data: bytes,
        bits: int,
        big_endian: bool,
        sections: tuple[Section, ...],
        segments: tuple[Segment, ...],
    ) -> None:
        self.data = data
        self.bits = bits
        self.big_endian = big_endian
        self.sections = sections
        self.segments = segments

    @classmethod
    def parse(cls, data: bytes) -> ElfFile | None:
        """The ELF tables of `data`, or None when it is not ELF at all."""
        if len(data) < 52 or not data.startswith(ELF_MAGIC):
            return None
        bits = {1: 32, 2: 64}.get(data[4])
        order = {1: "<", 2: ">"}.get(data[5])
        if bits is None or order is None:
            raise ElfError("unknown ELF class or byte order")
        if bits == 64:
            if len(data) < 64:
                raise ElfError("truncated ELF header")
            phoff, shoff = struct.unpack_from(order + "QQ", data, 32)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(
                order + "HHHHH", data, 54
            )
        else:
            phoff, shoff = struct.unpack_from(order + "II", data, 28)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(
                order + "HHHHH", data, 42
            )
        segments = _segments(data, order, bits, phoff, phentsize, phnum)
        sections = _sections(data, order, bits, shoff, shentsize, shnum, shstrndx)
        return cls(data, bits, order == ">", sections, segments)

    def section(self, name: str) -> Section | None:
        for section in self.sections:
            if section.name == name:
                return section
        return None

    def section_data(self, section: Section) -> bytes:
        if section.type == _SHT_NOBITS:
            return b""
        return self.data[section.offset : section.offset + section.size]

    def read_at(self, vaddr: int, size: int) -> bytes | None:
        """`size` bytes at virtual address `vaddr`, when one loaded segment holds them all."""
        for seg in self.segments:
            if seg.vaddr <= vaddr and vaddr + size <= seg.vaddr + seg.filesz:
                start = seg.offset + (vaddr - seg.vaddr)
                return self.data[start : start + size]
        return None


def _segments(
    data: bytes, order: str, bits: int, phoff: int, phentsize: int, phnum: int
) -> tuple[Segment, ...]:
    if not phoff or not phnum:
        return ()
    need = 56 if bits == 64 else 32
    if phentsize < need or phoff + phnum * phentsize > len(data):
        raise ElfError("program headers lie outside the file")
    segments: list[Segment] = []
    for i in range(phnum):
        at = phoff + i * phentsize
        if bits == 64:
            p_type, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from(
                order + "IIQQQQ", data, at
            )
        else:
            p_type, offset, vaddr, _paddr, filesz = struct.unpack_from(order + "IIIII", data, at)
        if p_type == _PT_LOAD and offset + filesz <= len(data):
            segments.append(Segment(vaddr, offset, filesz))
    return tuple(segments)


def _sections(
    data: bytes,
    order: str,
    bits: int,
    shoff: int,
    shentsize: int,
    shnum: int,
    shstrndx: int,
) -> tuple[Section, ...]:
    if not shoff:
        return ()
    need = 64 if bits == 64 else 40
    if shentsize < need or shoff + need > len(data):
        raise ElfError("section headers lie outside the file")
    raw = [_section_header(data, order, bits, shoff)]
    if shnum == 0:  # extended numbering: the count is in section 0's size
        shnum = raw[0][4]
    if shstrndx == 0xFFFF:  # SHN_XINDEX: the index is in section 0's link
        shstrndx = raw[0][5]
    if shnum > _MAX_SECTIONS or shoff + shnum * shentsize > len(data):
        raise ElfError("section headers lie outside the file")
    raw.extend(_section_header(data, order, bits, shoff + i * shentsize) for i in range(1, shnum))
    names = b""
    if 0 < shstrndx < len(raw):
        _n, _t, _a, offset, size, _l = raw[shstrndx]
        names = data[offset : offset + size]
    sections: list[Section] = []
    for name_at, kind, addr, offset, size, _link in raw:
        if kind != _SHT_NOBITS and offset + size > len(data):
            continue  # a section cut off by truncation is simply not there
        end = names.find(b"\0", name_at)
        name = names[name_at : end if end >= 0 else len(names)].decode("latin-1")
        sections.append(Section(name, kind, addr, offset, size))
    return tuple(sections)


def _section_header(
    data: bytes, order: str, bits: int, at: int
) -> tuple[int, int, int, int, int, int]:
    """(name offset, type, addr, offset, size, link) of the header at `at`."""
    if bits == 64:
        name, kind, _flags, addr, offset, size, link = struct.unpack_from(
            order + "IIQQQQI", data, at
        )
    else:
        name, kind, _flags, addr, offset, size, link = struct.unpack_from(
            order + "IIIIIII", data, at
        )
    return name, kind, addr, offset, size, link


#: The walker's `mode` when the layer format does not record permission bits.
UNKNOWN_MODE = -1
#: Programs smaller than this carry no build info worth the read: the smallest Go binary is
#: over 1 MiB and a stripped Rust hello-world over 300 KiB.
MIN_PROGRAM_SIZE = 128 * 1024
#: Larger files are not read for build info (walker memory bound); real Go and Rust
#: programs stay well below (kubelet ~110 MiB).
MAX_PROGRAM_SIZE = 256 * 1024 * 1024
#: Suffixes of files that are never the programs these sections live in.
_DATA_SUFFIX_WORDS = """
a o ko lo la py pyc pyo pyi pyd jar war ear jpi hpi class js mjs cjs ts map json yaml
yml toml xml html htm css txt md rst pdf png jpg jpeg gif svg ico webp bmp tif tiff ttf
ttc otf woff woff2 pfb afm pcf gz tgz xz txz bz2 zst lz4 lzma zip 7z rar tar deb rpm apk
whl egg gem nupkg mo po pak dat db sqlite sqlite3 bin h hpp c cc cpp go rs rb pl pm php
sh lua wasm dll pdb mp3 mp4 wav ogg log lock idx pack rlib rmeta pem crt der key npy npz
h5 pt pth onnx safetensors ckpt gguf parquet arrow csv tsv jsa jmod sym debug mgc bc
typelib rbs ja
"""
_DATA_SUFFIXES = frozenset(_DATA_SUFFIX_WORDS.split())
#: Trees that hold data, not programs; skipped when the permission bits are unknown.
_DATA_DIRS = (
    "usr/share/",
    "usr/include/",
    "usr/lib/debug/",
    "usr/lib/locale/",
    "usr/src/",
    "var/cache/",
    "var/lib/apt/",
    "var/lib/dpkg/",
    "var/lib/rpm/",
    "var/log/",
    "proc/",
    "sys/",
)


def plausible_program(path: str, mode: int, size: int) -> bool:
    """Whether a file may be a program with build info (cheap: decided on every entry).

    Executable bits when the source records them (a rootfs), otherwise (image layers: the
    tar reader keeps no permission bits) a size window, no data-file suffix and not under a
    data tree. Shared objects are left out: Go and Rust build info lives in programs.
    """
    if not MIN_PROGRAM_SIZE <= size <= MAX_PROGRAM_SIZE:
        return False
    if mode != UNKNOWN_MODE and not mode & 0o111:
        return False
    base = path.rpartition("/")[2]
    if base.endswith(".so") or ".so." in base:
        return False
    dot = base.rfind(".")
    if dot > 0 and base[dot + 1 :].lower() in _DATA_SUFFIXES:
        return False
    return mode != UNKNOWN_MODE or not path.startswith(_DATA_DIRS)
