"""The vulnerability DB as a file to ship: one zstd-compressed SQLite file plus metadata JSON.

`export_db` writes `hullscan.db.zst` and `hullscan.db.zst.json` next to it. The metadata
says what is inside without downloading it - schema version, build time, per-feed
fingerprints and counts - and pins both the compressed artifact and the DB it unpacks to
by sha256 and size. The same JSON is the config blob of the OCI artifact (db/oci.py), so
a client can refuse an incompatible schema, or find it already has this DB, before it
fetches the large layer.

`install_compressed` is the one way a DB arrives from outside (import, update): the
compressed bytes are hashed and unpacked into a temporary file next to the destination,
both digests and sizes are checked, the new file is opened as a DB, and only then does
one `os.replace` swap it in. Readers that already opened the old file keep reading it
(POSIX rename semantics); a crash at any point leaves the previous DB in place.

Temporary files are named `.<dest>.<random>.<kind>.tmp` and flock()ed by their writer for
their whole life. A SIGKILLed writer cannot remove its file, but the kernel drops its
lock, so `clean_stale_temps` (run by the next import, update or export) tells a dead
writer's leftovers from a live one's exactly, without guessing from ages.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import IO, Any, BinaryIO, Self, cast

import zstandard

from hullscan import __version__
from hullscan.db.reader import VulnDB
from hullscan.db.schema import SCHEMA_VERSION
from hullscan.errors import DbError
from hullscan.model import DbInfo, SourceInfo

try:  # POSIX; elsewhere temp files are cleaned by age only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: OCI artifactType of a published DB.
ARTIFACT_TYPE = "application/vnd.hullscan.db.v1"
#: The metadata JSON; also the OCI config blob's media type.
CONFIG_MEDIA_TYPE = "application/vnd.hullscan.db.config.v1+json"
#: The compressed SQLite file; also the OCI layer's media type.
LAYER_MEDIA_TYPE = "application/vnd.hullscan.db.layer.v1.sqlite+zstd"
#: Version of the metadata JSON itself (not of the DB schema inside the artifact).
METADATA_FORMAT = 1
DEFAULT_ARTIFACT_NAME = "hullscan.db.zst"
METADATA_SUFFIX = ".json"
#: The size/speed sweet spot on real DBs (19 is ~20 % smaller but ~100x slower): see
#: docs/db-distribution.md.
DEFAULT_LEVEL = 9
#: Leftovers of a process we cannot check (a DB build, another user's) older than this go.
STALE_AFTER = 6 * 3600.0

_CHUNK = 1 << 20
_SQLITE_MAGIC = b"SQLite format 3\x00"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")

Progress = Callable[[int, int], None]
"""progress(bytes done, bytes total)."""


@dataclass(frozen=True)
class DbMetadata:
    """What an exported DB artifact holds, and the digests that pin it."""

    schema_version: int
    built_at: str
    db_digest: str  # sha256:<hex> of the uncompressed SQLite file
    db_size: int
    artifact_digest: str  # sha256:<hex> of the compressed artifact (= the OCI layer digest)
    artifact_size: int
    artifact_name: str = DEFAULT_ARTIFACT_NAME
    exported_at: str = ""
    exported_by: str = ""
    advisories: int = 0
    sources: tuple[SourceInfo, ...] = ()
    namespaces: dict[str, int] = field(default_factory=dict, hash=False)
    format: int = METADATA_FORMAT

    def to_json(self) -> bytes:
        """Stable, sorted JSON: the same DB exported twice gives the same config blob."""
        document = {
            "mediaType": CONFIG_MEDIA_TYPE,
            "format": self.format,
            "schema_version": self.schema_version,
            "built_at": self.built_at,
            "exported_at": self.exported_at,
            "exported_by": self.exported_by,
            "db": {"digest": self.db_digest, "size": self.db_size},
            "artifact": {
                "name": self.artifact_name,
                "mediaType": LAYER_MEDIA_TYPE,
                "compression": "zstd",
                "digest": self.artifact_digest,
                "size": self.artifact_size,
            },
            "advisories": self.advisories,
            "sources": [asdict(s) for s in self.sources],
            "namespaces": dict(sorted(self.namespaces.items())),
        }
        return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, where: str) -> DbMetadata:
        """Parse and validate; DbError naming `where` for anything that is not our metadata."""
        try:
            doc = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DbError(f"{where}: not DB metadata (invalid JSON: {exc})") from None
        if not isinstance(doc, dict) or doc.get("mediaType") != CONFIG_MEDIA_TYPE:
            raise DbError(f"{where}: not hullscan DB metadata (no mediaType {CONFIG_MEDIA_TYPE})")
        try:
            fmt = _int(doc, "format")
            if fmt > METADATA_FORMAT:
                raise DbError(
                    f"{where}: DB metadata format {fmt} comes from a newer hullscan (this one "
                    f"reads format {METADATA_FORMAT}): upgrade hullscan"
                )
            db, artifact = doc["db"], doc["artifact"]
            if artifact.get("compression", "zstd") != "zstd":
                raise ValueError(f"unsupported compression {artifact.get('compression')!r}")
            name = str(artifact.get("name") or DEFAULT_ARTIFACT_NAME)
            if not _SAFE_NAME.match(name):
                raise ValueError(f"unsafe artifact name {name!r}")
            return cls(
                format=fmt,
                schema_version=_int(doc, "schema_version"),
                built_at=_str(doc, "built_at"),
                exported_at=str(doc.get("exported_at", "")),
                exported_by=str(doc.get("exported_by", "")),
                db_digest=_digest(db, "digest"),
                db_size=_int(db, "size"),
                artifact_name=name,
                artifact_digest=_digest(artifact, "digest"),
                artifact_size=_int(artifact, "size"),
                advisories=int(doc.get("advisories", 0)),
                sources=tuple(_source_info(s) for s in doc.get("sources", [])),
                namespaces={str(k): int(v) for k, v in dict(doc.get("namespaces", {})).items()},
            )
        except DbError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DbError(f"{where}: malformed DB metadata ({type(exc).__name__}: {exc})") from None

    def check_schema(self, where: str) -> None:
        """Refuse a DB this hullscan cannot read, before anything is downloaded or replaced."""
        if self.schema_version == SCHEMA_VERSION:
            return
        if self.schema_version > SCHEMA_VERSION:
            hint = "upgrade hullscan (or point it at a DB published for this version)"
        else:
            hint = (
                f"its publisher has not moved to schema {SCHEMA_VERSION} yet: use a source "
                "that has, or run `hullscan db build`"
            )
        raise DbError(
            f"the DB at {where} has schema {self.schema_version}; this hullscan reads "
            f"{SCHEMA_VERSION}: {hint}"
        )

    def info(self, path: str = "") -> DbInfo:
        return DbInfo(
            schema_version=self.schema_version,
            built_at=self.built_at,
            path=path,
            sources=self.sources,
        )


def _source_info(doc: dict[str, Any]) -> SourceInfo:
    """A SourceInfo from metadata of this or another hullscan: unknown keys are dropped,
    missing ones get an empty value, so a field added to the model breaks no old export."""
    values: dict[str, Any] = {}
    for item in fields(SourceInfo):
        if item.name in doc:
            value = doc[item.name]
            values[item.name] = int(value) if "int" in str(item.type) else str(value)
        elif item.default is MISSING:
            values[item.name] = 0 if "int" in str(item.type) else ""
    if not values.get("name"):
        raise ValueError("a source without a name")
    return SourceInfo(**values)


def _int(doc: dict[str, Any], key: str) -> int:
    value = doc[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} is not a non-negative integer: {value!r:.40}")
    return value


def _str(doc: dict[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is not a non-empty string")
    return value


def _digest(doc: dict[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise ValueError(f"{key} is not a sha256:<64 hex> digest: {value!r:.80}")
    return value


@dataclass(frozen=True)
class DbArtifact:
    """An exported DB on disk: the compressed file and its metadata JSON."""

    path: Path
    metadata_path: Path
    metadata: DbMetadata


def metadata_path_for(artifact: Path) -> Path:
    """`hullscan.db.zst` -> `hullscan.db.zst.json`: the metadata always sits next to it."""
    return artifact.with_name(artifact.name + METADATA_SUFFIX)


def read_artifact(artifact: Path, metadata: Path | None = None) -> DbArtifact:
    """An exported artifact and its metadata (no digest check yet: install does that)."""
    artifact = Path(artifact).expanduser()
    meta_path = Path(metadata).expanduser() if metadata else metadata_path_for(artifact)
    if not artifact.is_file():
        raise DbError(f"no DB artifact at {artifact}")
    try:
        data = meta_path.read_bytes()
    except FileNotFoundError:
        raise DbError(
            f"no metadata for the DB artifact {artifact}: expected {meta_path} (written by "
            "`hullscan db export` next to the artifact)"
        ) from None
    except OSError as exc:
        raise DbError(f"cannot read {meta_path}: {exc.strerror or exc}") from None
    return DbArtifact(artifact, meta_path, DbMetadata.from_json(data, str(meta_path)))


# -- temporary files --------------------------------------------------------------------------


def temp_name(dest: Path, kind: str) -> Path:
    """`.<dest name>.<random>.<kind>.tmp` next to dest: same filesystem, recognisable."""
    return dest.parent / f".{dest.name}.{secrets.token_hex(6)}.{kind}.tmp"


class TempFile:
    """A locked temporary file that either replaces its destination or disappears.

    The flock is held until the file was renamed (or removed), so `clean_stale_temps`
    never takes a live writer's file for a dead one's.
    """

    def __init__(self, dest: Path, kind: str) -> None:
        self.dest = dest
        self.path = temp_name(dest, kind)
        try:
            # 0644 less the umask, as builder.py: a shared DB must stay readable by others.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise DbError(f"cannot create a file in {dest.parent}: {exc.strerror or exc}") from None
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        self.file: IO[bytes] = os.fdopen(fd, "w+b")

    def commit(self) -> None:
        """fsync, rename onto dest, fsync the directory: the new file is there, durably."""
        self.file.flush()
        os.fsync(self.file.fileno())
        os.replace(self.path, self.dest)
        fsync_dir(self.dest.parent)
        self.file.close()

    def discard(self) -> None:
        with suppress(OSError):
            self.file.close()
        with suppress(OSError):
            self.path.unlink()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self.file.closed:
            self.discard()


def write_atomic(dest: Path, data: bytes, kind: str = "state") -> None:
    """Small files (metadata, state): write a temp, then rename; never half a file."""
    with TempFile(dest, kind) as temp:
        temp.file.write(data)
        temp.commit()


def fsync_dir(path: Path) -> None:
    """Make a rename durable; not every platform can fsync a directory."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def clean_stale_temps(dest: Path, *, now: float | None = None) -> list[Path]:
    """Remove leftovers of killed writers next to `dest`; returns what was removed.

    Our own temp files (`.<name>.<hex>.<kind>.tmp`) go when nobody holds their flock. The
    builder's (`.<name>.<hex>.tmp`, `.hullscan-fetch-*`) carry no lock: they go when no
    process has a builder temp DB in that directory open (Linux /proc), else only after
    STALE_AFTER seconds without a change.
    """
    dest = Path(dest)
    ours = re.compile(rf"^\.{re.escape(dest.name)}\.[0-9a-f]+\.[a-z]+\.tmp$")
    builders = re.compile(rf"^\.{re.escape(dest.name)}\.[0-9a-f]{{12}}\.tmp$")
    removed: list[Path] = []
    try:
        entries = list(dest.parent.iterdir())
    except OSError:
        return removed
    clock = time.time() if now is None else now
    for entry in entries:
        if ours.match(entry.name) and _unlocked(entry):
            with suppress(OSError):
                entry.unlink()
                removed.append(entry)
    build_temps = [e for e in entries if _ANY_BUILD_TEMP.match(e.name)]
    fetch_dirs = [e for e in entries if e.name.startswith(".hullscan-fetch-") and e.is_dir()]
    if not any(builders.match(e.name) for e in build_temps) and not fetch_dirs:
        return removed
    if any(_in_use(e, clock) for e in build_temps):
        return removed  # a build is running in this directory: leave its files alone
    for entry in build_temps:
        if builders.match(entry.name):
            with suppress(OSError):
                entry.unlink()
                removed.append(entry)
    for entry in fetch_dirs:
        if clock - _newest_mtime(entry) > STALE_AFTER or _PROC.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


