"""Real Debian images without a Docker engine, and dpkg itself as the oracle for their content.

`build_debian_image` runs `debootstrap --variant=minbase` once (cached), then stacks three
layers with umoci (Debian's `umoci`, which diffs a bundle's rootfs against its last pack and
writes real `.wh.` whiteouts for what was deleted):

1. the debootstrap tree, with apt's download cache and lists emptied (as image builders do);
2. a real `apt-get upgrade` from the security archive plus `apt-get install curl
   ca-certificates`, run in a chroot: new packages, and upgraded layer-1 packages whose
   attribution must move to this layer;
3. `apt-get purge curl tzdata` (a layer-2 and a layer-1 package vanish) and `apt-get remove
   e2fsprogs` (left in dpkg's `config-files` state: its files are gone, so not installed).

After each step `dpkg-query` records what dpkg considers installed; the final oracle is
dpkg-query on the image unpacked again by umoci (layers and whiteouts applied by a tool
other than hullscan). The image is written as an OCI layout tar and as a `docker save`
tar (same gzip blobs). Everything is cached under a work directory keyed by the recipe.

Needs root, debootstrap, umoci, dpkg-query, chroot, mount, and HTTP access to a Debian mirror.
Used by benchmarks/real_debian.py and tests/integration/test_real_debian.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

DEFAULT_SUITE = "bookworm"
MIRROR_ENV = "HULLSCAN_DEBIAN_MIRROR"
SECURITY_MIRROR_ENV = "HULLSCAN_DEBIAN_SECURITY_MIRROR"
FALLBACK_MIRROR = "http://deb.debian.org/debian"
REPO_TAG = "hullscan-bench/debian"
#: Bump when the build procedure changes in a way the recipe text does not show.
BUILD_FORMAT = 1

#: The fields compared, as `dpkg-query -W -f` takes them (dpkg-query expands the escapes).
DPKG_FORMAT = (
    r"${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}"
    r"\t${db:Status-Status}\n"
)
#: dpkg states in which a package's files are not on disk (what `dpkg -l` shows as un/rc).
ABSENT_STATES = frozenset({"not-installed", "config-files"})
_CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PASSED_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")

Log = Callable[[str], None]
Key = tuple[str, str]  # (package name, architecture)


class Unavailable(Exception):
    """The image cannot be built here (tool missing, not root, mirror unreachable)."""


@dataclass(frozen=True)
class PkgRow:
    """One installed package as an inventory reports it."""

    name: str
    version: str
    arch: str
    source_name: str
    source_version: str

    @property
    def key(self) -> Key:
        return (self.name, self.arch)


@dataclass(frozen=True)
class Step:
    """One layer: what `created_by` says, and the shell script run in the chroot."""

    created_by: str
    script: str


@dataclass
class BuiltImage:
    """A built (or cached) image and dpkg's view of it."""

    directory: Path
    oci_dir: Path
    oci_tar: Path
    docker_tar: Path
    final_rootfs: Path
    diff_ids: list[str]
    created_by: list[str]
    #: dpkg-query on the bundle after each step: installed packages ...
    layer_states: list[dict[Key, PkgRow]]
    #: ... and packages left in `config-files` state, by name.
    config_files: list[list[str]]
    build_seconds: float | None = None  # of the build that made it (cached or not)
    cached: bool = False
    debootstrap_seconds: float | None = None  # None when the rootfs was reused
    log_path: Path | None = None


