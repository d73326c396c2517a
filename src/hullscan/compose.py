"""The images of a docker-compose project, found as `docker compose` finds them.

`load_project` reads one or more compose files (`-f a.yml -f b.yml`, or the default
`compose.yaml`/`docker-compose.yml` and its `.override` file) the way compose-go does:

1. the project directory is `project_dir`, else the first file's directory; the
   environment is the shell's over the project's `.env` (or the given env files);
2. each file (each YAML document of it) is interpolated (compose_env), its `include:`
   entries imported, its services' `extends` resolved (same file or `file:`, relative to
   the file that says it), then it is merged onto the files before it (compose_merge);
3. services whose `profiles` are all inactive are left out (`--profile`, else
   `COMPOSE_PROFILES`; `*` enables every profile);
4. each active service's `image:` is normalised (hullscan.reference) and de-duplicated:
   `redis`, `redis:latest` and `docker.io/library/redis` are one image. A service with
   `build:` and no `image:` has no name to scan and is reported as skipped, with why; with
   both, the image is scanned (it may exist in the daemon or a registry).

Scanning the images and combining the reports is compose_scan's job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hullscan.compose_env import ComposeError, Interpolator, load_env_file
from hullscan.compose_merge import merge_documents, merge_service, strip_tags
from hullscan.compose_yaml import Override, Reset, load_documents
from hullscan.reference import DEFAULT_TAG, InvalidReferenceError, parse_image_reference

#: compose-go's DefaultFileNames and DefaultOverrideFileNames, in its order of preference.
DEFAULT_FILENAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILENAMES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
ALL_PROFILES = "*"

__all__ = [
    "ALL_PROFILES",
    "DEFAULT_FILENAMES",
    "OVERRIDE_FILENAMES",
    "ComposeError",
    "ComposeImage",
    "ComposeProject",
    "SkippedService",
    "find_compose_files",
    "load_project",
    "normalize_project_name",
]


@dataclass(frozen=True)
class ComposeImage:
    """One image to scan, and the services that run it.

    `reference` is the image as the first service wrote it (after interpolation), which is
    what the daemon or registry is asked for and what reports show; `normalized` is the
    fully qualified reference with the default tag (`docker.io/library/redis:latest`), the
    key images are de-duplicated by. `platform` is the services' `platform:` ("" = the
    default). `built_locally`: a service also has `build:`, so the image may exist only
    after `docker compose build` (a failure to find it should say so).
    """

    reference: str
    normalized: str
    services: tuple[str, ...]
    platform: str = ""
    built_locally: bool = False


@dataclass(frozen=True)
class SkippedService:
    """An active service that gives no image to scan, and why (shown to the user)."""

    service: str
    reason: str


@dataclass(frozen=True)
class ComposeProject:
    """What a compose project runs: images to scan, services skipped, services inactive."""

    name: str
    project_dir: Path
    files: tuple[Path, ...]
    images: tuple[ComposeImage, ...]
    skipped: tuple[SkippedService, ...] = ()
    #: services left out because none of their profiles is enabled
    inactive: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    #: the merged, interpolated model (what `docker compose config` would start from)
    model: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False, repr=False)


def find_compose_files(directory: Path) -> tuple[Path, ...]:
    """The default files of `directory` or its nearest parent that has one: the first of
    DEFAULT_FILENAMES, then the first OVERRIDE_FILENAMES next to it (as compose does)."""
    current = directory.resolve()
    for folder in (current, *current.parents):
        for name in DEFAULT_FILENAMES:
            candidate = folder / name
            if candidate.is_file():
                files = [candidate]
                for override in OVERRIDE_FILENAMES:
                    if (folder / override).is_file():
                        files.append(folder / override)
                        break
                return tuple(files)
    names = ", ".join(DEFAULT_FILENAMES)
    raise ComposeError(
        f"no compose file in {current} or its parents (looked for {names}); name one with -f"
    )


def normalize_project_name(name: str) -> str:
    """compose-go's NormalizeProjectName: lower case, [a-z0-9_-], starting alphanumeric."""
    cleaned = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return re.sub(r"^[^a-z0-9]+", "", cleaned)


