"""RpmAnalyzer and the pure-Python rpm database readers, on real and damaged databases.

Sources (all under ../shared/data/pkgdb/rpm, see pkgdb/README.md):
- knqyf263/go-rpmdb pkg/testdata: sle15-bci/Packages.db (NDB, SUSE BCI minimal 15.3),
  cbl-mariner-2.0/rpmdb.sqlite (SQLite), libuuid/Packages (Berkeley DB), blob.bin (a raw
  header). Expectations: _expected/go-rpmdb_sle15-bci_Packages.db.expected.json (go-rpmdb's
  rpmdb_testcase_test.go, made upstream with `rpm -qa`), _expected/cbl-mariner-2.0_rpmdb.
  sqlite.rpm-qa.json and _expected/bdb_Packages.rpm-qa.txt (Debian's rpm 4.18 -qa).
- anchore/syft syft/pkg/cataloger/redhat/testdata/Packages (Berkeley DB, package "dive").
- quay/claircore internal/rpm/rpmdb/testdata/package.header (a raw header).
The databases Debian's own rpm writes are tested in test_rpm_debian.py.
"""

from __future__ import annotations

import io
import json
import sqlite3
import struct
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.analyze.os.rpm import (
    RPMDB_PATHS,
    RpmAnalyzer,
    parse_rpmdb,
    read_rpmdb,
    split_source_rpm,
)
from hullscan.analyze.os.rpmdb import (
    HeaderError,
    HeaderInfo,
    detect_backend,
    parse_header,
    read_blobs,
)
from hullscan.analyze.os.rpmdb import header as H
from hullscan.analyze.registry import default_analyzers
from hullscan.errors import AnalyzerError
from hullscan.image.walker import walk_layer
from hullscan.inventory import Applier
from hullscan.model import ArtifactInfo, Layer, Package, PackageType
from tests.image.layers import Entry, diff_id, layer_bytes
from tests.versions.oracles import OracleUnavailable, RpmOracle

RPM = Path("pkgdb/rpm")
GO_RPMDB = RPM / "knqyf263__go-rpmdb/pkg/testdata"
SLE15_NDB = GO_RPMDB / "sle15-bci/Packages.db"
MARINER_SQLITE = GO_RPMDB / "cbl-mariner-2.0/rpmdb.sqlite"
LIBUUID_BDB = GO_RPMDB / "libuuid/Packages"
SYFT_BDB = RPM / "anchore__syft/syft/pkg/cataloger/redhat/testdata/Packages"
CLAIR_HEADER = RPM / "quay__claircore/internal/rpm/rpmdb/testdata/package.header"
GO_RPMDB_BLOB = GO_RPMDB / "blob.bin"
ALL_DATABASES = (SLE15_NDB, MARINER_SQLITE, LIBUUID_BDB, SYFT_BDB)

analyzer = RpmAnalyzer()


# --- helpers: header blobs and NDB files built from scratch ----------------------------


def string(tag: int, text: str, kind: int = H.TYPE_STRING) -> tuple[int, int, bytes, int]:
    return (tag, kind, text.encode() + b"\0", 1)


def int32(tag: int, value: int) -> tuple[int, int, bytes, int]:
    return (tag, H.TYPE_INT32, struct.pack(">I", value), 1)


def build_header(
    entries: Sequence[tuple[int, int, bytes, int]],
    dribble: Sequence[tuple[int, int, bytes, int]] = (),
    *,
    region: bool = True,
) -> bytes:
    """A header blob laid out as rpm stores an installed package (see rpmdb/header.py).

    `entries` go into the HEADERIMMUTABLE region (when `region`), `dribble` after it.
    """
    index: list[tuple[int, int, int, int]] = []
    store = bytearray()

    def put(tag: int, kind: int, data: bytes, count: int) -> None:
        if kind == H.TYPE_INT32:
            store.extend(b"\0" * (-len(store) % 4))
        index.append((tag, kind, len(store), count))
        store.extend(data)

    for entry in entries:
        put(*entry)
    if region:
        ril = len(entries) + 1
        index.insert(0, (H.TAG_HEADERIMMUTABLE, H.TYPE_BIN, len(store), 16))
        store.extend(struct.pack(">iIiI", H.TAG_HEADERIMMUTABLE, H.TYPE_BIN, -16 * ril, 16))
    for entry in dribble:
        put(*entry)
    head = struct.pack(">II", len(index), len(store))
    return head + b"".join(struct.pack(">iIiI", *e) for e in index) + bytes(store)


