"""The hand-written tar reader reads every archive exactly as tarfile does.

Oracle: stdlib tarfile in stream mode (what the walker used before) on real layers from
../shared/data/images, on archives tarfile writes in each format, and on sparse archives
GNU tar writes; each fed in chunks of awkward sizes so every header and data boundary
falls across chunks somewhere.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hullscan.image.archive import open_archive
from hullscan.image.tarstream import TarFormatError, TarStream
from hullscan.image.walker import normalize_path

Row = tuple[str, str, str, int, str | None]


def _kind(m: tarfile.TarInfo) -> str:
    for name in ("isfile", "isdir", "issym", "islnk", "isfifo", "ischr", "isblk"):
        if getattr(m, name)():
            return name
    return "other"


def oracle(data: bytes) -> list[Row]:
    rows: list[Row] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        for m in tar:
            content = None
            if m.isfile() and not m.issparse():
                fh = tar.extractfile(m)
                assert fh is not None
                content = hashlib.sha256(fh.read()).hexdigest()
            size = m.size if m.isfile() and not m.issparse() else 0
            rows.append((normalize_path(m.name), _kind(m), m.linkname, size, content))
    return rows


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def mine(data: bytes, chunk: int, sparse: list[str] | None = None) -> list[Row]:
    rows: list[Row] = []
    tar = TarStream(chunked(data, chunk))
    for m in tar.members():
        kind = "isfile" if m.isfile() else "isdir" if m.isdir() else ""
        kind = kind or ("issym" if m.issym() else "islnk" if m.islnk() else "")
        kind = kind or {b"6": "isfifo", b"3": "ischr", b"4": "isblk"}.get(m.type, "other")
        content = None
        if m.isfile() and not m.sparse:
            content = hashlib.sha256(tar.read(m)).hexdigest()
        if m.sparse and sparse is not None:
            sparse.append(normalize_path(m.name))
        size = m.size if m.isfile() and not m.sparse else 0
        rows.append((normalize_path(m.name), kind, m.linkname, size, content))
    return rows


CHUNKS = (1, 7, 511, 512, 513, 4096, 1 << 20)


def assert_same(data: bytes, chunks: tuple[int, ...] = CHUNKS) -> list[Row]:
    expected = oracle(data)
    for chunk in chunks:
        assert mine(data, chunk) == expected, f"chunk size {chunk}"
    return expected


def layer_blobs(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every layer of every image archive in shared/data/images, uncompressed."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and (
            path.suffix in (".tar", ".gz", ".layer") or path.name == "index.json"
        ):
            if path.suffix == ".layer":
                yield str(path), path.read_bytes()
                continue
            target = path.parent if path.name == "index.json" else path
            try:
                image = open_archive(target)
            except Exception:
                continue  # a layer tar itself, or not an image
            with image:
                for layer in image.artifact.layers:
                    with image.open_layer(layer) as fh:
                        blob = fh.read()
                    if blob[:2] == b"\x1f\x8b":
                        blob = gzip.decompress(blob)
                    elif blob[:4] == b"\x28\xb5\x2f\xfd":
                        import zstandard

                        blob = zstandard.ZstdDecompressor().stream_reader(blob).read()
                    yield f"{target.name}#{layer.index}", blob


def test_real_layers_read_like_tarfile(shared_data: Path) -> None:
    seen = 0
    for _name, data in layer_blobs(shared_data / "images"):
        assert_same(data, (509, 1 << 20))
        seen += 1
    assert seen >= 30


def build(fmt: int, **kw: object) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, **kw) as tar:  # type: ignore[call-overload]

        def add(
            name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""
        ) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)

        long_dir = "usr/lib/" + "d" * 120
        add("./etc/")
        add("./etc/os-release", data=b"ID=debian\n")
        add("empty")
        add("exact", data=b"x" * 1024)
        add("odd", data=bytes(range(256)) * 3)
        add(f"{long_dir}/{'f' * 90}", data=b"long name")  # ustar prefix or long name
        add("link", tarfile.SYMTYPE, link="../etc/os-release")
        add("hard", tarfile.LNKTYPE, link="./etc/os-release")
        add("fifo", tarfile.FIFOTYPE)
        add("dev/null", tarfile.CHRTYPE)
        add("var/lib/.wh.gone")
        if fmt != tarfile.USTAR_FORMAT:
            add("link-to-long", tarfile.SYMTYPE, link="/" + long_dir + "/" + "t" * 120)
            add("ünïcödé/☃", data=b"snow")
            add("x" * 300, data=b"very long")
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_every_format_tarfile_writes(fmt: int) -> None:
    rows = assert_same(build(fmt))
    names = [r[0] for r in rows]
    assert f"usr/lib/{'d' * 120}/{'f' * 90}" in names
    assert ("hard", "islnk", "./etc/os-release", 0, None) in rows


def test_pax_global_header_and_surrogate_names() -> None:
    data = build(tarfile.PAX_FORMAT, pax_headers={"comment": "global"})
    assert data[156:157] == b"g"
    assert_same(data)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("caf\udce9")  # a name that is not UTF-8 on disk
        tar.addfile(info, io.BytesIO(b""))
    # not UTF-8: shown as an escape, so every report can encode the path
    assert [r[0] for r in assert_same(raw.getvalue())] == ["caf\\xe9"]


def test_gnu_base256_size_is_read() -> None:
    data = bytearray(build(tarfile.GNU_FORMAT))
    # re-encode the first file's size (10 bytes) in base-256 and fix the checksum
    offset = 512  # "./etc/" first, then "./etc/os-release"
    header = data[offset : offset + 512]
    header[124:136] = b"\x80" + (10).to_bytes(11, "big")
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    data[offset : offset + 512] = header
    assert_same(bytes(data))


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar not installed")
@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_sparse_members_are_skipped_exactly(tmp_path: Path, fmt: str) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    with (tree / "sparse").open("wb") as fh:
        fh.write(b"head")
        fh.seek(10_000_000)
        fh.write(b"tail")
    (tree / "after").write_bytes(b"read me")
    archive = tmp_path / "a.tar"
    subprocess.run(
        [
            "tar",
            "--sparse",
            f"--format={fmt}",
            "-cf",
            str(archive),
            "-C",
            str(tree),
            "sparse",
            "after",
        ],
        check=True,
    )
    data = archive.read_bytes()
    sparse: list[str] = []
    rows = mine(data, 4096, sparse)
    assert sparse == ["sparse"]
    assert rows[-1] == ("after", "isfile", "", 7, hashlib.sha256(b"read me").hexdigest())
    assert [r[0] for r in rows] == [r[0] for r in oracle(data)]


def test_end_of_archive_like_tarfile() -> None:
    data = build(tarfile.GNU_FORMAT)
    end = data.rstrip(b"\0")
    end += b"\0" * (-len(end) % 512)
    assert mine(end, 512) == oracle(data)  # no end-of-archive blocks at all
    assert mine(data + b"junk" * 300, 512) == oracle(data)  # junk after the end blocks
    first = 512 + 512 + 512  # "./etc/" header, os-release header + data
    cut = data[: first + 100]  # inside the next header
    assert mine(cut, 512) == oracle(cut)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"not a tar" * 100, "invalid tar header"),
        (b"\x01" * 100, "truncated header"),
    ],
)
def test_not_a_tar_is_an_error(data: bytes, message: str) -> None:
    with pytest.raises(TarFormatError, match=message):
        list(TarStream(iter([data])).members())


def test_extended_header_without_member_is_an_error() -> None:
    data = build(tarfile.GNU_FORMAT)
    index = data.index(b"././@LongLink")
    with pytest.raises(TarFormatError, match="extended header without a member"):
        list(TarStream(iter([data[: index + 1024]])).members())


def test_reading_data_cut_short_is_an_error() -> None:
    data = build(tarfile.GNU_FORMAT)
    index = data.index(bytes(range(256)))
    tar = TarStream(iter([data[: index + 100]]))
    with pytest.raises(TarFormatError, match="unexpected end of data"):
        for member in tar.members():
            if member.name == "odd":
                tar.read(member)


def test_big_layers_with_many_members(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(3000):
            info = tarfile.TarInfo(f"usr/share/{i % 37}/file-{i}")
            payload = os.urandom(i % 1500)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    assert len(assert_same(buf.getvalue(), (4093, 65536))) == 3000


def test_huge_extended_header_is_refused_not_buffered() -> None:
    header = bytearray(tarfile.TarInfo("././@LongLink").tobuf(tarfile.GNU_FORMAT))[:512]
    header[156:157] = b"L"
    header[124:136] = b"\x80" + (1 << 33).to_bytes(11, "big")  # 8 GiB of "name"
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    endless = iter([bytes(header)] + [b"a" * 65536] * 1000)
    with pytest.raises(TarFormatError, match="extended header of 8589934592 bytes"):
        list(TarStream(endless).members())
