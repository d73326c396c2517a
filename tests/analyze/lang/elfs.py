"""Hand-built ELF files: layouts the toolchains here no longer produce (Go's pre-1.18
pointer build info, 32-bit big-endian) and truncations real binaries never have."""

from __future__ import annotations

import struct
from typing import Literal

BASE = 0x400000
SENTINEL_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
SENTINEL_END = bytes.fromhex("f932433186182072008242104116d8f2")


def modinfo(text: str) -> bytes:
    """Module info as the linker frames it."""
    return SENTINEL_START + text.encode() + SENTINEL_END


def elf(sections: list[tuple[str, bytes]], *, bits: int = 64, big_endian: bool = False) -> bytes:
    """An ELF executable whose sections all lie in one PT_LOAD segment mapping the file at
    BASE (virtual address = BASE + file offset), each section 16-byte aligned."""
    order = ">" if big_endian else "<"
    ehsize, phsize, shsize = (64, 56, 64) if bits == 64 else (52, 32, 40)
    body = bytearray()
    offsets: list[int] = []
    cursor = ehsize + phsize
    for _name, data in sections:
        pad = -cursor % 16
        body += bytes(pad)
        cursor += pad
        offsets.append(cursor)
        body += data
        cursor += len(data)
    names = b"\0" + b"".join(name.encode() + b"\0" for name, _ in sections) + b".shstrtab\0"
    strtab_offset = cursor
    body += names
    cursor += len(names)
    pad = -cursor % 8
    body += bytes(pad)
    cursor += pad
    shoff = cursor
    total = shoff + shsize * (len(sections) + 2)
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 2 if big_endian else 1, 1]) + bytes(9)
    if bits == 64:
        header = ident + struct.pack(
            order + "HHIQQQIHHHHHH",
            2,
            62,
            1,
            BASE,
            ehsize,
            shoff,
            0,
            ehsize,
            phsize,
            1,
            shsize,
            len(sections) + 2,
            len(sections) + 1,
        )
        program = struct.pack(order + "IIQQQQQQ", 1, 5, 0, BASE, BASE, total, total, 0x1000)
    else:
        header = ident + struct.pack(
            order + "HHIIIIIHHHHHH",
            2,
            20,
            1,
            BASE,
            ehsize,
            shoff,
            0,
            ehsize,
            phsize,
            1,
            shsize,
            len(sections) + 2,
            len(sections) + 1,
        )
        program = struct.pack(order + "IIIIIIII", 1, 0, BASE, BASE, total, total, 5, 0x1000)
    table = bytes(shsize)
    name_at = 1
    for (name, data), offset in zip(sections, offsets, strict=True):
        table += _section(order, bits, name_at, 1, BASE + offset, offset, len(data), shsize)
        name_at += len(name) + 1
    table += _section(order, bits, name_at, 3, 0, strtab_offset, len(names), shsize)
    return header + program + bytes(body) + table


def _section(
    order: str, bits: int, name: int, kind: int, addr: int, offset: int, size: int, shsize: int
) -> bytes:
    if bits == 64:
        raw = struct.pack(order + "IIQQQQIIQQ", name, kind, 2, addr, offset, size, 0, 0, 16, 0)
    else:
        raw = struct.pack(order + "IIIIIIIIII", name, kind, 2, addr, offset, size, 0, 0, 16, 0)
    return raw.ljust(shsize, b"\0")


def pointer_buildinfo(
    version: str, info: bytes, *, bits: int = 64, big_endian: bool = False
) -> bytes:
    """A binary with Go's pre-1.18 build info: the header points at two Go string headers
    in `.data`, which point at the version and the module info."""
    ptr = bits // 8
    order: Literal["little", "big"] = "big" if big_endian else "little"
    strings = version.encode() + info
    # .data: [version header][modinfo header][version bytes][modinfo bytes]
    placeholder = bytes(4 * ptr) + strings
    header = b"\xff Go buildinf:" + bytes([ptr, 1 if big_endian else 0]) + bytes(2 * ptr)
    header = header.ljust(32, b"\0")
    first = elf(
        [(".go.buildinfo", header), (".data", placeholder)], bits=bits, big_endian=big_endian
    )
    data_at = first.index(placeholder)
    data_addr = BASE + data_at
    version_addr = data_addr + 4 * ptr
    info_addr = version_addr + len(version)

    def word(value: int) -> bytes:
        return value.to_bytes(ptr, order)

    data = word(version_addr) + word(len(version)) + word(info_addr) + word(len(info)) + strings
    header = (header[:16] + word(data_addr) + word(data_addr + 2 * ptr)).ljust(32, b"\0")
    return elf([(".go.buildinfo", header), (".data", data)], bits=bits, big_endian=big_endian)