def package_header(
    name: str,
    version: str = "1.0",
    release: str = "1.el9",
    *,
    epoch: int | None = None,
    arch: str | None = "x86_64",
    source_rpm: str | None = None,
    vendor: str = "",
    modularity_label: str = "",
) -> bytes:
    entries = [
        string(H.TAG_NAME, name),
        string(H.TAG_VERSION, version),
        string(H.TAG_RELEASE, release),
    ]
    if epoch is not None:
        entries.append(int32(H.TAG_EPOCH, epoch))
    if vendor:
        entries.append(string(H.TAG_VENDOR, vendor))
    if arch is not None:
        entries.append(string(H.TAG_ARCH, arch))
    if source_rpm is None:
        source_rpm = f"{name}-{version}-{release}.src.rpm"
    if source_rpm:
        entries.append(string(H.TAG_SOURCERPM, source_rpm))
    if modularity_label:
        entries.append(string(H.TAG_MODULARITYLABEL, modularity_label))
    return build_header(entries)


def build_ndb(blobs: Iterable[tuple[int, bytes]], slot_pages: int = 1) -> bytes:
    """An NDB Packages.db holding `blobs` (package index, header), as rpmpkg.c writes it."""
    items = list(blobs)
    slot_pages = max(slot_pages, (len(items) + 2 + 255) // 256)
    slots = bytearray(b"Slot" + b"\0" * 12) * (slot_pages * 256)
    data = bytearray()
    block = slot_pages * 256
    for slot_no, (index, blob) in enumerate(items, start=2):
        head = struct.pack("<4sIII", b"BlbS", index, 1_700_000_000, len(blob))
        count = (16 + len(blob) + 12 + 15) // 16
        body = head + blob + b"\0" * (count * 16 - 28 - len(blob))
        data += body + struct.pack("<II4s", zlib.adler32(body), len(blob), b"BlbE")
        struct.pack_into("<4sIII", slots, slot_no * 16, b"Slot", index, block, count)
        block += count
    next_index = max((i for i, _ in items), default=0) + 1
    slots[:32] = struct.pack("<4sIIII12x", b"RpmP", 0, 7, slot_pages, next_index)
    return bytes(slots + data)


def shared_blobs(shared_data: Path) -> list[bytes]:
    """Every header blob of every shared database, plus the two raw headers."""
    blobs = [(shared_data / CLAIR_HEADER).read_bytes(), (shared_data / GO_RPMDB_BLOB).read_bytes()]
    for db in ALL_DATABASES:
        content = (shared_data / db).read_bytes()
        blobs += [b.data for b in read_blobs(content, detect_backend(content)).blobs]
    return blobs


def by_nevra(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["arch"]): r for r in rows}


def as_rows(content: bytes) -> dict[tuple[str, str], dict[str, Any]]:
    """read_rpmdb's headers in the shape of the expectation files."""
    db = read_rpmdb(content)
    assert not db.warnings, db.warnings
    return by_nevra(
        {
            "name": h.name,
            "epoch": h.epoch,
            "version": h.version,
            "release": h.release,
            "arch": h.arch,
            "sourcerpm": h.source_rpm,
            "vendor": h.vendor,
            "modularitylabel": h.modularity_label,
        }
        for h in db.headers
    )


@pytest.fixture(scope="module")
def rpm_oracle() -> Iterator[RpmOracle]:
    try:
        oracle = RpmOracle()
    except OracleUnavailable as exc:
        pytest.skip(f"rpm oracle unavailable (Debian package python3-rpm): {exc}")
    with oracle:
        yield oracle


# --- the peers' and rpm's lists of real databases ----------------------------------------


def test_sle15_ndb_matches_go_rpmdb(shared_data: Path) -> None:
    expected_file = shared_data / RPM / "_expected/go-rpmdb_sle15-bci_Packages.db.expected.json"
    fields = ("name", "epoch", "version", "release", "arch", "sourcerpm", "vendor")
    want = by_nevra(
        {k: p[k] for k in (*fields, "modularitylabel")}
        for p in json.loads(expected_file.read_text())["packages"]
    )
    got = as_rows((shared_data / SLE15_NDB).read_bytes())
    assert len(want) == 35
    assert got == want


def test_mariner_sqlite_matches_rpm_qa(shared_data: Path) -> None:
    expected_file = shared_data / RPM / "_expected/cbl-mariner-2.0_rpmdb.sqlite.rpm-qa.json"
    want = by_nevra(
        {**p, "modularitylabel": ""} for p in json.loads(expected_file.read_text())["packages"]
    )
    got = as_rows((shared_data / MARINER_SQLITE).read_bytes())
    assert len(want) == 129
    assert got == want
    assert got[("curl", "x86_64")]["version"] == "7.76.0"  # go-rpmdb's own check


def test_bdb_files_match_rpm_qa(shared_data: Path) -> None:
    lines = (shared_data / RPM / "_expected/bdb_Packages.rpm-qa.txt").read_text().splitlines()
    current = ""
    want: dict[str, list[list[str]]] = {}
    for line in lines:
        if line.startswith("# pkgdb/"):
            current = line[2:].split(" ")[0].rstrip(":")
        elif line and not line.startswith("#"):
            want.setdefault(current, []).append(line.split("\t"))
    assert set(want) == {f"{LIBUUID_BDB}", f"{SYFT_BDB}"}
    for path, rows in want.items():
        db = read_rpmdb((shared_data / path).read_bytes())
        assert db.backend == "bdb" and not db.warnings
        got = [[*_qa_fields(h)] for h in db.headers]
        assert got == rows, path


