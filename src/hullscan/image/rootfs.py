"""An unpacked root filesystem (`hullscan rootfs DIR`): one layer, read in place, no whiteouts.

The tree may be hostile or simply foreign (a chroot, a debootstrap output, an unpacked
image), so it is walked the way the LayerWalker reads a tar: nothing outside the root is
ever read. Every directory is opened relative to its parent's descriptor with O_NOFOLLOW,
so a symlink (or a directory swapped for one while we walk) cannot lead out of the tree;
symlinks at wanted paths become `FileFact(link=...)` with the target normalised inside the
root, exactly as the walker records them, and the Applier resolves them against the
rootfs's own files. FIFOs, sockets and devices are never opened.

This is not an `ImageSource`: there is no layer blob to stream, and building a tar of the
tree only to walk it again would read every file instead of the few analyzers want. The
entry point is `index_rootfs` (or `RootfsSource.index`), which feeds `walk_rootfs`'s single
LayerResult to the same Applier image scans use. A rootfs has no diff_id, so its result is
never cached: the directory may change between scans.
"""

from __future__ import annotations

import errno
import logging
import os
import posixpath
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.analyze.registry import default_analyzers
from hullscan.errors import SourceError
from hullscan.image.walker import FileFact, LayerResult, normalize_path, run_analyzer
from hullscan.inventory import Applier
from hullscan.model import ArtifactInfo, Inventory, Layer

log = logging.getLogger(__name__)

KIND = "rootfs"
#: Kernel pseudo-filesystems when DIR is a live system (`hullscan rootfs /`); no package
#: database lives there, and /proc alone holds a huge, ever-changing tree. Trivy skips them too.
SKIPPED_TOP_DIRS = frozenset({"proc", "sys", "dev"})
#: Deeper trees are hostile (real ones stay below ~40); the bound also bounds open descriptors.
MAX_DEPTH = 256
_READ_CHUNK = 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a file swapped for a FIFO after the type check must not block the open.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def walk_rootfs(root: Path, analyzers: Sequence[Analyzer]) -> LayerResult:
    """Walk a root filesystem directory once and run each analyzer on the files it wants."""
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SourceError(f"{root}: no such directory") from None
    except NotADirectoryError:
        raise SourceError(
            f"{root} is not a directory (expected an unpacked root filesystem)"
        ) from None
    except OSError as exc:
        raise SourceError(f"{root}: cannot open the directory: {exc.strerror}") from None
    walk = _RootfsWalk(analyzers, f"rootfs {root}")
    try:
        walk.run(root_fd)
    finally:
        os.close(root_fd)
    return LayerResult(diff_id="", files=tuple(walk.files), warnings=tuple(walk.warnings))


class RootfsSource:
    """An unpacked root filesystem described like an image of one layer (no diff_id)."""

    def __init__(self, root: Path) -> None:
        if not root.exists():
            raise SourceError(f"{root}: no such directory")
        if not root.is_dir():
            raise SourceError(f"{root} is not a directory (expected an unpacked root filesystem)")
        self.root = root
        self._artifact = ArtifactInfo(
            reference=str(root), kind=KIND, layers=(Layer(index=0, diff_id=""),)
        )

    @property
    def artifact(self) -> ArtifactInfo:
        return self._artifact

    def walk(self, analyzers: Sequence[Analyzer]) -> LayerResult:
        return walk_rootfs(self.root, analyzers)

    def index(self, analyzers: Sequence[Analyzer] | None = None) -> Inventory:
        """The Inventory of the tree, through the same Applier as image layers."""
        chosen = tuple(analyzers) if analyzers is not None else default_analyzers()
        applier = Applier()
        applier.apply(0, self.walk(chosen))
        return applier.inventory(self.artifact)

    def close(self) -> None:
        """Nothing is held open between calls; here for symmetry with image sources."""

    def __enter__(self) -> RootfsSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def index_rootfs(root: Path, analyzers: Sequence[Analyzer] | None = None) -> Inventory:
    """What `hullscan rootfs DIR` scans: the Inventory of an unpacked root filesystem."""
    return RootfsSource(root).index(analyzers)


