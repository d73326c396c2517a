"""Getting the vulnerability DB to where scans run, and keeping it fresh without waste.

- `export_db` / `import_db`: one compressed artifact plus metadata, for air-gapped copies.
- `publish_db`: push that artifact to any OCI registry (db/oci.py).
- `update_db(dest, sources)`: pull from OCI references, HTTPS URLs or files, in order
  (later ones are fallbacks). The published metadata is read first; nothing is downloaded
  when its digest equals the installed DB's, an incompatible schema is refused with what
  to do, and a new DB is verified and swapped in atomically (db/artifact.py).
- `ensure_fresh_db`: what a scan calls - update only when the DB is older than max_age,
  check at most once per interval, and never touch the network offline.
- `db_age_warning`: the "DB is N days old" line every report carries.

Next to the DB, `hullscan.db.meta.json` records what was installed (artifact, DB and
manifest digests, source, HTTP validators, the file's identity) and when the last check
ran. It is only trusted while the DB file is the one it describes (same inode, size and
mtime): after a local `db build` the DB's digest is computed instead. Updates of one DB
are serialised by flock on the DB's directory, so parallel CI jobs sharing a cache
download once.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from hullscan import __version__
from hullscan.db.age import (
    DEFAULT_MAX_AGE,
    DEFAULT_WARN_AGE,
    _parse_time,
    db_age,
    db_age_warning,
    parse_duration,
)
from hullscan.db.artifact import (
    DbArtifact,
    DbMetadata,
    Progress,
    clean_stale_temps,
    export_db,
    file_digest,
    install_compressed,
    metadata_path_for,
    read_artifact,
    write_atomic,
)
from hullscan.db.oci import OciDbSource, PublishResult, parse_oci_reference, publish_db
from hullscan.db.reader import VulnDB
from hullscan.db.schema import SCHEMA_VERSION
from hullscan.errors import DbError, HullscanError, SourceError
from hullscan.image.blobstream import VerifyingBlobStream
from hullscan.image.registry import RegistryOptions, Retrier, ssl_context
from hullscan.model import DbInfo

try:  # POSIX; elsewhere updates are not serialised between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_WARN_AGE",
    "DbArtifact",
    "DbMetadata",
    "DbSource",
    "FreshnessResult",
    "PublishResult",
    "UpdateResult",
    "db_age_warning",
    "ensure_fresh_db",
    "export_db",
    "import_db",
    "parse_db_source",
    "parse_duration",
    "publish_db",
    "update_db",
]

log = logging.getLogger(__name__)

#: A scan updates a DB built longer ago than this (`--db-max-age`).
#: Reports warn about a DB built longer ago than this (`--db-warn-age`).
#: After a failed check, a scan tries again after this long (or the interval, if shorter).
FAILED_CHECK_RETRY = timedelta(hours=1)
#: How long an update waits for another process updating the same DB.
LOCK_TIMEOUT = 600.0
STATE_SUFFIX = ".meta.json"
STATE_FORMAT = 1

SourceKind = Literal["oci", "url", "file"]


@dataclass(frozen=True)
class DbSource:
    """Where a published DB lives: an OCI reference, an http(s) URL or a local file."""

    kind: SourceKind
    location: str

    @classmethod
    def oci(cls, value: str) -> DbSource:
        """`--db-repository`: `REGISTRY/REPO[:TAG]`, `oci://` optional (checked here; the
        default tag is added when it is used, so a 404 can say it was assumed)."""
        parse_oci_reference(value)
        text = value.strip()
        return cls("oci", text if text.lower().startswith("oci://") else "oci://" + text)

    @classmethod
    def url(cls, value: str) -> DbSource:
        """`--db-url`: https://…, http://…, file://… or a path; the artifact or its .json."""
        text = value.strip()
        scheme = urlsplit(text).scheme.lower() if "://" in text else ""
        if scheme in ("http", "https"):
            return cls("url", text)
        if scheme == "file":
            return cls("file", unquote(urlsplit(text).path))
        if scheme:
            raise DbError(f"--db-url {value}: use https://, http://, file:// or a path")
        return cls("file", str(Path(text).expanduser()))

    def __str__(self) -> str:
        return self.location


def parse_db_source(value: str | DbSource) -> DbSource:
    """`oci://…` -> OCI; `http(s)://`, `file://` or a path -> URL/file."""
    if isinstance(value, DbSource):
        return value
    if value.strip().lower().startswith("oci://"):
        return DbSource.oci(value)
    return DbSource.url(value)