#: A DB build's temp file, for any DB name (fetch directories are not named per DB).
_ANY_BUILD_TEMP = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
_PROC = Path("/proc/self/fd")


def _unlocked(path: Path) -> bool:
    """True when no live process holds the file's flock (its writer is gone)."""
    if fcntl is None:  # pragma: no cover - Windows: age is all we have
        return time.time() - path.stat().st_mtime > STALE_AFTER
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    else:
        return True
    finally:
        os.close(fd)  # closing drops the probe's own lock


def _in_use(path: Path, clock: float) -> bool:
    """Whether a process still has `path` open; without /proc, whether it is recent."""
    try:
        st = path.stat()
    except OSError:
        return False
    if not _PROC.is_dir() or st.st_uid != os.getuid():
        return clock - st.st_mtime < STALE_AFTER
    target = str(path.resolve())
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                with suppress(OSError):
                    if os.readlink(fd) == target:
                        return True
        except OSError:
            continue
    return False


def _newest_mtime(directory: Path) -> float:
    newest = 0.0
    for root, _dirs, files in os.walk(directory):
        for name in [root, *(os.path.join(root, f) for f in files)]:
            with suppress(OSError):
                newest = max(newest, os.stat(name).st_mtime)
    return newest


# -- export -----------------------------------------------------------------------------------