class _RootfsWalk:
    """State of one pass over a tree; mirrors the walker's `_Walk` for tar entries."""

    def __init__(self, analyzers: Sequence[Analyzer], where: str) -> None:
        self.analyzers = analyzers
        self.where = where
        self.files: list[FileFact] = []
        self.warnings: list[str] = []

    def run(self, root_fd: int) -> None:
        """Depth-first over directories, each opened relative to its parent (no recursion)."""
        stack: list[tuple[int, str, Iterator[str]]] = [(root_fd, "", iter(self._scan(root_fd, "")))]
        try:
            while stack:
                fd, directory, subdirs = stack[-1]
                name = next(subdirs, None)
                if name is None:
                    stack.pop()
                    if fd != root_fd:
                        os.close(fd)
                    continue
                path = posixpath.join(directory, name) if directory else name
                if len(stack) >= MAX_DEPTH:
                    self.warnings.append(
                        f"{self.where}: /{path} is nested over {MAX_DEPTH} levels deep; skipped"
                    )
                    continue
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    self._cannot(path, "enter", exc)
                    continue
                try:
                    stack.append((child, path, iter(self._scan(child, path))))
                except BaseException:
                    os.close(child)
                    raise
        finally:
            for fd, _directory, _subdirs in stack:
                if fd != root_fd:
                    os.close(fd)

    def _scan(self, fd: int, directory: str) -> list[str]:
        """Handle the entries of one directory; return its subdirectories to descend into."""
        try:
            with os.scandir(fd) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            self._cannot(directory, "list", exc)
            return []
        subdirs: list[str] = []
        for entry in entries:
            path = normalize_path(posixpath.join(directory, entry.name))
            try:
                kind = _kind(entry)
            except OSError as exc:
                self._cannot(path, "inspect", exc)
                continue
            if kind == "dir" and not (not directory and entry.name in SKIPPED_TOP_DIRS):
                subdirs.append(entry.name)
            mode, size = -1, 0  # see Analyzer.wants_file
            if kind == "file":
                try:
                    info = entry.stat(follow_symlinks=False)
                    mode, size = info.st_mode, info.st_size
                except OSError:
                    pass  # gone or unreadable: only analyzers wanting it by name will tell
            wanting = [a for a in self.analyzers if a.wants_file(path, mode, size)]
            if not wanting:
                continue
            if kind == "link":
                self._link(fd, entry.name, path, wanting)
                continue
            content = self._read(fd, entry.name, path, wanting) if kind == "file" else None
            for analyzer in wanting:
                self.files.append(FileFact(path, analyzer.name, self._run(analyzer, path, content)))
        return subdirs

    def _link(self, fd: int, name: str, path: str, wanting: list[Analyzer]) -> None:
        try:
            target = os.readlink(name, dir_fd=fd)
        except OSError as exc:
            self._cannot(path, "read the link", exc)
            return
        # The same normalisation as the walker: absolute targets are relative to the rootfs.
        if target.startswith("/"):
            resolved = normalize_path(target)
        else:
            resolved = normalize_path(posixpath.join(posixpath.dirname(path), target))
        self.files.extend(FileFact(path, a.name, None, link=resolved) for a in wanting)

    def _read(self, fd: int, name: str, path: str, wanting: list[Analyzer]) -> bytes | None:
        limit = min(a.max_file_size for a in wanting)
        try:
            handle = os.open(name, _FILE_FLAGS, dir_fd=fd)
        except OSError as exc:
            self._cannot(path, "read", exc)
            return None
        try:
            info = os.fstat(handle)
            if not stat.S_ISREG(info.st_mode):  # swapped since the listing: not ours to read
                return None
            if info.st_size > limit:
                self._too_big(path, info.st_size, limit)
                return None
            chunks: list[bytes] = []
            total = 0
            while chunk := os.read(handle, min(_READ_CHUNK, limit + 1 - total)):
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:  # grew while we read it
                    self._too_big(path, total, limit)
                    return None
            return b"".join(chunks)
        except OSError as exc:
            self._cannot(path, "read", exc)
            return None
        finally:
            os.close(handle)

    def _run(self, analyzer: Analyzer, path: str, content: bytes | None) -> AnalysisResult | None:
        return run_analyzer(analyzer, path, content, self.where, self.warnings)

    def _too_big(self, path: str, size: int, limit: int) -> None:
        self.warnings.append(
            f"{self.where}: {path} is {size} bytes, over the {limit}-byte limit; skipped"
        )

    def _cannot(self, path: str, what: str, exc: OSError) -> None:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        self.warnings.append(f"{self.where}: cannot {what} /{path}: {reason}")


def _kind(entry: os.DirEntry[str]) -> str:
    """link, dir, file or special, never following a symlink."""
    if entry.is_symlink():
        return "link"
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "special"