@dataclass(frozen=True)
class UpdateResult:
    """What an update or import did. `downloaded` counts artifact bytes fetched."""

    updated: bool
    source: str
    info: DbInfo | None
    downloaded: int = 0
    message: str = ""


@dataclass(frozen=True)
class FreshnessResult:
    """What a scan's automatic update did; `checked` is whether the network was used."""

    checked: bool
    updated: bool
    info: DbInfo | None
    reason: str
    warnings: tuple[str, ...] = ()


# -- state next to the DB -----------------------------------------------------------------


@dataclass
class DbState:
    """hullscan.db.meta.json: what is installed and when a source was last asked."""

    format: int = STATE_FORMAT
    db_digest: str = ""
    db_size: int = 0
    artifact_digest: str = ""
    manifest_digest: str = ""
    schema_version: int = 0
    built_at: str = ""
    source: str = ""
    etag: str = ""
    last_modified: str = ""
    installed_at: str = ""
    file: list[int] = field(default_factory=list)  # st_dev, st_ino, st_size, st_mtime_ns
    last_check: str = ""
    last_check_ok: bool = True
    last_error: str = ""

    def describes(self, dest: Path) -> bool:
        """Whether the DB file is still the one this state was written for."""
        return bool(self.db_digest) and self.file == _file_id(dest)


def state_path(dest: Path) -> Path:
    return dest.with_name(dest.name + STATE_SUFFIX)


def load_state(dest: Path) -> DbState:
    """The state file, or an empty state when it is missing or unreadable (never fatal)."""
    try:
        raw = json.loads(state_path(dest).read_bytes())
        known = {k: v for k, v in raw.items() if k in DbState.__dataclass_fields__}
        state = DbState(**known)
        if state.format != STATE_FORMAT:
            return DbState()
        return state
    except (OSError, ValueError, TypeError, AttributeError):
        return DbState()


def save_state(dest: Path, state: DbState) -> None:
    write_atomic(state_path(dest), json.dumps(asdict(state), indent=2).encode() + b"\n")


