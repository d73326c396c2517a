"""Java archives: `.jar`, `.war`, `.ear` and Jenkins plugins (`.jpi`, `.hpi`), nested too.

What an archive is, in order of trust:

1. `META-INF/maven/<groupId>/<artifactId>/pom.properties`, written by Maven itself. A
   shaded or fat jar keeps one per bundled artifact, and each is a package.
2. When no pom.properties is the archive's own (none matches the file name's artifactId
   and version; a lone one counts as its own only when the name has no version, since
   Debian's guice-4.2.3.jar holds nothing but the pom of the cglib it shades), its
   `META-INF/MANIFEST.MF`. Jenkins plugins name themselves exactly (`Group-Id`,
   `Short-Name`, `Plugin-Version`). Otherwise the version is `Implementation-Version`,
   else the file name's, else `Bundle-Version` (OSGi-normalised: 31.1-jre becomes
   31.1.0.jre) or `Specification-Version`; the artifactId is the file name's (or a
   token-like `Implementation-Title` when the name has no version: a renamed app.jar);
   the groupId is `Implementation-Vendor-Id` when it repeats the artifactId
   (commons-io:commons-io), else what maven-bundle-plugin's `Bundle-SymbolicName`
   default gives back for that artifactId (`_group_from_bsn`), else a dotted
   `Implementation-Vendor-Id`.
3. The file name, `<artifactId>-<version>.jar`, for whatever the manifest left open.

A name is `groupId:artifactId`, as OSV's Maven ecosystem spells it. An archive whose
groupId cannot be told is reported by artifactId alone when nothing better is in it (it
shows in the inventory but matches no advisory); next to pom.properties coordinates such a
guess is dropped as noise. Trivy asks a Maven index (its Java DB or Maven Central) for the
groupId at that point; hullscan works offline and does not guess. Measured on Debian's
jars (/usr/share/java), the manifest and file-name fallback alone recovers the exact
coordinates of about a fifth of them: the fallback is a last resort, pom.properties is
what real application jars carry.

Archives inside archives (`WEB-INF/lib/*.jar`, Spring Boot's `BOOT-INF/lib/*.jar`, jars in
an ear) are read the same way, their path recorded as `outer.war!/WEB-INF/lib/inner.jar`.
Memory is bounded: entries per archive, nesting depth, the size of each metadata file and
nested archive, and the bytes inflated per top-level file; a limit reached is a warning.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

ARCHIVE_SUFFIXES = (".jar", ".war", ".ear", ".jpi", ".hpi")
#: Top-level archives larger than this are skipped (the walker holds each in memory).
MAX_ARCHIVE_SIZE = 256 * 1024 * 1024
#: Archives within archives within archives...: real ones stop at ear > war > jar.
MAX_DEPTH = 4
#: Entries of one archive (zipfile keeps a ZipInfo for each; real fat jars have < 100k).
MAX_ENTRIES = 200_000
#: A nested archive is inflated into memory to be opened; larger ones are skipped.
MAX_NESTED_SIZE = 128 * 1024 * 1024
#: pom.properties and MANIFEST.MF are a few KiB; a larger one is not read.
MAX_METADATA_SIZE = 1024 * 1024
#: Everything inflated while reading one top-level archive (zip bombs).
MAX_INFLATED = 512 * 1024 * 1024

_FILE_NAME = re.compile(
    r"^(?P<artifact>[A-Za-z0-9._+-]*[A-Za-z0-9._+])-(?P<version>\d[^/]*?)"
    r"\.(?:jar|war|ear|jpi|hpi)$",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"^[A-Za-z0-9_.+-]+$")
_VERSION_START = re.compile(r"^[vV]?\d")
_DOTTED = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$")


class JavaAnalyzer(Analyzer):
    """Packages in Java archives, by pom.properties, manifest and file name."""

    name = "java"
    version = 1
    max_file_size = MAX_ARCHIVE_SIZE

    def wants(self, path: str) -> bool:
        return path[-4:].lower() in ARCHIVE_SUFFIXES

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        reader = _Reader()
        try:
            archive = _open(content)
        except zipfile.BadZipFile as exc:
            raise AnalyzerError(f"not a Java archive: {exc}") from None
        if archive is None:
            raise AnalyzerError(f"more than {MAX_ENTRIES} entries; not read")
        with archive:
            reader.archive(archive, path, depth=0)
        return AnalysisResult(packages=tuple(reader.packages), warnings=tuple(reader.warnings))


@dataclass(frozen=True)
class Coordinates:
    group: str
    artifact: str
    version: str

    @property
    def name(self) -> str:
        return f"{self.group}:{self.artifact}" if self.group else self.artifact


@dataclass
class _Reader:
    """State of reading one top-level archive."""

    packages: list[Package] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inflated: int = 0
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def archive(self, archive: zipfile.ZipFile, path: str, depth: int) -> None:
        poms: list[Coordinates] = []
        manifest: dict[str, str] = {}
        nested: list[zipfile.ZipInfo] = []
        for info in archive.infolist():
            name = info.filename
            if name.endswith("/pom.properties") and "META-INF/maven/" in name:
                props = _properties(self.read(archive, info, path, MAX_METADATA_SIZE))
                coords = _pom_coordinates(props)
                if coords is not None:
                    poms.append(coords)
            elif name.upper() == "META-INF/MANIFEST.MF":
                manifest = parse_manifest(self.read(archive, info, path, MAX_METADATA_SIZE))
            elif name[-4:].lower() in ARCHIVE_SUFFIXES and not info.is_dir():
                nested.append(info)
        for coords in poms:
            self.add(coords, path)
        if not _describes_itself(poms, path):
            own = identify(manifest, path)
            # next to real coordinates, a guess without groupId is noise that matches nothing
            if own is not None and (own.group or not poms) and not any(_same(own, p) for p in poms):
                self.add(own, path)
        for info in nested:
            self.nested(archive, info, path, depth)

    def nested(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, depth: int
    ) -> None:
        inner_path = f"{path}!/{info.filename}"
        if depth + 1 >= MAX_DEPTH:
            self.warnings.append(f"{inner_path}: nested {MAX_DEPTH} archives deep; not read")
            return
        if info.file_size > MAX_NESTED_SIZE:
            self.warnings.append(
                f"{inner_path}: {info.file_size} bytes, over the {MAX_NESTED_SIZE}-byte "
                "limit for nested archives; not read"
            )
            return
        content = self.read(archive, info, path, MAX_NESTED_SIZE)
        if not content:
            return
        try:
            inner = _open(content)
        except zipfile.BadZipFile as exc:
            self.warnings.append(f"{inner_path}: not a Java archive: {exc}")
            return
        if inner is None:
            self.warnings.append(f"{inner_path}: more than {MAX_ENTRIES} entries; not read")
            return
        with inner:
            self.archive(inner, inner_path, depth + 1)

    def read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, limit: int) -> bytes:
        """An entry's bytes, at most `limit`, within the archive's inflation budget."""
        budget = MAX_INFLATED - self.inflated
        if budget <= 0:
            self.warnings.append(
                f"{path}!/{info.filename}: not read, {MAX_INFLATED} bytes already inflated"
            )
            return b""
        cap = min(limit, budget)
        try:
            with archive.open(info) as entry:
                data = entry.read(cap + 1)
        # RuntimeError: encrypted entry; NotImplementedError: unknown compression method
        except (
            zipfile.BadZipFile,
            zlib.error,
            OSError,
            EOFError,
            RuntimeError,
            NotImplementedError,
        ) as exc:
            self.warnings.append(f"{path}!/{info.filename}: unreadable: {exc}")
            return b""
        self.inflated += len(data)
        if len(data) > cap:
            why = (
                f"larger than {limit} bytes"
                if cap == limit
                else f"{MAX_INFLATED} bytes already inflated"
            )
            self.warnings.append(f"{path}!/{info.filename}: not read, {why}")
            return b""
        return data

    def add(self, coords: Coordinates, path: str) -> None:
        key = (coords.name, coords.version, path)
        if key in self.seen:
            return
        self.seen.add(key)
        self.packages.append(
            Package(name=coords.name, version=coords.version, type=PackageType.MAVEN, paths=(path,))
        )


def _open(content: bytes) -> zipfile.ZipFile | None:
    """The archive, or None when it has too many entries to list within memory bounds."""
    count = _entry_count(content)
    if count is not None and count > MAX_ENTRIES:
        return None
    return zipfile.ZipFile(io.BytesIO(content))


def _entry_count(content: bytes) -> int | None:
    """Entries the end-of-central-directory record declares, read before zipfile lists
    (and allocates) them all; None when the record is not found (zipfile then says why)."""
    tail_from = max(0, len(content) - (22 + 65535))
    at = content.rfind(b"PK\x05\x06", tail_from)
    if at < 0 or at + 22 > len(content):
        return None
    (count,) = struct.unpack_from("<H", content, at + 10)
    if count != 0xFFFF:
        return int(count)
    locator = at - 20  # zip64: the locator sits right before, pointing at the zip64 record
    if locator < 0 or content[locator : locator + 4] != b"PK\x06\x07":
        return None
    (record,) = struct.unpack_from("<Q", content, locator + 8)
    if record + 40 > len(content) or content[record : record + 4] != b"PK\x06\x06":
        return None
    (count64,) = struct.unpack_from("<Q", content, record + 32)
    return int(count64)


def _properties(data: bytes) -> dict[str, str]:
    """A Java .properties file (ISO-8859-1, `key=value`, `key: value` or `key value`)."""
    props: dict[str, str] = {}
    text = data.decode("latin-1")
    logical = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            logical += line[:-1]
            continue
        logical += line
        match = re.match(r"^((?:[^\\=:\s]|\\.)+)\s*[=:\s]\s*(.*)$", logical)
        if match:
            props[_unescape(match.group(1))] = _unescape(match.group(2)).strip()
        logical = ""
    return props


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return re.sub(
        r"\\(u[0-9a-fA-F]{4}|.)",
        lambda m: (
            chr(int(m.group(1)[1:], 16))
            if len(m.group(1)) == 5
            else {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(m.group(1), m.group(1))
        ),
        text,
    )


def _pom_coordinates(props: dict[str, str]) -> Coordinates | None:
    group = props.get("groupId", "").strip()
    artifact = props.get("artifactId", "").strip()
    version = props.get("version", "").strip()
    if not (group and artifact and version) or "${" in group + artifact + version:
        return None
    return Coordinates(group, artifact, version)


def parse_manifest(data: bytes) -> dict[str, str]:
    """The main section of a MANIFEST.MF: `Key: value`, continued on lines that start with
    one space; the main section ends at the first blank line."""
    fields: dict[str, str] = {}
    key = ""
    for raw in data.decode("utf-8", "replace").splitlines():
        if not raw.strip():
            if fields:
                break
            continue
        if raw.startswith(" ") and key:
            fields[key] += raw[1:]
            continue
        key, sep, value = raw.partition(":")
        key = key.strip()
        if sep and key:
            fields[key] = value.strip()
        else:
            key = ""
    return {k: v.strip() for k, v in fields.items()}


def file_name_coordinates(path: str) -> tuple[str, str]:
    """(artifactId, version) from `name-1.2.3.jar`; (stem, "") when there is no version."""
    base = path.rpartition("!/")[2].rpartition("/")[2]
    match = _FILE_NAME.match(base)
    if match:
        return match.group("artifact"), match.group("version")
    stem = base.rpartition(".")[0]
    return stem, ""


def identify(manifest: dict[str, str], path: str) -> Coordinates | None:
    """The archive's own coordinates from its manifest and file name (see module docs)."""
    if manifest.get("Short-Name") and manifest.get("Plugin-Version"):  # a Jenkins plugin
        version = manifest["Plugin-Version"].split()[0]  # "4.11.0 (private-...)" on dev builds
        return Coordinates(manifest.get("Group-Id", ""), manifest["Short-Name"], version)
    file_artifact, file_version = file_name_coordinates(path)
    # Bundle-Version is OSGi-normalised (31.1-jre becomes 31.1.0.jre) and
    # Specification-Version is the version of a spec, so both come after the file name.
    # Builds write odd things: "5.13.0 (b0)" (JNA), "task ':json-path:jar' property ...".
    candidates = (
        manifest.get("Implementation-Version", ""),
        file_version,
        manifest.get("Bundle-Version", ""),
        manifest.get("Specification-Version", ""),
    )
    words = (c.split()[0] for c in candidates if c.strip())
    version = next((w for w in words if _VERSION_START.match(w)), "")
    title = manifest.get("Implementation-Title", "")
    artifact = file_artifact
    stem = path.rpartition("/")[2].rpartition(".")[0]
    if version and stem.endswith(f"-{version}") and len(stem) > len(version) + 1:
        artifact = stem[: -len(version) - 1]  # zstd-jni-1.5.5-11: the version says where
    if not file_version and _TOKEN.match(title):
        artifact = title  # a renamed jar (app.jar) whose build named it
    if not artifact or not _TOKEN.match(artifact) or not version:
        return None
    bsn = manifest.get("Bundle-SymbolicName", "").split(";")[0].strip()
    vendor_id = manifest.get("Implementation-Vendor-Id", "")
    if vendor_id == artifact:  # old groupIds repeat the artifactId (commons-io:commons-io)
        group = vendor_id
    else:
        group = _group_from_bsn(bsn, artifact) if _DOTTED.match(bsn) else ""
        if not group and _DOTTED.match(vendor_id):
            group = vendor_id
    return Coordinates(group, artifact, version)