@dataclass
class InventoryDiff:
    """What an inventory got wrong against the oracle."""

    missing: list[PkgRow] = field(default_factory=list)  # the oracle has it, the tool not
    extra: list[PkgRow] = field(default_factory=list)  # the tool has it, the oracle not
    changed: list[tuple[PkgRow, PkgRow]] = field(default_factory=list)  # (oracle, tool)
    misattributed: list[tuple[str, int | None, int | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.changed or self.misattributed)

    def describe(self) -> str:
        lines = [f"missing: {_fmt(r)}" for r in self.missing]
        lines += [f"extra: {_fmt(r)}" for r in self.extra]
        lines += [f"differs: oracle {_fmt(a)} / tool {_fmt(b)}" for a, b in self.changed]
        lines += [
            f"layer: {name} came with layer {_nth(want)}, attributed to layer {_nth(got)}"
            for name, want, got in self.misattributed
        ]
        return "\n".join(lines) or "identical"


def _nth(index: int | None) -> str:
    """1-based layer number for people; `?` when the tool named no known layer."""
    return "?" if index is None else str(index + 1)


def _fmt(row: PkgRow) -> str:
    return f"{row.name}:{row.arch}={row.version} (src {row.source_name} {row.source_version})"


# --- environment ----------------------------------------------------------------------------


def _apt_uris() -> list[str]:
    """Debian mirror URIs this machine's apt uses (sources.list and deb822 .sources)."""
    files = [Path("/etc/apt/sources.list")]
    directory = Path("/etc/apt/sources.list.d")
    if directory.is_dir():
        files += sorted(directory.glob("*.list")) + sorted(directory.glob("*.sources"))
    uris: list[str] = []
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("URIs:"):
                uris += line.split()[1:]
            elif line.startswith("deb "):
                uris += [w for w in line.split()[1:] if "://" in w][:1]
    return uris


def default_mirrors() -> tuple[str, str]:
    """(main, security) mirror: the environment, else what host apt uses, else deb.debian.org."""
    uris = _apt_uris()
    main = os.environ.get(MIRROR_ENV, "").strip()
    if not main:
        main = next((u for u in uris if u.rstrip("/").endswith("/debian")), FALLBACK_MIRROR)
    main = main.rstrip("/")
    security = os.environ.get(SECURITY_MIRROR_ENV, "").strip()
    if not security:
        security = next((u for u in uris if u.rstrip("/").endswith("/debian-security")), "")
    security = (security or main + "-security").rstrip("/")
    return main, security


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/bin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _tools() -> dict[str, str]:
    tools = {n: _tool(n) for n in ("debootstrap", "umoci", "dpkg-query", "chroot", "mount")}
    missing = sorted(name for name, path in tools.items() if path is None)
    if missing:
        hint = "apt-get install debootstrap umoci"
        raise Unavailable(f"missing tools: {', '.join(missing)} ({hint})")
    return {name: path for name, path in tools.items() if path is not None}


def check_prerequisites(mirror: str, suite: str = DEFAULT_SUITE, timeout: float = 10.0) -> None:
    """Raise Unavailable unless this machine can build the image now."""
    if os.geteuid() != 0:
        raise Unavailable("building a Debian rootfs needs root (debootstrap, chroot)")
    _tools()
    url = f"{mirror}/dists/{suite}/Release"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read(64)
    except (OSError, ValueError) as exc:
        raise Unavailable(f"Debian mirror unreachable: {url}: {exc}") from None


# --- the oracle -----------------------------------------------------------------------------


def dpkg_query(root: Path) -> tuple[dict[Key, PkgRow], list[str]]:
    """Installed packages of the tree at `root` as dpkg says, and those in config-files state."""
    admindir = f"--admindir={root / 'var/lib/dpkg'}"
    out = subprocess.run(
        [_tool("dpkg-query") or "dpkg-query", admindir, "-W", "-f", DPKG_FORMAT],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installed: dict[Key, PkgRow] = {}
    config_files: list[str] = []
    for line in out.splitlines():
        name, version, arch, source_name, source_version, state = line.split("\t")
        if state == "config-files":
            config_files.append(name)
        if state in ABSENT_STATES:
            continue
        row = PkgRow(name, version, arch, source_name, source_version)
        installed[row.key] = row
    return installed, sorted(config_files)


def expected_layers(states: Sequence[Mapping[Key, PkgRow]]) -> dict[Key, int]:
    """For each package of the last state, the layer that introduced its installed version.

    That is the first layer of the final unbroken run of layers in which the package was
    present with that very version (a later rewrite of the database does not move it).
    """
    result: dict[Key, int] = {}
    if not states:
        return result
    for key, row in states[-1].items():
        index = len(states) - 1
        while index > 0:
            before = states[index - 1].get(key)
            if before is None or before.version != row.version:
                break
            index -= 1
        result[key] = index
    return result


def compare(
    oracle: Mapping[Key, PkgRow],
    tool: Mapping[Key, PkgRow],
    *,
    expected_layer: Mapping[Key, int] | None = None,
    tool_layer: Mapping[Key, int | None] | None = None,
) -> InventoryDiff:
    """Field-by-field comparison; layers too when both mappings are given."""
    diff = InventoryDiff()
    for key in sorted(oracle.keys() | tool.keys()):
        want, got = oracle.get(key), tool.get(key)
        if got is None and want is not None:
            diff.missing.append(want)
        elif want is None and got is not None:
            diff.extra.append(got)
        elif want is not None and got is not None and want != got:
            diff.changed.append((want, got))
    if expected_layer is not None and tool_layer is not None:
        for key in sorted(expected_layer.keys() & tool.keys()):
            if tool_layer.get(key) != expected_layer[key]:
                diff.misattributed.append((key[0], expected_layer[key], tool_layer.get(key)))
    return diff


def hullscan_rows(
    document: Mapping[str, Any], pkg_type: str = "deb"
) -> tuple[dict[Key, PkgRow], dict[Key, int | None]]:
    """Packages and layer indexes from a `hullscan image -f json` report."""
    index = {layer["diff_id"]: layer["index"] for layer in document["artifact"]["layers"]}
    rows: dict[Key, PkgRow] = {}
    layers: dict[Key, int | None] = {}
    for pkg in document["packages"]:
        if pkg["type"] != pkg_type:
            continue
        source = pkg.get("source") or {}
        row = PkgRow(
            pkg["name"],
            pkg["version"],
            pkg.get("arch") or "",
            source.get("name") or "",
            source.get("version") or "",
        )
        rows[row.key] = row
        layers[row.key] = index.get(pkg.get("layer") or "")
    return rows, layers


# --- building -------------------------------------------------------------------------------


def default_steps(suite: str, security_mirror: str) -> list[Step]:
    security = ""
    if security_mirror:
        security = f"echo 'deb {security_mirror} {suite}-security main' >> /etc/apt/sources.list\n"
    return [
        Step(
            f"debootstrap --variant=minbase {suite} (apt caches emptied)",
            "rm -rf /var/cache/apt/archives/*.deb /var/cache/apt/*.bin /var/lib/apt/lists/*\n",
        ),
        Step(
            "apt-get upgrade && apt-get install curl ca-certificates",
            security + "apt-get update -qq\n"
            "apt-get upgrade -y -qq\n"
            "apt-get install -y -qq --no-install-recommends curl ca-certificates\n"
            "apt-get clean\n"
            "rm -rf /var/lib/apt/lists/*\n",
        ),
        Step(
            "apt-get purge curl tzdata && apt-get remove e2fsprogs",
            "apt-get purge -y -qq curl tzdata\n"
            "apt-get remove -y -qq --allow-remove-essential e2fsprogs\n"
            "rm -rf /var/cache/apt/*.bin\n",
        ),
    ]


def _run(cmd: list[str], log: TextIO | None, **kwargs: Any) -> None:
    if log is not None:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
    result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False, **kwargs)
    if result.returncode:
        raise RuntimeError(f"{cmd[0]} failed with exit code {result.returncode}: {' '.join(cmd)}")


def remove_tree(path: Path) -> None:
    """rm -rf that refuses to cross into a mount left behind by an interrupted chroot."""
    if not path.exists():
        return
    for proc in path.glob("**/rootfs/proc"):
        if os.path.ismount(proc):
            subprocess.run(["umount", "-l", str(proc)], check=False)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


@contextlib.contextmanager
def _proc_mounted(root: Path, log: TextIO | None) -> Iterator[None]:
    target = root / "proc"
    target.mkdir(exist_ok=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "proc", "proc", str(target)], capture_output=True, check=False
        ).returncode
        == 0
    )
    if not mounted and log is not None:
        log.write("(could not mount /proc in the chroot; continuing without)\n")
    try:
        yield
    finally:
        if mounted:
            subprocess.run(["umount", str(target)], check=False)
            if os.path.ismount(target):
                subprocess.run(["umount", "-l", str(target)], check=False)