class _HashingWriter(io.RawIOBase):
    """Counts and hashes what zstd writes, on its way to the temp file."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.hasher = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.hasher.update(view)
        self.size += len(view)
        self.target.write(view)
        return len(view)


def export_db(
    db_path: Path | str,
    out_path: Path | str,
    *,
    level: int = DEFAULT_LEVEL,
    threads: int = -1,
    progress: Progress | None = None,
) -> DbArtifact:
    """Write `out_path` (zstd of the DB file) and `out_path.json` (its metadata).

    `out_path` may be a directory - an existing one, or a string ending in `/` - and then
    gets `hullscan.db.zst`. The DB is read from one open file, so an update swapping the DB
    meanwhile cannot mix two versions. Both files are replaced atomically, the artifact
    before its metadata: a crash in between leaves a pair that import refuses as a whole.
    """
    db_path = Path(db_path).expanduser()
    as_dir = isinstance(out_path, str) and out_path.endswith(("/", os.sep))
    out_path = Path(out_path).expanduser()
    if as_dir or out_path.is_dir():
        out_path = out_path / DEFAULT_ARTIFACT_NAME
    meta_path = metadata_path_for(out_path)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DbError(f"cannot create {out_path.parent}: {exc.strerror or exc}") from None
    clean_stale_temps(out_path)
    clean_stale_temps(meta_path)
    with _open_snapshot(db_path) as (source, info, namespaces):
        total = os.fstat(source.fileno()).st_size
        with TempFile(out_path, "export") as temp:
            raw_hash = hashlib.sha256()
            writer = _HashingWriter(temp.file)
            compressor = zstandard.ZstdCompressor(level=level, threads=threads)
            done = 0
            try:
                with compressor.stream_writer(
                    cast(IO[bytes], writer), size=total, closefd=False
                ) as zst:
                    while chunk := source.read(_CHUNK):
                        if done == 0 and not chunk.startswith(_SQLITE_MAGIC):
                            raise DbError(f"{db_path} is not a SQLite file")
                        raw_hash.update(chunk)
                        zst.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
            except OSError as exc:
                raise DbError(f"cannot export {db_path} to {out_path}: {exc}") from None
            metadata = DbMetadata(
                schema_version=info.schema_version,
                built_at=info.built_at,
                db_digest="sha256:" + raw_hash.hexdigest(),
                db_size=done,
                artifact_digest="sha256:" + writer.hasher.hexdigest(),
                artifact_size=writer.size,
                artifact_name=out_path.name,
                exported_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                exported_by=f"hullscan {__version__}",
                advisories=sum(s.advisories for s in info.sources),
                sources=info.sources,
                namespaces=namespaces,
            )
            temp.commit()
    write_atomic(meta_path, metadata.to_json(), "export")
    return DbArtifact(out_path, meta_path, metadata)


@contextmanager
def _open_snapshot(db_path: Path) -> Iterator[tuple[BinaryIO, DbInfo, dict[str, int]]]:
    """The DB file opened once, with the info read from that very file (not a newer one)."""
    for _attempt in range(5):
        try:
            source = db_path.open("rb")
        except FileNotFoundError:
            raise DbError(f"no vulnerability DB at {db_path}: run `hullscan db build`") from None
        except OSError as exc:
            raise DbError(f"cannot read {db_path}: {exc.strerror or exc}") from None
        try:
            with VulnDB.open(db_path) as db:
                info, namespaces = db.info(), db.counts()
            same = _same_file(os.fstat(source.fileno()), db_path)
        except BaseException:
            source.close()
            raise
        if same:
            try:
                yield source, info, namespaces
            finally:
                source.close()
            return
        source.close()  # swapped by an update between the two opens: read the new one
    raise DbError(f"{db_path} keeps changing while it is being exported; try again")


def _same_file(opened: os.stat_result, path: Path) -> bool:
    try:
        current = path.stat()
    except OSError:
        return False
    return (opened.st_dev, opened.st_ino) == (current.st_dev, current.st_ino)


# -- install ----------------------------------------------------------------------------------


class _HashingReader(io.RawIOBase):
    """Hashes and counts the compressed bytes as zstd reads them; stops past `limit`."""

    def __init__(self, raw: BinaryIO, limit: int, where: str) -> None:
        self.raw = raw
        self.hasher = hashlib.sha256()
        self.size = 0
        self.limit = limit
        self.where = where

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        if not data:
            return 0
        n = len(data)
        buffer[:n] = data
        self.hasher.update(data)
        self.size += n
        if self.size > self.limit:
            raise DbError(
                f"{self.where}: the artifact is larger than the {self.limit} bytes its "
                "metadata announces; refusing it"
            )
        return n

    def drain(self) -> None:
        while self.readinto(bytearray(_CHUNK)):
            pass


def install_compressed(
    compressed: BinaryIO,
    metadata: DbMetadata,
    dest: Path,
    where: str,
    *,
    progress: Progress | None = None,
) -> DbInfo:
    """Unpack a compressed artifact stream onto `dest`, verified, atomically.

    Checks, in order: schema version (before reading anything), the uncompressed size
    while unpacking (a bomb stops at the announced size), the artifact's and the DB's
    sha256 and size, and that the result opens as a DB of this schema. Only then is
    `dest` replaced. Raises DbError; `dest` is untouched on any failure.
    """
    metadata.check_schema(where)
    dest = Path(dest).expanduser()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DbError(f"cannot create {dest.parent}: {exc.strerror or exc}") from None
    reader = _HashingReader(compressed, metadata.artifact_size, where)
    with TempFile(dest, "install") as temp:
        db_hash = hashlib.sha256()
        written = 0
        try:
            decompressor = zstandard.ZstdDecompressor()
            with decompressor.stream_reader(
                cast(IO[bytes], reader), read_across_frames=True, closefd=False
            ) as zst:
                while chunk := zst.read(_CHUNK):
                    written += len(chunk)
                    if written > metadata.db_size:
                        raise DbError(
                            f"{where}: the DB unpacks to more than the {metadata.db_size} "
                            "bytes its metadata announces; refusing it"
                        )
                    db_hash.update(chunk)
                    temp.file.write(chunk)
                    if progress is not None:
                        progress(reader.size, metadata.artifact_size)
            reader.drain()  # trailing bytes count, and a verifying stream checks at its end
        except zstandard.ZstdError as exc:
            raise DbError(f"{where}: the artifact is not valid zstd ({exc})") from None
        except OSError as exc:
            raise DbError(f"cannot write the vulnerability DB next to {dest}: {exc}") from None
        got = "sha256:" + reader.hasher.hexdigest()
        if reader.size != metadata.artifact_size or got != metadata.artifact_digest:
            raise DbError(
                f"{where}: digest mismatch: the metadata says {metadata.artifact_digest} "
                f"({metadata.artifact_size} bytes), the artifact is {got} ({reader.size} "
                "bytes); refusing it (re-export or re-publish it)"
            )
        got = "sha256:" + db_hash.hexdigest()
        if written != metadata.db_size or got != metadata.db_digest:
            raise DbError(
                f"{where}: the unpacked DB is {got} ({written} bytes), the metadata says "
                f"{metadata.db_digest} ({metadata.db_size} bytes); refusing it"
            )
        temp.file.flush()
        try:
            with VulnDB.open(temp.path) as db:
                info = db.info()
        except DbError as exc:
            raise DbError(f"{where}: the unpacked file is not a usable DB ({exc})") from None
        temp.commit()
    return replace(info, path=str(dest))


def file_digest(path: Path) -> tuple[str, int]:
    """sha256 and size of a local file (the installed DB, when no state says it)."""
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return "sha256:" + hasher.hexdigest(), size