def _group_from_bsn(bsn: str, artifact: str) -> str:
    """Undo maven-bundle-plugin's default Bundle-SymbolicName for a known artifactId:
    `groupId.artifactId` (org.apache.httpcomponents.httpclient), or `groupId.rest` when the
    artifactId is `<last part of groupId>-rest` (org.apache.logging.log4j:log4j-core ->
    org.apache.logging.log4j.core). "" when the name fits neither: a hand-written symbolic
    name says nothing about the groupId. (The plugin's third form, the groupId alone when
    it ends with the artifactId as in com.google.guava:guava, cannot be told from the
    first; such jars carry pom.properties anyway.)"""
    if bsn.endswith(f".{artifact}") and len(bsn) > len(artifact) + 1:
        return bsn[: -len(artifact) - 1]
    head, sep, rest = artifact.partition("-")
    if sep and rest and bsn.endswith(f".{head}.{rest}"):
        return bsn[: -len(rest) - 1]
    return ""


def _describes_itself(poms: list[Coordinates], path: str) -> bool:
    """Whether one of the pom.properties is the archive's own, not one shaded into it: one
    that matches the file name, or the only one when the name has no version (app.jar)."""
    artifact, version = file_name_coordinates(path)
    stem = path.rpartition("/")[2].rpartition(".")[0]
    for p in poms:
        if stem == f"{p.artifact}-{p.version}":
            return True
        if p.artifact == artifact and (not version or p.version == version):
            return True
    return len(poms) == 1 and not version


def _same(a: Coordinates, b: Coordinates) -> bool:
    return a.artifact == b.artifact and a.version == b.version