def run_in_chroot(root: Path, script: str, log: TextIO | None) -> None:
    env = {"PATH": _CHROOT_PATH, "HOME": "/root", "LC_ALL": "C.UTF-8"}
    env["DEBIAN_FRONTEND"] = "noninteractive"
    env.update({k: os.environ[k] for k in _PASSED_ENV if k in os.environ})
    with _proc_mounted(root, log):
        _run(["chroot", str(root), "/bin/sh", "-euxc", script], log, env=env)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _rootfs_ready(directory: Path, mirror: str) -> bool:
    marker = directory / "rootfs.ok"
    return marker.is_file() and marker.read_text() == mirror and (directory / "rootfs").is_dir()


def debootstrap_rootfs(directory: Path, suite: str, mirror: str, log: TextIO) -> Path:
    """`debootstrap --variant=minbase SUITE DIR MIRROR`, once; reused while its marker exists."""
    rootfs = directory / "rootfs"
    marker = directory / "rootfs.ok"
    if _rootfs_ready(directory, mirror):
        return rootfs
    remove_tree(rootfs)
    marker.unlink(missing_ok=True)
    partial = directory / "rootfs.partial"
    remove_tree(partial)
    _run(["debootstrap", "--variant=minbase", suite, str(partial), mirror], log)
    partial.rename(rootfs)
    marker.write_text(mirror)
    return rootfs