def load_project(
    files: Sequence[Path | str] = (),
    *,
    project_dir: Path | str | None = None,
    env_files: Sequence[Path | str] | None = None,
    profiles: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    project_name: str | None = None,
    working_dir: Path | str | None = None,
) -> ComposeProject:
    """Read a compose project and list the images of its active services.

    `files` as `-f` (in order; none: COMPOSE_FILE, else the default file names looked up
    from `working_dir`, default the current directory); `project_dir` as
    `--project-directory`; `env_files` as `--env-file` (default: `<project dir>/.env` if it
    exists); `profiles` as `--profile` (None: COMPOSE_PROFILES); `environ` the shell
    environment (default os.environ). Raises ComposeError with the file and the attribute
    for anything `docker compose` would refuse.
    """
    shell = dict(os.environ if environ is None else environ)
    cwd = Path(working_dir) if working_dir is not None else Path.cwd()
    paths = _compose_files(files, shell, cwd, project_dir)
    base_dir = Path(project_dir) if project_dir is not None else paths[0].parent
    if not base_dir.is_absolute():
        base_dir = cwd / base_dir
    environment = _environment(shell, base_dir, env_files, cwd)
    interpolator = Interpolator(environment)
    reader = _Reader(interpolator)
    model = reader.load_files(paths, base_dir, ())

    active = _active_profiles(profiles, environment)
    name = _project_name(project_name, environment, model, base_dir)
    images, skipped, inactive = _images(model, active, name)
    return ComposeProject(
        name=name,
        project_dir=base_dir,
        files=tuple(paths),
        images=images,
        skipped=skipped,
        inactive=inactive,
        profiles=tuple(sorted(active)),
        warnings=tuple(interpolator.warnings()),
        model=model,
    )


# --- files and environment ---------------------------------------------------------------


def _compose_files(
    files: Sequence[Path | str],
    shell: Mapping[str, str],
    cwd: Path,
    project_dir: Path | str | None,
) -> list[Path]:
    chosen: list[Path] = [Path(f) for f in files]
    if not chosen and shell.get("COMPOSE_FILE"):
        separator = shell.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        chosen = [Path(p) for p in shell["COMPOSE_FILE"].split(separator) if p]
    if not chosen:
        start = Path(project_dir) if project_dir is not None else cwd
        return list(find_compose_files(start if start.is_absolute() else cwd / start))
    result = []
    for path in chosen:
        absolute = path if path.is_absolute() else cwd / path
        if not absolute.is_file():
            raise ComposeError(f"compose file {path} not found")
        result.append(absolute.resolve())
    return result


def _environment(
    shell: Mapping[str, str],
    project_dir: Path,
    env_files: Sequence[Path | str] | None,
    cwd: Path,
) -> dict[str, str]:
    """The shell environment over the env files (compose: the shell always wins)."""
    dotenv: dict[str, str] = {}
    if env_files is None:
        default = project_dir / ".env"
        if default.is_file():
            dotenv = load_env_file(default, shell)
    else:
        for item in env_files:
            path = Path(item)
            path = path if path.is_absolute() else cwd / path
            dotenv.update(load_env_file(path, {**dotenv, **shell}))
    return {**dotenv, **shell}


def _active_profiles(profiles: Sequence[str] | None, environment: Mapping[str, str]) -> set[str]:
    if profiles is None:
        profiles = environment.get("COMPOSE_PROFILES", "").split(",")
    return {p.strip() for p in profiles if p and p.strip()}


def _project_name(
    explicit: str | None, environment: Mapping[str, str], model: Mapping[str, Any], base: Path
) -> str:
    for candidate in (explicit, environment.get("COMPOSE_PROJECT_NAME"), model.get("name")):
        if isinstance(candidate, str) and candidate.strip():
            return normalize_project_name(candidate)
    return normalize_project_name(base.name) or "default"


# --- reading one file ---------------------------------------------------------------------