def _qa_fields(h: HeaderInfo) -> tuple[str, ...]:
    epoch = "" if h.epoch is None else str(h.epoch)
    return (h.name, epoch, h.version, h.release, h.arch, h.source_rpm, h.vendor)


def test_analyzer_packages_of_a_real_database(shared_data: Path) -> None:
    path = "usr/lib/sysimage/rpm/rpmdb.sqlite"
    result = analyzer.analyze(path, (shared_data / MARINER_SQLITE).read_bytes())
    assert not result.warnings
    got = {p.name: p for p in result.packages}
    assert len(got) == 129
    assert got["curl"] == Package(
        name="curl",
        version="7.76.0-6.cm2",
        type=PackageType.RPM,
        arch="x86_64",
        source_name="curl",
        source_version="7.76.0-6.cm2",
        paths=(path,),
        vendor="Microsoft Corporation",
    )
    # epoch kept, and given to the source package whose file name has none
    certs = got["ca-certificates-base"]
    assert (certs.version, certs.source_name, certs.source_version) == (
        "1:2.0.0-1.cm2",
        "ca-certificates",
        "1:2.0.0-1.cm2",
    )
    assert (got["audit-libs"].source_name, got["bzip2-libs"].source_name) == ("audit", "bzip2")


def test_every_shared_header_decodes_as_rpm_does(shared_data: Path, rpm_oracle: RpmOracle) -> None:
    blobs = shared_blobs(shared_data)
    assert len(blobs) == 35 + 129 + 1 + 1 + 2
    for blob, want in zip(blobs, rpm_oracle.read_headers(blobs), strict=True):
        info = parse_header(blob)
        got = {
            "name": info.name,
            "epoch": info.epoch,
            "version": info.version,
            "release": info.release,
            "arch": info.arch,
            "sourcerpm": info.source_rpm,
            "vendor": info.vendor,
            "modularitylabel": info.modularity_label,
        }
        # A missing string tag reads as "" here (syft's dive has an empty VENDOR).
        assert got == {k: "" if v is None and k != "epoch" else v for k, v in want.items()}
        assert not info.problems


def test_raw_headers(shared_data: Path) -> None:
    clair = parse_header((shared_data / CLAIR_HEADER).read_bytes())
    assert (clair.name, clair.evr, clair.vendor) == (
        "crypto-policies",
        "20210213-1.git5c710c0.fc34",
        "Fedora Project",
    )
    blob = (shared_data / GO_RPMDB_BLOB).read_bytes()
    assert parse_header(blob).source_rpm == "publicsuffix-list-20210518-2.fc35.src.rpm"
    # the same header as it opens a package file: magic and reserved bytes first
    assert parse_header(H.HEADER_MAGIC + b"\0" * 4 + blob) == parse_header(blob)


# --- the analyzer contract ------------------------------------------------------------


def test_wants_the_three_database_files_in_both_places() -> None:
    expected = {
        "var/lib/rpm/Packages",
        "var/lib/rpm/Packages.db",
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/Packages",
        "usr/lib/sysimage/rpm/Packages.db",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
    }
    assert expected == RPMDB_PATHS
    assert all(analyzer.wants(p) for p in RPMDB_PATHS)
    for other in (
        "var/lib/rpm/Name",
        "var/lib/rpm/rpmdb.sqlite-wal",
        "var/lib/rpm/__db.001",
        "usr/lib/rpm/rpmdb.sqlite",
        "root/var/lib/rpm/Packages",
        "var/lib/rpm",
    ):
        assert not analyzer.wants(other), other


def test_registered_by_default() -> None:
    names = [a.name for a in default_analyzers()]
    assert "rpm" in names
    wanting = [a.name for a in default_analyzers() if a.wants("var/lib/rpm/Packages")]
    assert wanting == ["rpm"]
    assert RpmAnalyzer.max_file_size >= 256 * 1024 * 1024  # real Packages files are big


def test_backend_is_told_by_content_not_name(shared_data: Path) -> None:
    content = (shared_data / SLE15_NDB).read_bytes()
    result = analyzer.analyze("var/lib/rpm/rpmdb.sqlite", content)
    assert len(result.packages) == 35
    assert detect_backend(content) == "ndb"
    assert detect_backend((shared_data / LIBUUID_BDB).read_bytes()) == "bdb"
    assert detect_backend((shared_data / MARINER_SQLITE).read_bytes()) == "sqlite"


def test_empty_file_is_an_empty_database() -> None:
    result = analyzer.analyze("var/lib/rpm/Packages", b"")
    assert result.packages == () and result.warnings == ()