def _recipe(suite: str, mirror: str, steps: list[Step]) -> str:
    text = json.dumps(
        [BUILD_FORMAT, suite, mirror, [(s.created_by, s.script) for s in steps]], sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()


def build_debian_image(
    workdir: Path,
    *,
    suite: str = DEFAULT_SUITE,
    mirror: str | None = None,
    security_mirror: str | None = None,
    rebuild: bool = False,
    say: Log = lambda _message: None,
) -> BuiltImage:
    """Build (or reuse) the three-layer image described in the module docs."""
    default_main, default_security = default_mirrors()
    mirror = (mirror or default_main).rstrip("/")
    security_mirror = default_security if security_mirror is None else security_mirror
    steps = default_steps(suite, security_mirror)
    directory = (workdir / f"debian-{suite}").resolve()
    image_dir = directory / "image"
    meta_path = image_dir / "meta.json"
    recipe = _recipe(suite, mirror, steps)
    with _locked(directory / ".lock"):
        if not rebuild and meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            if meta.get("recipe") == recipe:
                image = _from_meta(image_dir, meta)
                if all(p.exists() for p in (image.oci_tar, image.docker_tar, image.final_rootfs)):
                    say(f"using the cached image in {image_dir}")
                    image.build_seconds = meta.get("build_seconds")
                    image.debootstrap_seconds = meta.get("debootstrap_seconds")
                    image.cached = True
                    return image
        _tools()
        check_prerequisites(mirror, suite)
        started = time.monotonic()
        if rebuild:
            remove_tree(directory / "rootfs")
            (directory / "rootfs.ok").unlink(missing_ok=True)
        remove_tree(image_dir)
        image_dir.mkdir(parents=True)
        log_path = directory / "build.log"
        with log_path.open("w") as log:
            say(f"debootstrap {suite} from {mirror} (log: {log_path})")
            try:
                reused = _rootfs_ready(directory, mirror)
                rootfs = debootstrap_rootfs(directory, suite, mirror, log)
                bootstrapped = time.monotonic()
                image = _stack_layers(image_dir, rootfs, suite, steps, say, log)
            except RuntimeError as exc:
                log.flush()
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
                raise RuntimeError(f"{exc}\n--- last lines of {log_path}:\n{tail}") from None
        image.build_seconds = time.monotonic() - started
        image.debootstrap_seconds = None if reused else bootstrapped - started
        image.log_path = log_path
        meta = _to_meta(image, recipe)
        meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
        return image


def _stack_layers(
    image_dir: Path, rootfs: Path, suite: str, steps: list[Step], say: Log, log: TextIO
) -> BuiltImage:
    layout, bundle, final = image_dir / "oci", image_dir / "bundle", image_dir / "final"
    ref = f"{layout}:{suite}"
    _run(["umoci", "init", "--layout", str(layout)], log)
    _run(["umoci", "new", "--image", ref], log)
    _run(["umoci", "unpack", "--image", ref, str(bundle)], log)
    tree = bundle / "rootfs"
    _run(["cp", "-a", f"{rootfs}/.", f"{tree}/"], log)
    states: list[dict[Key, PkgRow]] = []
    config_files: list[list[str]] = []
    try:
        for number, step in enumerate(steps, 1):
            say(f"layer {number}: {step.created_by}")
            run_in_chroot(tree, step.script, log)
            installed, leftover = dpkg_query(tree)
            states.append(installed)
            config_files.append(leftover)
            repack = ["umoci", "repack", "--refresh-bundle", "--image", ref]
            _run([*repack, "--history.created_by", step.created_by, str(bundle)], log)
        say("unpacking the final image with umoci for the oracle")
        _run(["umoci", "unpack", "--image", ref, str(final)], log)
    finally:
        remove_tree(bundle)
    oci_tar, docker_tar = image_dir / "image.oci.tar", image_dir / "image.docker.tar"
    diff_ids, created_by = write_archives(layout, oci_tar, docker_tar, f"{REPO_TAG}:{suite}")
    return BuiltImage(
        directory=image_dir,
        oci_dir=layout,
        oci_tar=oci_tar,
        docker_tar=docker_tar,
        final_rootfs=final / "rootfs",
        diff_ids=diff_ids,
        created_by=created_by,
        layer_states=states,
        config_files=config_files,
    )


def _to_meta(image: BuiltImage, recipe: str) -> dict[str, Any]:
    return {
        "recipe": recipe,
        "diff_ids": image.diff_ids,
        "created_by": image.created_by,
        "states": [[list(_astuple(r)) for r in s.values()] for s in image.layer_states],
        "config_files": image.config_files,
        "build_seconds": image.build_seconds,
        "debootstrap_seconds": image.debootstrap_seconds,
    }


def _astuple(row: PkgRow) -> tuple[str, str, str, str, str]:
    return (row.name, row.version, row.arch, row.source_name, row.source_version)


def _from_meta(image_dir: Path, meta: dict[str, Any]) -> BuiltImage:
    states = [{(r[0], r[2]): PkgRow(*r) for r in state} for state in meta["states"]]
    return BuiltImage(
        directory=image_dir,
        oci_dir=image_dir / "oci",
        oci_tar=image_dir / "image.oci.tar",
        docker_tar=image_dir / "image.docker.tar",
        final_rootfs=image_dir / "final" / "rootfs",
        diff_ids=list(meta["diff_ids"]),
        created_by=list(meta["created_by"]),
        layer_states=states,
        config_files=[list(c) for c in meta["config_files"]],
    )


# --- archives -------------------------------------------------------------------------------


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, encoded = digest.partition(":")
    if not re.fullmatch(r"[a-f0-9]{64}", encoded) or algorithm != "sha256":
        raise ValueError(f"unexpected digest {digest!r}")
    return layout / "blobs" / algorithm / encoded


def _add(tar: tarfile.TarFile, name: str, data: bytes | Path | None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    info.mode = 0o644
    if isinstance(data, Path):
        info.size = data.stat().st_size
        with data.open("rb") as fh:
            tar.addfile(info, fh)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def write_archives(
    layout: Path, oci_tar: Path, docker_tar: Path, repo_tag: str
) -> tuple[list[str], list[str]]:
    """An OCI layout tar and a `docker save` tar of the single image in `layout`.

    Both hold the same gzip blobs; directory entries are written because some readers
    (Syft's oci-archive) need them. Returns the diff_ids and created_by of the layers.
    """
    index = json.loads((layout / "index.json").read_text())
    manifest_desc = index["manifests"][0]
    manifest = json.loads(_blob(layout, manifest_desc["digest"]).read_bytes())
    config_digest = manifest["config"]["digest"]
    config = json.loads(_blob(layout, config_digest).read_bytes())
    layer_digests = [d["digest"] for d in manifest["layers"]]
    blobs = [manifest_desc["digest"], config_digest, *layer_digests]
    for out, kind in ((oci_tar, "oci"), (docker_tar, "docker")):
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            if kind == "oci":
                _add(tar, "oci-layout", (layout / "oci-layout").read_bytes())
                _add(tar, "index.json", (layout / "index.json").read_bytes())
            else:
                entry = {
                    "Config": "blobs/sha256/" + config_digest.split(":", 1)[1],
                    "RepoTags": [repo_tag],
                    "Layers": ["blobs/sha256/" + d.split(":", 1)[1] for d in layer_digests],
                }
                _add(tar, "manifest.json", json.dumps([entry]).encode())
            _add(tar, "blobs", None)
            _add(tar, "blobs/sha256", None)
            for digest in blobs if kind == "oci" else blobs[1:]:
                _add(tar, "blobs/sha256/" + digest.split(":", 1)[1], _blob(layout, digest))
        partial.replace(out)
    history = [h for h in config.get("history", []) if not h.get("empty_layer")]
    created_by = [str(h.get("created_by", "")) for h in history]
    return list(config["rootfs"]["diff_ids"]), created_by


def layer_entries(layout: Path, diff_index: int) -> Iterable[str]:
    """Names in one layer of the image in `layout` (for checks on whiteouts)."""
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]).read_bytes())
    blob = _blob(layout, manifest["layers"][diff_index]["digest"])
    with tarfile.open(blob, "r:*") as tar:
        return [m.name for m in tar.getmembers()]