def _file_id(path: Path) -> list[int]:
    try:
        st = path.stat()
    except OSError:
        return []
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def _now_text(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def db_lock(dest: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Serialise imports and updates of one DB across processes.

    flock on the DB's directory itself: no lock file to leave behind, and the kernel
    releases it when a holder dies, even by SIGKILL.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(dest.parent, os.O_RDONLY)
    except OSError as exc:
        raise DbError(f"cannot update the DB in {dest.parent}: {exc.strerror or exc}") from None
    try:
        if fcntl is not None:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise DbError(
                            f"another hullscan process has been updating {dest} for more than "
                            f"{timeout:g} s; try again later"
                        ) from None
                    time.sleep(0.05)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class _Local:
    """The installed DB as an update sees it."""

    usable: bool  # opens as a DB of this schema
    db_digest: str
    artifact_digest: str
    manifest_digest: str
    source: str
    etag: str
    last_modified: str


def _local(dest: Path, state: DbState) -> _Local | None:
    if not dest.is_file():
        return None
    try:
        with VulnDB.open(dest):
            usable = True
    except DbError:
        usable = False
    if state.describes(dest):
        return _Local(
            usable,
            state.db_digest,
            state.artifact_digest,
            state.manifest_digest,
            state.source,
            state.etag,
            state.last_modified,
        )
    try:
        digest, _size = file_digest(dest)
    except OSError:
        return _Local(False, "", "", "", "", "", "")
    return _Local(usable, digest, "", "", "", "", "")


def _installed_state(
    dest: Path, metadata: DbMetadata, source: str, now: datetime, **extra: Any
) -> DbState:
    return DbState(
        db_digest=metadata.db_digest,
        db_size=metadata.db_size,
        artifact_digest=metadata.artifact_digest,
        schema_version=metadata.schema_version,
        built_at=metadata.built_at,
        source=source,
        installed_at=_now_text(now),
        file=_file_id(dest),
        last_check=_now_text(now),
        **extra,
    )


def _adopt(dest: Path, state: DbState, local: _Local, source: str) -> DbState:
    """The installed DB equals the published one: remember that, cheaply checkable next time."""
    if state.describes(dest):
        return replace(state, source=source)
    file = _file_id(dest)
    return DbState(
        db_digest=local.db_digest,
        db_size=file[2] if file else 0,
        schema_version=SCHEMA_VERSION,  # only usable DBs are adopted
        file=file,
        source=source,
    )


# -- import / update ------------------------------------------------------------------------


def import_db(
    artifact_path: Path,
    dest_db: Path,
    *,
    metadata_path: Path | None = None,
    progress: Progress | None = None,
) -> UpdateResult:
    """Install an exported artifact (and its metadata JSON) as `dest_db`, atomically.

    `artifact_path` may also be the metadata JSON. Verifies schema, digests and sizes; a
    DB identical to the installed one is left alone.
    """
    dest = Path(dest_db).expanduser()
    source = DbSource.url(str(artifact_path))
    if source.kind != "file":
        raise DbError(f"{artifact_path}: db import reads a local file; use db update --db-url")
    with db_lock(dest):
        _clean(dest)
        state = load_state(dest)
        result = _update_file(
            source.location, dest, state, force=False, progress=progress, meta=metadata_path
        )
    return result


def update_db(
    dest_db: Path,
    sources: Sequence[DbSource | str],
    *,
    options: RegistryOptions | None = None,
    env: Mapping[str, str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> UpdateResult:
    """Bring `dest_db` up to date from the first source that answers (others are fallbacks).

    Downloads nothing when the published DB is the installed one (unless `force`); refuses
    a DB of another schema. DbError listing every source's failure when none worked; the
    installed DB is untouched then.
    """
    dest = Path(dest_db).expanduser()
    parsed = [parse_db_source(s) for s in sources]
    if not parsed:
        raise DbError(
            "no DB source to update from: pass --db-repository REGISTRY/REPO or --db-url URL"
        )
    with db_lock(dest):
        return _update_locked(dest, parsed, options, env, force, progress, now)


def _clean(dest: Path) -> None:
    for removed in clean_stale_temps(dest) + clean_stale_temps(state_path(dest)):
        log.info("removed %s, left behind by an interrupted hullscan", removed)


def _update_locked(
    dest: Path,
    sources: list[DbSource],
    options: RegistryOptions | None,
    env: Mapping[str, str] | None,
    force: bool,
    progress: Progress | None,
    now: datetime | None,
) -> UpdateResult:
    _clean(dest)
    when = now or datetime.now(UTC)
    state = load_state(dest)
    failures: list[str] = []
    for source in sources:
        try:
            if source.kind == "oci":
                result = _update_oci(source.location, dest, state, options, env, force, progress)
            elif source.kind == "url":
                result = _update_url(source.location, dest, state, options, force, progress)
            else:
                result = _update_file(source.location, dest, state, force=force, progress=progress)
        except (HullscanError, OSError) as exc:
            log.info("DB update from %s failed: %s", source, exc)
            failures.append(f"{source}: {exc}")
            continue
        fresh = load_state(dest)
        save_state(
            dest, replace(fresh, last_check=_now_text(when), last_check_ok=True, last_error="")
        )
        return result
    with suppress(HullscanError, OSError):
        failed = replace(
            load_state(dest),
            last_check=_now_text(when),
            last_check_ok=False,
            last_error="; ".join(failures)[:2000],
        )
        save_state(dest, failed)
    if len(failures) == 1:
        raise DbError(f"cannot update the vulnerability DB from {failures[0]}")
    listed = "\n  ".join(failures)
    raise DbError(f"cannot update the vulnerability DB from any source:\n  {listed}")


def _up_to_date(dest: Path, source: str, state: DbState, message: str) -> UpdateResult:
    save_state(dest, state)
    with VulnDB.open(dest) as db:
        info = db.info()
    return UpdateResult(False, source, info, 0, message)


def _update_oci(
    location: str,
    dest: Path,
    state: DbState,
    options: RegistryOptions | None,
    env: Mapping[str, str] | None,
    force: bool,
    progress: Progress | None,
) -> UpdateResult:
    now = datetime.now(UTC)
    local = None if force else _local(dest, state)
    remote = OciDbSource(location, options, env=env)
    label = remote.label
    try:
        known = local.manifest_digest if local and local.usable and local.source == label else ""
        if known and remote.head() == known:
            return _up_to_date(dest, label, state, f"{dest} is up to date with {label}")
        manifest = remote.manifest()
        if manifest.schema_version is not None and manifest.schema_version != SCHEMA_VERSION:
            _schema_stub(manifest.schema_version).check_schema(label)
        same = local is not None and (
            manifest.layer_digest == local.artifact_digest
            or (manifest.db_digest and manifest.db_digest == local.db_digest)
        )
        if local and local.usable and same:
            adopted = replace(_adopt(dest, state, local, label), manifest_digest=manifest.digest)
            return _up_to_date(dest, label, adopted, f"{dest} is up to date with {label}")
        metadata = remote.metadata(manifest)
        metadata.check_schema(label)
        if local and local.usable and metadata.db_digest == local.db_digest:
            adopted = replace(_adopt(dest, state, local, label), manifest_digest=manifest.digest)
            return _up_to_date(dest, label, adopted, f"{dest} is up to date with {label}")
        stream = remote.open_layer(metadata)
        try:
            info = install_compressed(stream, metadata, dest, label, progress=progress)
        finally:
            stream.close()
        save_state(
            dest, _installed_state(dest, metadata, label, now, manifest_digest=manifest.digest)
        )
    except SourceError as exc:
        raise DbError(str(exc)) from None
    finally:
        remote.close()
    return UpdateResult(
        True, label, info, metadata.artifact_size, f"installed the DB built {info.built_at}"
    )


def _schema_stub(schema: int) -> DbMetadata:
    """Metadata carrying only a schema version, to word the refusal the same way."""
    zero = "sha256:" + "0" * 64
    return DbMetadata(schema, "", zero, 0, zero, 0)


def _url_pair(url: str) -> tuple[str, str | None]:
    """(metadata URL, artifact URL or None = named by the metadata) for a --db-url."""
    path = urlsplit(url).path
    if path.endswith(".json"):
        return url, None
    return url + ".json", url


class _Http:
    """httpx with the registry client's TLS (--ca-cert) and retry policy, for --db-url."""

    def __init__(self, options: RegistryOptions) -> None:
        self.options = options
        self.client = httpx.Client(
            verify=ssl_context(options.ca_cert),
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=True,
            headers={"User-Agent": f"hullscan/{__version__}"},
        )
        self.retrier = Retrier(self.client, options, time.sleep)

    def get(self, url: str, what: str, headers: dict[str, str] | None = None) -> httpx.Response:
        request = self.client.build_request("GET", url, headers=headers or {})
        return self.retrier.send(request, what)

    def close(self) -> None:
        self.client.close()


def _update_url(
    location: str,
    dest: Path,
    state: DbState,
    options: RegistryOptions | None,
    force: bool,
    progress: Progress | None,
) -> UpdateResult:
    now = datetime.now(UTC)
    meta_url, artifact_url = _url_pair(location)
    if urlsplit(location).scheme.lower() == "http":
        log.warning("reading the DB over plain HTTP from %s: prefer https", location)
    local = None if force else _local(dest, state)
    http = _Http(options or RegistryOptions())
    try:
        headers: dict[str, str] = {}
        if local and local.usable and local.source == meta_url:
            if local.etag:
                headers["If-None-Match"] = local.etag
            if local.last_modified:
                headers["If-Modified-Since"] = local.last_modified
        what = f"DB metadata {meta_url}"
        response = http.get(meta_url, what, headers)
        try:
            if response.status_code == 304 and local:
                return _up_to_date(dest, meta_url, state, f"{dest} is up to date with {meta_url}")
            if response.status_code != 200:
                raise DbError(f"cannot fetch {what}: HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > 16 << 20:
                    raise DbError(f"{what} is implausibly large; refusing it")
        finally:
            response.close()
        metadata = DbMetadata.from_json(bytes(body), meta_url)
        metadata.check_schema(meta_url)
        validators = {
            "etag": response.headers.get("etag", ""),
            "last_modified": response.headers.get("last-modified", ""),
        }
        if local and local.usable and metadata.db_digest == local.db_digest:
            adopted = replace(_adopt(dest, state, local, meta_url), **validators)
            return _up_to_date(dest, meta_url, adopted, f"{dest} is up to date with {meta_url}")
        url = artifact_url or urljoin(meta_url, metadata.artifact_name)
        stream = VerifyingBlobStream(
            lambda offset: _open_url(http, url, offset),
            metadata.artifact_digest,
            metadata.artifact_size,
            f"DB artifact {url}",
            max_resumes=http.options.max_retries,
        )
        try:
            info = install_compressed(
                cast(BinaryIO, stream), metadata, dest, url, progress=progress
            )
        finally:
            stream.close()
        save_state(dest, _installed_state(dest, metadata, meta_url, now, **validators))
    except (SourceError, httpx.HTTPError) as exc:
        raise DbError(str(exc) or type(exc).__name__) from None
    finally:
        http.close()
    return UpdateResult(
        True, meta_url, info, metadata.artifact_size, f"installed the DB built {info.built_at}"
    )


def _open_url(http: _Http, url: str, offset: int) -> httpx.Response:
    """GET the artifact from `offset` (Range) for the verifying stream; 2xx or raises."""
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    response = http.get(url, f"DB artifact {url}", headers)
    if not 200 <= response.status_code < 300:
        response.close()
        raise SourceError(f"cannot fetch the DB artifact {url}: HTTP {response.status_code}")
    return response


def _update_file(
    location: str,
    dest: Path,
    state: DbState,
    *,
    force: bool,
    progress: Progress | None,
    meta: Path | None = None,
) -> UpdateResult:
    now = datetime.now(UTC)
    path = Path(location)
    if meta is None and path.suffix == ".json" and path.is_file():
        meta = path
        doc = DbMetadata.from_json(path.read_bytes(), str(path))
        path = path.with_name(doc.artifact_name)
    artifact = read_artifact(path, meta if meta is not None else metadata_path_for(path))
    metadata = artifact.metadata
    label = str(artifact.path)
    metadata.check_schema(label)
    size = artifact.path.stat().st_size
    if size != metadata.artifact_size:
        raise DbError(
            f"{label} does not match its metadata {artifact.metadata_path} ({size} bytes, the "
            f"metadata says {metadata.artifact_size}): export it again"
        )
    local = None if force else _local(dest, state)
    if local and local.usable and metadata.db_digest == local.db_digest:
        return _up_to_date(
            dest, label, _adopt(dest, state, local, label), f"{dest} already is {label}"
        )
    try:
        with artifact.path.open("rb") as fh:
            info = install_compressed(fh, metadata, dest, label, progress=progress)
    except OSError as exc:
        raise DbError(f"cannot read {artifact.path}: {exc.strerror or exc}") from None
    save_state(dest, _installed_state(dest, metadata, label, now))
    return UpdateResult(True, label, info, 0, f"installed the DB built {info.built_at}")


# -- freshness --------------------------------------------------------------------------------


def _installed(dest: Path) -> tuple[DbInfo | None, str]:
    """The usable installed DB's info, or None and why it cannot be used."""
    try:
        with VulnDB.open(dest) as db:
            return db.info(), ""
    except DbError as exc:
        return None, str(exc)


def ensure_fresh_db(
    dest_db: Path,
    sources: Sequence[DbSource | str],
    max_age: timedelta = DEFAULT_MAX_AGE,
    offline: bool = False,
    skip_update: bool = False,
    *,
    check_interval: timedelta | None = None,
    options: RegistryOptions | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> FreshnessResult:
    """The automatic update before a scan.

    Never touches the network with `offline` or `skip_update` (a missing DB is then a
    DbError saying how to get one). Otherwise updates when the DB is missing, unusable
    (damaged, other schema) or built more than `max_age` ago - but asks the sources at
    most once per `check_interval` (default: max_age; after a failed check, at most
    FAILED_CHECK_RETRY). A failed update with a usable DB is a warning, not an error:
    the scan goes on with what it has (and db_age_warning says how old that is).
    """
    dest = Path(dest_db).expanduser()
    when = (now or datetime.now(UTC)).astimezone(UTC)
    info, problem = _installed(dest)
    if offline or skip_update:
        flag = "--offline" if offline else "--skip-db-update"
        if info is None:
            raise DbError(
                f"{problem}; {flag} forbids downloading one: run `hullscan db update` or "
                "`hullscan db import` first"
            )
        return FreshnessResult(False, False, info, f"{flag}: not checked")
    parsed = [parse_db_source(s) for s in sources]
    if info is not None and not _too_old(info, when, max_age):
        return FreshnessResult(False, False, info, "fresh")
    if not parsed:
        if info is None:
            raise DbError(
                f"{problem}; no --db-repository or --db-url to download one from (or run "
                "`hullscan db build`)"
            )
        return FreshnessResult(False, False, info, "old, but no DB source configured")
    interval = check_interval if check_interval is not None else max_age
    with db_lock(dest):
        info, problem = _installed(dest)  # another process may have updated it meanwhile
        if info is not None and not _too_old(info, when, max_age):
            return FreshnessResult(False, False, info, "fresh")
        state = load_state(dest)
        last = _parse_time(state.last_check) if state.last_check else None
        wait = interval if state.last_check_ok else min(interval, FAILED_CHECK_RETRY)
        if info is not None and last is not None and timedelta(0) <= when - last < wait:
            return FreshnessResult(False, False, info, f"checked at {state.last_check}")
        try:
            result = _update_locked(dest, parsed, options, env, False, progress, when)
        except HullscanError as exc:
            if info is None:
                raise
            warning = (
                f"the vulnerability DB could not be updated ({exc}); scanning with the one "
                f"built at {info.built_at}"
            )
            return FreshnessResult(True, False, info, "update failed", (warning,))
    return FreshnessResult(True, result.updated, result.info, result.message)


def _too_old(info: DbInfo, now: datetime, max_age: timedelta) -> bool:
    age = db_age(info, now)
    return age is None or age > max_age