@pytest.mark.parametrize(
    "content",
    [b"not a database at all", b"\0" * 4096, b"SQLite format 2\0" + b"\0" * 200],
)
def test_not_a_database_raises(content: bytes) -> None:
    with pytest.raises(AnalyzerError, match="not an rpm database"):
        analyzer.analyze("var/lib/rpm/Packages", content)


def test_package_fields_from_headers() -> None:
    headers = [
        package_header("bash", "5.1.8", "6.el9", vendor="Red Hat, Inc."),
        package_header("openssl-libs", "3.0.7", "27.el9", epoch=1, source_rpm=None),
        package_header(
            "perl-Errno", "1.30", "480.el9", epoch=0, source_rpm="perl-5.32.1-480.el9.src.rpm"
        ),
        package_header(
            "nodejs",
            "18.14.2",
            "2.module+el8.7.0+18154+c3ed0c52",
            epoch=1,
            modularity_label="nodejs:18:8070020230306170042:7c4ff9a4",
        ),
        package_header("noarch-less", arch=None, source_rpm=""),
        package_header("odd-source", source_rpm="garbage"),
        package_header("gpg-pubkey", "6979e5a1", "6b02f9b9", arch=None, source_rpm=""),
    ]
    path = "var/lib/rpm/Packages.db"
    packages, warnings = parse_rpmdb(build_ndb(enumerate(headers, start=1)), path)
    got = {p.name: (p.version, p.arch, p.source_name, p.source_version) for p in packages}
    assert got == {
        "bash": ("5.1.8-6.el9", "x86_64", "bash", "5.1.8-6.el9"),
        "openssl-libs": ("1:3.0.7-27.el9", "x86_64", "openssl-libs", "1:3.0.7-27.el9"),
        "perl-Errno": ("1.30-480.el9", "x86_64", "perl", "5.32.1-480.el9"),  # epoch 0 hidden
        "nodejs": (
            "1:18.14.2-2.module+el8.7.0+18154+c3ed0c52",
            "x86_64",
            "nodejs",
            "1:18.14.2-2.module+el8.7.0+18154+c3ed0c52",
        ),
        "noarch-less": ("1.0-1.el9", "", "noarch-less", "1.0-1.el9"),
        "odd-source": ("1.0-1.el9", "x86_64", "odd-source", "1.0-1.el9"),
    }
    assert all(p.type is PackageType.RPM and p.paths == (path,) for p in packages)
    assert warnings == [
        "unparsable SOURCERPM for odd-source ('garbage'); used the binary package as source"
    ]
    headers_read = read_rpmdb(build_ndb(enumerate(headers, start=1))).headers
    assert [h.modularity_label for h in headers_read if h.name == "nodejs"] == [
        "nodejs:18:8070020230306170042:7c4ff9a4"
    ]
    assert [h.vendor for h in headers_read if h.name == "bash"] == ["Red Hat, Inc."]


@pytest.mark.parametrize(
    ("source_rpm", "parts"),
    [
        ("bash-5.1.8-6.el9.src.rpm", ("bash", "5.1.8", "6.el9")),
        ("util-linux-2.32.1-42.el8_8.src.rpm", ("util-linux", "2.32.1", "42.el8_8")),
        ("kernel-5.14.0-1.el9.nosrc.rpm", ("kernel", "5.14.0", "1.el9")),
        ("x-1.0~rc1^git2-0.1.fc40.src.rpm", ("x", "1.0~rc1^git2", "0.1.fc40")),
        ("garbage", None),
        ("name-1.0.src.rpm", None),
        ("-1.0-1.src.rpm", None),
    ],
)
def test_split_source_rpm(source_rpm: str, parts: tuple[str, str, str] | None) -> None:
    assert split_source_rpm(source_rpm) == parts


def test_layers_attribute_each_package_to_its_layer(shared_data: Path) -> None:
    """Fedora-style layout through the walker and applier: the DB in usr/lib/sysimage,
    var/lib/rpm a symlink to it, a second layer that updates one package."""
    base = (shared_data / MARINER_SQLITE).read_bytes()
    updated = _update_sqlite(base, "curl", b"7.76.0", b"7.88.1")
    path = "usr/lib/sysimage/rpm/rpmdb.sqlite"
    layers = [
        layer_bytes(Entry(path, base), Entry("var/lib/rpm", kind="symlink", target=f"/{path}")),
        layer_bytes(Entry(path, updated)),
    ]
    applier = Applier()
    described = []
    for index, data in enumerate(layers):
        layer = Layer(index=index, diff_id=diff_id(data))
        described.append(layer)
        applier.apply(index, walk_layer(io.BytesIO(data), layer, [RpmAnalyzer()]))
    inventory = applier.inventory(ArtifactInfo("test", "test", layers=tuple(described)))
    got = {p.name: p for p in inventory.packages}
    assert len(got) == 129
    assert got["curl"].version == "7.88.1-6.cm2"
    assert got["curl"].layer == described[1].diff_id
    assert got["bash"].layer == described[0].diff_id
    assert not inventory.warnings