class _Reader:
    """Loads files: interpolated, includes imported, extends resolved; cached per path."""

    def __init__(self, interpolator: Interpolator) -> None:
        self.interpolator = interpolator
        self._raw: dict[Path, list[dict[str, Any]]] = {}

    def documents(self, path: Path) -> list[dict[str, Any]]:
        """The file's YAML documents, each interpolated; tags kept for the merge."""
        if path not in self._raw:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ComposeError(f"compose file {path} not found") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise ComposeError(f"cannot read compose file {path}: {exc}") from None
            self._raw[path] = [
                _interpolate_tree(document, self.interpolator, str(path), ())
                for document in load_documents(text, str(path))
            ]
        return self._raw[path]

    def merged(self, path: Path) -> dict[str, Any]:
        """The file's documents merged, without extends: the base of an `extends.file`."""
        model: dict[str, Any] = {}
        for document in self.documents(path):
            model = merge_documents(model, document)
        return model

    def load_files(
        self, paths: Sequence[Path], project_dir: Path, chain: tuple[str, ...]
    ) -> dict[str, Any]:
        """Files merged in order, each document prepared (includes, extends) first."""
        model: dict[str, Any] = {}
        for path in paths:
            for document in self.documents(path):
                model = merge_documents(
                    model, self.prepare(document, path, project_dir, (*chain, str(path)))
                )
        return model

    def prepare(
        self, document: dict[str, Any], path: Path, project_dir: Path, chain: tuple[str, ...]
    ) -> dict[str, Any]:
        """One document ready to merge: includes imported, extends resolved."""
        model = dict(document)
        services = model.get("services")
        if services is not None and not isinstance(services, dict):
            raise ComposeError(f"{path}: services must be a mapping of service name to service")
        if "include" in model:
            model = self._include(model, path, project_dir, chain)
        services = model.get("services") or {}
        model["services"] = {
            name: self.resolve_extends(services, path, name, ()) for name in services
        }
        return model

    def _include(
        self, model: dict[str, Any], path: Path, project_dir: Path, chain: tuple[str, ...]
    ) -> dict[str, Any]:
        entries = strip_tags(model.pop("include"))
        if entries is None:
            return model
        if not isinstance(entries, list):
            raise ComposeError(f"{path}: include must be a list of files")
        for index, entry in enumerate(entries):
            spec = {"path": entry} if isinstance(entry, str) else entry
            if not isinstance(spec, dict) or not spec.get("path"):
                raise ComposeError(f"{path}: include[{index}] needs a path")
            raw_paths = spec["path"] if isinstance(spec["path"], list) else [spec["path"]]
            included = [_relative_to(project_dir, str(p)) for p in raw_paths]
            for target in included:
                if str(target) in chain:
                    cycle = " -> ".join((*chain, str(target)))
                    raise ComposeError(f"include cycle detected: {cycle}")
            sub_dir = (
                _relative_to(project_dir, str(spec["project_directory"]))
                if spec.get("project_directory")
                else included[0].parent
            )
            env_files = spec.get("env_file")
            env_paths = (
                [_relative_to(project_dir, str(e)) for e in _as_list(env_files)]
                if env_files
                else [sub_dir / ".env"]
                if (sub_dir / ".env").is_file()
                else []
            )
            environment = dict(self.interpolator.environment)
            for env_path in env_paths:
                for key, value in load_env_file(env_path, environment).items():
                    environment.setdefault(key, value)  # the including project's env wins
            sub_reader = _Reader(Interpolator(environment))
            imported = sub_reader.load_files(included, sub_dir, chain)
            for name in sub_reader.interpolator.unset:
                if name not in self.interpolator.unset:
                    self.interpolator.unset.append(name)
            for section in ("services", "volumes", "networks", "secrets", "configs"):
                _import_section(model, imported, section, path)
        return model

    def resolve_extends(
        self,
        services: Mapping[str, Any],
        path: Path,
        name: str,
        chain: tuple[tuple[str, str], ...],
    ) -> Any:
        """The service with its `extends` chain merged in (compose-go applyServiceExtends)."""
        service = services.get(name)
        if service is None:
            return None
        if not isinstance(service, dict):
            raise ComposeError(f"{path}: services.{name} must be a mapping")
        extends = strip_tags(service.get("extends"))
        if extends is None:
            return service
        ref: Any
        ref_file: Any
        if isinstance(extends, str):
            ref, ref_file = extends, None
        elif isinstance(extends, dict):
            ref, ref_file = extends.get("service"), extends.get("file")
        else:
            raise ComposeError(f"{path}: services.{name}.extends must be a mapping or a name")
        if not isinstance(ref, str) or not ref:
            raise ComposeError(f"{path}: services.{name}.extends.service is required")
        link = (str(path), name)
        if link in chain:
            cycle = " -> ".join(f"{f}:{s}" for f, s in (*chain, link))
            raise ComposeError(f"circular reference with extends: {cycle}")
        chain = (*chain, link)
        if ref_file is not None:
            target = _relative_to(path.parent, str(ref_file))
            ref_model = self.merged(target)
            ref_services = ref_model.get("services")
            if not isinstance(ref_services, dict):
                raise ComposeError(
                    f"cannot extend service {name!r} in {path}: {target} has no services"
                )
            if ref not in ref_services:
                raise ComposeError(
                    f"cannot extend service {name!r} in {path}: "
                    f"service {ref!r} not found in {target}"
                )
            base = self.resolve_extends(ref_services, target, ref, chain)
        else:
            if ref not in services:
                raise ComposeError(
                    f"cannot extend service {name!r} in {path}: service {ref!r} not found"
                )
            base = self.resolve_extends(services, path, ref, chain)
        own = {k: v for k, v in service.items() if k != "extends"}
        if base is None:
            return own
        base = {k: v for k, v in strip_tags(base).items() if k != "extends"}
        return merge_service(base, own)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _relative_to(directory: Path, text: str) -> Path:
    path = Path(os.path.expanduser(text))
    return (path if path.is_absolute() else directory / path).resolve()