def _update_sqlite(content: bytes, name: str, old: bytes, new: bytes) -> bytes:
    """The database with one package's VERSION string replaced (same length)."""
    assert len(old) == len(new)
    con = sqlite3.connect(":memory:")
    image = bytearray(content)
    image[18] = image[19] = 1
    con.deserialize(bytes(image))
    for hnum, blob in con.execute("SELECT hnum, blob FROM Packages").fetchall():
        if parse_header(blob).name == name:
            con.execute(
                "UPDATE Packages SET blob = ? WHERE hnum = ?", (blob.replace(old, new), hnum)
            )
    con.commit()
    data = con.serialize()
    con.close()
    return data


# --- header blobs -----------------------------------------------------------------------


def test_dribble_entries_replace_region_entries() -> None:
    blob = build_header(
        [string(H.TAG_NAME, "pkg"), string(H.TAG_VERSION, "1"), string(H.TAG_RELEASE, "1")],
        [string(H.TAG_RELEASE, "2"), int32(H.TAG_EPOCH, 4)],
    )
    info = parse_header(blob)
    assert (info.evr, info.problems) == ("4:1-2", ())


def test_header_without_region_is_read() -> None:
    blob = build_header(
        [string(H.TAG_NAME, "old"), string(H.TAG_VERSION, "1"), string(H.TAG_RELEASE, "1")],
        region=False,
    )
    assert parse_header(blob).name == "old"


def test_i18n_string_tags_read_their_first_string() -> None:
    blob = build_header(
        [
            string(H.TAG_NAME, "pkg"),
            string(H.TAG_VERSION, "1"),
            string(H.TAG_RELEASE, "1"),
            (H.TAG_VENDOR, H.TYPE_I18NSTRING, b"C vendor\0de vendor\0", 2),
        ]
    )
    assert parse_header(blob).vendor == "C vendor"


def _corrupt_entry(blob: bytes, tag: int, **changes: int) -> bytes:
    """The blob with the index entry of `tag` changed (type, offset or count)."""
    il = struct.unpack_from(">I", blob)[0]
    data = bytearray(blob)
    for i in range(il):
        t, kind, offset, count = struct.unpack_from(">iIiI", data, 8 + 16 * i)
        if t == tag:
            values = {"type": kind, "offset": offset, "count": count} | changes
            struct.pack_into(
                ">iIiI", data, 8 + 16 * i, t, values["type"], values["offset"], values["count"]
            )
    return bytes(data)


def test_damaged_required_tag_refuses_the_header() -> None:
    blob = package_header("pkg")
    for tag, change in [
        (H.TAG_NAME, {"offset": 10**6}),
        (H.TAG_VERSION, {"offset": -5}),
        (H.TAG_RELEASE, {"type": H.TYPE_INT32}),
        (H.TAG_NAME, {"count": 0}),
    ]:
        with pytest.raises(HeaderError):
            parse_header(_corrupt_entry(blob, tag, **change))


def test_damaged_optional_tags_read_as_missing_with_a_problem() -> None:
    blob = package_header("pkg", epoch=2, vendor="V")
    blob = _corrupt_entry(blob, H.TAG_VENDOR, offset=10**6)
    blob = _corrupt_entry(blob, H.TAG_EPOCH, type=H.TYPE_STRING)
    info = parse_header(blob)
    assert (info.name, info.vendor, info.epoch) == ("pkg", "", None)
    assert len(info.problems) == 2
    packages, warnings = parse_rpmdb(build_ndb([(1, blob)]), "var/lib/rpm/Packages.db")
    assert [p.version for p in packages] == ["1.0-1.el9"]
    assert len(warnings) == 1 and warnings[0].startswith("damaged tags read as missing in pkg")


def test_damaged_region_trailer_is_reported_not_fatal() -> None:
    blob = bytearray(package_header("pkg"))
    dl = struct.unpack_from(">I", blob, 4)[0]
    blob[-16:] = b"\xff" * 16  # the trailer is the last thing in the store
    assert dl >= 16
    info = parse_header(bytes(blob))
    assert info.name == "pkg" and info.problems == ("damaged region trailer",)


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"", "too short"),
        (b"\0\0\0\0\0\0\0\0", "absurd index entry count 0"),
        (struct.pack(">II", 0x10000, 0), "absurd index entry count"),
        (struct.pack(">II", 1, 0x10000000), "absurd data size"),
        (struct.pack(">II", 1000, 1000) + b"\0" * 64, "header claims"),
        (build_header([string(H.TAG_VERSION, "1"), string(H.TAG_RELEASE, "1")]), "no name"),
    ],
)
def test_unreadable_headers(blob: bytes, reason: str) -> None:
    with pytest.raises(HeaderError, match=reason):
        parse_header(blob)


def test_string_without_terminator_is_refused() -> None:
    blob = build_header([string(H.TAG_VERSION, "1"), string(H.TAG_RELEASE, "1")], region=False)
    blob += b""  # name added by hand: no NUL before the end of the store
    il, dl = struct.unpack_from(">II", blob)
    entries = blob[8 : 8 + 16 * il] + struct.pack(">iIiI", H.TAG_NAME, H.TYPE_STRING, dl, 1)
    store = blob[8 + 16 * il :] + b"unterminated"
    broken = struct.pack(">II", il + 1, dl + 12) + entries + store
    with pytest.raises(HeaderError, match="name: string runs past the data store"):
        parse_header(broken)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_headers_decode_or_fail_cleanly(data: st.DataObject) -> None:
    blob = bytearray(package_header("pkg", epoch=1, vendor="V", modularity_label="m:s:1:c"))
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    try:
        info = parse_header(bytes(blob[:cut]))
    except HeaderError:
        return
    assert isinstance(info.name, str) and isinstance(info.evr, str)


# --- damaged and hostile Berkeley DB files ------------------------------------------------


def _bdb_layout(data: bytes) -> tuple[int, list[int], list[tuple[int, int]]]:
    """(page size, overflow pages in chain order, [(page, item offset)] of H_OFFPAGE values)
    of a little-endian Berkeley DB hash file."""
    size = struct.unpack_from("<I", data, 20)[0]
    refs: list[tuple[int, int]] = []
    for pgno in range(1, len(data) // size):
        page = data[pgno * size : (pgno + 1) * size]
        if page[25] != 13:
            continue
        count = struct.unpack_from("<H", page, 20)[0]
        for i in range(1, count, 2):
            off = struct.unpack_from("<H", page, 26 + 2 * i)[0]
            if page[off] == 3:
                refs.append((pgno, off))
    pgno, off = refs[0]
    chain = []
    nxt = struct.unpack_from("<I", data, pgno * size + off + 4)[0]
    while nxt:
        chain.append(nxt)
        nxt = struct.unpack_from("<I", data, nxt * size + 16)[0]
    return size, chain, refs


def _libuuid(shared_data: Path) -> bytearray:
    return bytearray((shared_data / LIBUUID_BDB).read_bytes())


def test_bdb_layout_of_the_fixture(shared_data: Path) -> None:
    size, chain, refs = _bdb_layout(bytes(_libuuid(shared_data)))
    assert size == 4096 and len(refs) == 1 and len(chain) == 20  # one header on 20 pages


def test_bdb_truncated(shared_data: Path) -> None:
    data = _libuuid(shared_data)
    db = read_rpmdb(bytes(data[: len(data) // 2]))
    assert db.headers == ()
    assert any("truncated" in w for w in db.warnings)
    assert any("absurd record length 80880" in w for w in db.warnings)  # > the file
    with pytest.raises(AnalyzerError, match="only 100 bytes"):
        read_rpmdb(bytes(data[:100]))


def test_bdb_overflow_loop(shared_data: Path) -> None:
    data = _libuuid(shared_data)
    size, chain, _ = _bdb_layout(bytes(data))
    struct.pack_into("<I", data, chain[5] * size + 16, chain[2])  # page 5 -> page 2 again
    started = time.monotonic()
    db = read_rpmdb(bytes(data))
    assert time.monotonic() - started < 1
    assert db.headers == ()
    assert any(f"loops or is shared at page {chain[2]}" in w for w in db.warnings)


def test_bdb_overflow_chain_into_a_hash_page(shared_data: Path) -> None:
    data = _libuuid(shared_data)
    size, chain, refs = _bdb_layout(bytes(data))
    struct.pack_into("<I", data, chain[0] * size + 16, refs[0][0])
    db = read_rpmdb(bytes(data))
    assert db.headers == () and any("is of type 13" in w for w in db.warnings)


def test_bdb_absurd_record_length(shared_data: Path) -> None:
    data = _libuuid(shared_data)
    size, _, refs = _bdb_layout(bytes(data))
    pgno, off = refs[0]
    struct.pack_into("<I", data, pgno * size + off + 8, 0xFFFFFFFF)
    db = read_rpmdb(bytes(data))
    assert db.headers == () and any("absurd record length" in w for w in db.warnings)


def test_bdb_absurd_item_count_and_offsets(shared_data: Path) -> None:
    data = _libuuid(shared_data)
    size, _, refs = _bdb_layout(bytes(data))
    page = refs[0][0] * size
    struct.pack_into("<H", data, page + 20, 0xFFFF)
    db = read_rpmdb(bytes(data))
    assert db.headers == () and any("65535 items" in w for w in db.warnings)
    data = _libuuid(shared_data)
    struct.pack_into("<H", data, page + 26 + 2, 3)  # the first value before the index array
    db = read_rpmdb(bytes(data))
    assert db.headers == () and any("item offsets out of order" in w for w in db.warnings)


@pytest.mark.parametrize(
    ("offset", "value", "reason"),
    [
        (12, 0x00053162, "btree"),
        (12, 0x12345678, "bad magic"),
        (16, 99, "unsupported Berkeley DB hash version 99"),
        (20, 4097, "absurd Berkeley DB page size 4097"),
        (20, 0, "absurd Berkeley DB page size 0"),
    ],
)
def test_bdb_bad_metadata(shared_data: Path, offset: int, value: int, reason: str) -> None:
    data = _libuuid(shared_data)
    struct.pack_into("<I", data, offset, value)
    with pytest.raises(AnalyzerError, match=reason):
        read_blobs(bytes(data), "bdb")


def test_bdb_unsorted_hash_pages_of_old_databases(shared_data: Path) -> None:
    """RHEL/CentOS 5 era files use P_HASH_UNSORTED (2) for their hash pages."""
    data = _libuuid(shared_data)
    size, _, refs = _bdb_layout(bytes(data))
    data[refs[0][0] * size + 25] = 2
    assert [h.name for h in read_rpmdb(bytes(data)).headers] == ["libuuid"]


def test_bdb_metadata_claiming_more_pages_than_the_file(shared_data: Path) -> None:
    data = _libuuid(shared_data)
    struct.pack_into("<I", data, 32, 0xFFFFFFF0)  # last_pgno
    db = read_rpmdb(bytes(data))
    assert [h.name for h in db.headers] == ["libuuid"]
    assert any("truncated: the metadata counts" in w for w in db.warnings)


# --- damaged and hostile NDB files ----------------------------------------------------------


def _sle15(shared_data: Path) -> bytearray:
    return bytearray((shared_data / SLE15_NDB).read_bytes())


def _slot(data: bytes, n: int) -> tuple[bytes, int, int, int]:
    magic, index, offset, count = struct.unpack_from("<4sIII", data, 16 * n)
    return magic, index, offset, count


def test_ndb_written_by_the_test_helper_reads_back() -> None:
    headers = [(i, package_header(f"p{i}")) for i in range(1, 301)]  # two slot pages
    db = read_rpmdb(build_ndb(headers))
    assert [h.name for h in db.headers] == [f"p{i}" for i in range(1, 301)]
    assert not db.warnings


def test_ndb_truncated(shared_data: Path) -> None:
    data = _sle15(shared_data)
    db = read_rpmdb(bytes(data[: len(data) // 2]))
    assert 5 < len(db.headers) < 35
    assert any("beyond the end of the file" in w for w in db.warnings)
    db = read_rpmdb(bytes(data[:1000]))  # inside the slot page
    assert db.headers == () and any("slot pages announced" in w for w in db.warnings)


def test_ndb_bad_blob_checksum_and_magic(shared_data: Path) -> None:
    data = _sle15(shared_data)
    _, index, offset, _ = _slot(data, 2)
    data[offset * 16 + 100] ^= 0xFF
    _, index3, offset3, _ = _slot(data, 3)
    data[offset3 * 16] = ord("X")
    db = read_rpmdb(bytes(data))
    assert len(db.headers) == 33
    assert any(f"#{index} (checksum mismatch)" in w for w in db.warnings)
    assert any(f"#{index3} (no blob at the slot's offset)" in w for w in db.warnings)


def test_ndb_slots_sharing_or_overlapping_blobs(shared_data: Path) -> None:
    data = _sle15(shared_data)
    _, _, offset, count = _slot(data, 2)
    for n in range(3, 256):  # every other slot points at the first blob
        struct.pack_into("<4sIII", data, 16 * n, b"Slot", 1000 + n, offset, count)
    db = read_rpmdb(bytes(data))
    assert len(db.headers) == 1
    assert any("overlaps the previous blob" in w for w in db.warnings)


def test_ndb_absurd_slot_page_count(shared_data: Path) -> None:
    data = _sle15(shared_data)
    struct.pack_into("<I", data, 12, 0xFFFFFFFF)
    started = time.monotonic()
    db = read_rpmdb(bytes(data))
    assert time.monotonic() - started < 2
    assert any("slot pages announced" in w for w in db.warnings)


@pytest.mark.parametrize(
    ("offset", "value", "reason"),
    [(4, 1, "unsupported NDB version 1"), (12, 0, "without slot pages")],
)
def test_ndb_bad_header(shared_data: Path, offset: int, value: int, reason: str) -> None:
    data = _sle15(shared_data)
    struct.pack_into("<I", data, offset, value)
    with pytest.raises(AnalyzerError, match=reason):
        read_rpmdb(bytes(data))


def test_ndb_bad_slot_magic_and_free_slots(shared_data: Path) -> None:
    data = _sle15(shared_data)
    data[16 * 2 : 16 * 2 + 4] = b"Xlot"
    struct.pack_into("<I", data, 16 * 3 + 8, 0)  # block offset 0: a free slot
    db = read_rpmdb(bytes(data))
    assert len(db.headers) == 33
    assert db.warnings == ("ignored 1 slot(s) without the slot magic",)


# --- damaged and hostile SQLite files ---------------------------------------------------------


def test_sqlite_in_wal_mode_and_rollback_mode(shared_data: Path) -> None:
    data = bytearray((shared_data / MARINER_SQLITE).read_bytes())
    for mode in (1, 2):
        data[18] = data[19] = mode
        assert len(read_rpmdb(bytes(data)).headers) == 129


def test_sqlite_truncated(shared_data: Path) -> None:
    data = (shared_data / MARINER_SQLITE).read_bytes()
    for cut in (len(data) // 2, 4096, 200):
        try:
            db = read_rpmdb(data[:cut])
        except AnalyzerError as exc:
            assert "SQLite" in str(exc)
        else:
            assert len(db.headers) < 129 and db.warnings


def test_sqlite_without_packages_table() -> None:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE other (x)")
    data = con.serialize()
    with pytest.raises(AnalyzerError, match="without a Packages table"):
        read_rpmdb(data)


def test_sqlite_rows_without_blobs_and_bad_headers() -> None:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB)")
    rows = [(1, package_header("ok")), (2, "text"), (3, None), (4, b"\0" * 40)]
    con.executemany("INSERT INTO Packages VALUES (?, ?)", rows)
    con.commit()
    db = read_rpmdb(con.serialize())
    assert [h.name for h in db.headers] == ["ok"]
    assert db.warnings == (
        "skipped 2 record(s) without a header blob: #2, #3",
        "skipped 1 unreadable package header(s): #4 (absurd index entry count 0)",
    )


def test_sqlite_with_invalid_utf8_in_its_schema() -> None:
    """Found by fuzzing: damaged text in sqlite_master must not escape as UnicodeDecodeError."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
    con.execute("CREATE TABLE zzzz (x)")
    con.execute("INSERT INTO Packages VALUES (1, ?)", (package_header("ok"),))
    con.commit()
    data = con.serialize()
    at = data.index(b"tablezzzz") + 5  # the name column of the table's schema record
    damaged = data[:at] + b"\xff\xfe" + data[at + 2 :]
    with pytest.raises(AnalyzerError, match="unreadable SQLite database: 'utf-8' codec"):
        read_rpmdb(damaged)  # SQLite's own error message quotes the damaged name


def test_sqlite_query_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A query that runs too long is cut off with a warning (budget shrunk to show it)."""
    from hullscan.analyze.os.rpmdb import sqlite as backend

    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB)")
    blob = package_header("p")
    con.executemany("INSERT INTO Packages (blob) VALUES (?)", [(blob,)] * 500)
    con.commit()
    monkeypatch.setattr(backend, "_MAX_PROGRESS_CALLS", 200)
    monkeypatch.setattr(backend, "_STEPS", 1)
    db = read_rpmdb(con.serialize())
    assert 0 < len(db.headers) < 500
    assert db.warnings == (f"stopped reading after {len(db.headers)} package(s): took too long",)


def test_sqlite_through_a_temp_file_without_deserialize(
    monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    from hullscan.analyze.os.rpmdb import sqlite as backend

    monkeypatch.setattr(backend, "_HAS_DESERIALIZE", False)
    assert len(read_rpmdb((shared_data / MARINER_SQLITE).read_bytes()).headers) == 129


# --- fuzzing: any damage ends in packages + warnings or AnalyzerError, quickly ----------------


@pytest.fixture(scope="module")
def small_databases(shared_data: Path) -> dict[str, bytes]:
    """One database per backend, small enough to mutate hundreds of times."""
    sqlite_db = sqlite3.connect(":memory:")
    sqlite_db.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB)")
    sqlite_db.executemany(
        "INSERT INTO Packages (blob) VALUES (?)", [(package_header(f"p{i}"),) for i in range(40)]
    )
    sqlite_db.commit()
    return {
        "bdb": (shared_data / SYFT_BDB).read_bytes(),
        "bdb-libuuid": (shared_data / LIBUUID_BDB).read_bytes(),
        "ndb": build_ndb((i, package_header(f"p{i}")) for i in range(1, 40)),
        "sqlite": sqlite_db.serialize(),
    }


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_databases_never_crash_or_hang(
    small_databases: dict[str, bytes], data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(sorted(small_databases)))
    content = bytearray(small_databases[kind])
    # Structures live near the start (metadata, slot pages, SQLite header and schema).
    hot = st.integers(0, min(len(content), 8192) - 4)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.one_of(hot, st.integers(0, len(content) - 4)))
        value = data.draw(st.sampled_from([0, 1, 2, 3, 7, 13, 0xFF, 0xFFFF, 0xFFFFFFFF]))
        width = data.draw(st.sampled_from([1, 2, 4]))
        content[pos : pos + width] = (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content)))]
    started = time.monotonic()
    try:
        packages, warnings = parse_rpmdb(bytes(content), "var/lib/rpm/Packages")
    except AnalyzerError:
        pass
    else:
        assert all(isinstance(p, Package) for p in packages)
        assert all(isinstance(w, str) for w in warnings)
    assert time.monotonic() - started < 2