def _import_section(
    model: dict[str, Any], imported: Mapping[str, Any], key: str, path: Path
) -> None:
    """compose-go importResources: an included resource must not redefine a local one."""
    source = imported.get(key)
    if not isinstance(source, dict):
        return
    target = model.get(key)
    target = dict(target) if isinstance(target, dict) else {}
    for name, value in source.items():
        if name in target and strip_tags(target[name]) != value:
            raise ComposeError(f"{path}: {key}.{name} conflicts with imported resource")
        target[name] = value
    model[key] = target


def _interpolate_tree(
    value: Any, interpolate: Interpolator, source: str, path: tuple[str, ...]
) -> Any:
    """Interpolate every string value (never keys), as compose-spec says."""
    if isinstance(value, str):
        where = f"{source}: {'.'.join(path) or '(top level)'}"
        return interpolate(value, where)
    if isinstance(value, dict):
        return {k: _interpolate_tree(v, interpolate, source, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [
            _interpolate_tree(v, interpolate, source, (*path, f"[{i}]"))
            for i, v in enumerate(value)
        ]
    if isinstance(value, Override):
        return Override(_interpolate_tree(value.value, interpolate, source, path))
    if isinstance(value, Reset):
        return value
    return value


# --- services to images --------------------------------------------------------------------


def _images(
    model: Mapping[str, Any], active: set[str], project: str
) -> tuple[tuple[ComposeImage, ...], tuple[SkippedService, ...], tuple[str, ...]]:
    services = model.get("services") or {}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    skipped: list[SkippedService] = []
    inactive: list[str] = []
    for name, service in services.items():
        service = service if isinstance(service, dict) else {}
        if not _is_active(service, active, name):
            inactive.append(name)
            continue
        image = service.get("image")
        build = service.get("build")
        platform = service.get("platform")
        platform = platform.strip() if isinstance(platform, str) else ""
        if image is not None and not isinstance(image, str):
            skipped.append(SkippedService(name, f"image must be a string, got {image!r}"))
            continue
        image = (image or "").strip()
        if not image:
            skipped.append(SkippedService(name, _no_image_reason(name, build, project, service)))
            continue
        try:
            ref = parse_image_reference(image)
        except InvalidReferenceError as exc:
            skipped.append(SkippedService(name, str(exc)))
            continue
        normalized = str(ref._replace(tag=ref.tag or ("" if ref.digest else DEFAULT_TAG)))
        entry = found.setdefault(
            (normalized, platform),
            {"reference": image, "services": [], "built": False},
        )
        entry["services"].append(name)
        entry["built"] = entry["built"] or build is not None
    images = tuple(
        ComposeImage(
            reference=entry["reference"],
            normalized=normalized,
            services=tuple(entry["services"]),
            platform=platform,
            built_locally=entry["built"],
        )
        for (normalized, platform), entry in found.items()
    )
    return images, tuple(skipped), tuple(inactive)


def _is_active(service: Mapping[str, Any], active: set[str], name: str) -> bool:
    profiles = service.get("profiles")
    if not profiles:
        return True
    if not isinstance(profiles, list):
        raise ComposeError(f"services.{name}.profiles must be a list of profile names")
    return ALL_PROFILES in active or any(str(p) in active for p in profiles)


def _no_image_reason(name: str, build: Any, project: str, service: Mapping[str, Any]) -> str:
    if build is None:
        if "image" in service:
            return "image: is empty (after interpolation: is its variable set?) and no build:"
        return "neither image: nor build: is set"
    context = build.get("context", ".") if isinstance(build, dict) else build
    return (
        f"built from {context or '.'} (build: without image:), so it has no name to pull; "
        f"docker compose tags it {project}-{name}: build it first and scan that, "
        "or give the service an image: name"
    )


def describe(images: Iterable[ComposeImage]) -> list[str]:
    """One line per image, for logs and dry runs: `redis:7 (cache, queue)`."""
    return [f"{image.reference} ({', '.join(image.services)})" for image in images]
