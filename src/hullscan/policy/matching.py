"""How policy files name what they apply to: images, package URLs, file paths.

Whitelists, ignore files and VEX documents all scope a decision to "this image", "this
package" or "this file". The rules live here once so that the three formats agree:

- Image names are normalised as `docker pull` does (reference.py): `alpine`,
  `library/alpine` and `docker.io/library/alpine` are one image. A name without a
  registry matches that repository in any registry.
- Package URLs follow the matching community consensus used by OpenVEX and Trivy
  (github.com/openvex/spec issue 27): a purl without a version matches every version;
  qualifiers it names must be present with the same value, others are ignored. The
  `distro` qualifier is compared by meaning, not spelling (`jammy`, `ubuntu-22.04` and
  `22.04` name the same release), because feeds and scanners spell it differently.
- File paths use doublestar globs, as Trivy's `paths`: `**` spans directories.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import NamedTuple
from urllib.parse import unquote

from packageurl import PackageURL

from hullscan.distros import DEBIAN_VERSIONS, UBUNTU_VERSIONS
from hullscan.errors import PolicyError
from hullscan.model import Distro, Package, PackageType, ScanReport
from hullscan.purl import purl_for
from hullscan.reference import (
    DEFAULT_REGISTRY,
    LEGACY_DEFAULT_REGISTRY,
    ImageReference,
    InvalidReferenceError,
    is_registry_component,
    parse_image_reference,
)

# --- images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImagePattern:
    """An image name as a whitelist key or ignore scope writes it, parsed once.

    With a registry in the key (`registry:5000/app`, `docker.io/library/alpine`) the
    image must live in that registry. Without one (`team/app`, `alpine`) the key is a
    short name: it matches that path in any registry, `alpine` and `library/alpine`
    being the same name. A tag or digest in the key narrows it to that tag or digest.
    """

    key: str
    registry: str | None  # None: any registry
    paths: frozenset[str]
    tag: str = ""
    digest: str = ""

    @classmethod
    def parse(cls, key: str) -> ImagePattern:
        """Parse a key; InvalidReferenceError if Docker would not accept it as a name."""
        ref = parse_image_reference(key)
        first, slash, _ = key.strip().partition("/")
        if slash and is_registry_component(first):
            return cls(key, ref.registry.lower(), frozenset({ref.repository}), ref.tag, ref.digest)
        # No registry written: Docker Hub normalisation gives library/alpine, the short
        # name alpine; both are accepted in whatever registry the image comes from.
        paths = frozenset({ref.repository, ref.familiar_name})
        return cls(key, None, paths, ref.tag, ref.digest)

    def matches(self, ref: ImageReference) -> bool:
        if self.registry is not None and self.registry != ref.registry.lower():
            return False
        if ref.repository not in self.paths:
            return False
        if self.tag and self.tag != ref.tag:
            return False
        return not (self.digest and self.digest.lower() != ref.digest.lower())


def _star_regex(glob: str) -> re.Pattern[str]:
    """`*` matches any run of characters (slashes included); everything else is literal."""
    return re.compile("".join(".*" if part == "*" else re.escape(part) for part in _stars(glob)))


def _stars(glob: str) -> list[str]:
    return [part for part in re.split(r"(\*)", glob) if part]


@dataclass(frozen=True)
class ImageGlob:
    """An image pattern with `*` wildcards: `registry.example.com:5000/team/*`, `*/app`.

    Like ImagePattern, a first component that is a registry (has a `.` or `:`, or is
    `localhost`) pins the registry; otherwise the pattern is matched against the
    repository path (`library/alpine`) and the short name (`alpine`) in any registry.
    `*` matches any characters, `/` included. `:TAG` and `@DIGEST` (globs too) narrow it.
    """

    key: str
    registry: re.Pattern[str] | None
    path: re.Pattern[str]
    tag: re.Pattern[str] | None = None
    digest: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, key: str) -> ImageGlob:
        text = key.strip()
        if not text or any(c.isspace() for c in text):
            raise InvalidReferenceError(f"invalid image pattern {key!r}")
        name, at, digest = text.partition("@")
        tag = ""
        colon, slash = name.rfind(":"), name.rfind("/")
        if colon > slash:
            name, tag = name[:colon], name[colon + 1 :]
        first, sep, rest = name.partition("/")
        registry: re.Pattern[str] | None = None
        if sep and is_registry_component(first.replace("*", "x")):
            host = first.lower()
            host = DEFAULT_REGISTRY if host == LEGACY_DEFAULT_REGISTRY else host
            registry, name = _star_regex(host), rest
        if not name:
            raise InvalidReferenceError(f"invalid image pattern {key!r}: no repository")
        return cls(
            key=key,
            registry=registry,
            path=_star_regex(name.lower()),
            tag=_star_regex(tag) if tag else None,
            digest=_star_regex(digest.lower()) if at else None,
        )

    def matches(self, ref: ImageReference) -> bool:
        if self.registry is not None:
            if not self.registry.fullmatch(ref.registry.lower()):
                return False
            names = [ref.repository]
        else:
            names = [ref.repository, ref.familiar_name]
        if not any(self.path.fullmatch(n) for n in names):
            return False
        if self.tag is not None and not self.tag.fullmatch(ref.tag):
            return False
        return self.digest is None or bool(self.digest.fullmatch(ref.digest.lower()))


@lru_cache(maxsize=1024)
def image_scope(pattern: str) -> ImagePattern | ImageGlob:
    """An exact image name or, with `*`, a glob; InvalidReferenceError if neither."""
    if "*" in pattern:
        return ImageGlob.parse(pattern)
    return ImagePattern.parse(pattern)


def image_refs(image_ref: str, report: ScanReport) -> tuple[ImageReference, ...]:
    """Every name the scanned image is known by: the reference, then its RepoTags.

    An archive path given as reference does not parse and is skipped; the RepoTags of
    a `docker save` archive still let per-image rules apply.
    """
    refs: list[ImageReference] = []
    for candidate in (image_ref, *report.inventory.artifact.repo_tags):
        try:
            ref = parse_image_reference(candidate)
        except InvalidReferenceError:
            continue
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


# --- package URLs ----------------------------------------------------------------------


class Purl(NamedTuple):
    """The parts of a purl that matching compares, decoded and normalised."""

    type: str
    namespace: str
    name: str
    version: str
    qualifiers: tuple[tuple[str, str], ...]
    subpath: str

    @property
    def qualifier_map(self) -> dict[str, str]:
        return dict(self.qualifiers)


@lru_cache(maxsize=8192)
def parse_purl(text: str) -> Purl | None:
    """A purl's parts, or None when the text is not a valid purl."""
    try:
        purl = PackageURL.from_string(text.strip())
    except ValueError:
        return None
    raw = purl.qualifiers
    qualifiers = raw if isinstance(raw, dict) else {}  # from_string always gives a dict
    return Purl(
        type=str(purl.type).lower(),
        namespace=str(purl.namespace or ""),
        name=str(purl.name),
        version=str(purl.version or ""),
        qualifiers=tuple(sorted((str(k), str(v)) for k, v in (qualifiers or {}).items())),
        subpath=str(purl.subpath or ""),
    )


def distro_aliases(distro: Distro | None) -> frozenset[str]:
    """Every spelling of the scanned release a `distro=` qualifier may use.

    purl-spec's examples write the codename (`distro=jessie`), Ubuntu's VEX too
    (`distro=jammy`), Trivy and hullscan write `debian-12` and apk purls `3.19.0`.
    """
    if distro is None:
        return frozenset()
    ident = distro.id.lower()
    version = distro.version_id.lower()
    major = version.split(".")[0]
    codename = distro.codename.lower()
    if not codename and ident == "debian":
        codename = DEBIAN_VERSIONS.get(major, "")
    if not codename and ident == "ubuntu":
        codename = UBUNTU_VERSIONS.get(".".join(version.split(".")[:2]), "")
    names = {version, codename, distro.channel.lower()}
    if ident == "debian":
        names.add(major)
    aliases = set()
    for name in names - {""}:
        aliases.update({name, f"{ident}-{name}"})
    return frozenset(aliases)


def _distro_ok(wanted: str, actual: str | None, aliases: frozenset[str]) -> bool:
    """`distro=esm-infra/focal` (Ubuntu Pro) names the release after the last `/`."""
    wanted = wanted.lower()
    candidates = {wanted, wanted.rpartition("/")[2]}
    known = set(aliases)
    if actual:
        known.add(actual.lower())
    return bool(candidates & known)


def purl_matches(constraint: Purl, target: Purl, aliases: frozenset[str] = frozenset()) -> bool:
    """Whether the general `constraint` covers the specific `target` (OpenVEX/Trivy rules).

    Type, namespace and name must be equal; a constraint version must equal the
    target's (none: any version); every constraint qualifier must be on the target with
    the same value (`distro` by meaning, see distro_aliases); a subpath must be equal.
    """
    if (constraint.type, constraint.namespace, constraint.name) != (
        target.type,
        target.namespace,
        target.name,
    ):
        return False
    if constraint.version and constraint.version != target.version:
        return False
    if constraint.subpath and constraint.subpath != target.subpath:
        return False
    have = target.qualifier_map
    for key, value in constraint.qualifiers:
        if key == "distro":
            if not _distro_ok(value, have.get(key), aliases):
                return False
        elif have.get(key) != value:
            return False
    return True


@dataclass(frozen=True)
class PurlPattern:
    """A purl as an ignore scope: exact (OpenVEX rules) or with `*` wildcards.

    `pkg:deb/debian/libc6` (no version) matches every version; `pkg:npm/*` every npm
    package; `pkg:deb/debian/openssl@3.0.*` those versions. Without `?` the qualifiers
    of the package do not matter; `?arch=amd64` requires that qualifier (values may use
    `*`). `*` is the only wildcard: `?` keeps its purl meaning.
    """

    text: str
    exact: Purl | None
    base: re.Pattern[str] | None
    versioned: bool
    qualifiers: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def parse(cls, text: str) -> PurlPattern:
        stripped = text.strip()
        if not stripped.lower().startswith("pkg:") or "/" not in stripped:
            raise PolicyError(f"{text!r} is not a package URL pattern (pkg:TYPE/NAME...)")
        if "*" not in stripped:
            exact = parse_purl(stripped)
            if exact is None:
                raise PolicyError(f"{text!r} is not a valid package URL")
            return cls(stripped, exact, None, False, ())
        base, _, query = stripped.partition("?")
        ptype, slash, rest = unquote(base.partition("#")[0])[4:].partition("/")
        if not slash or not ptype or not rest:
            raise PolicyError(f"{text!r} is not a package URL pattern (pkg:TYPE/NAME...)")
        base = f"pkg:{ptype.lower()}/{rest}"
        versioned = "@" in base.rpartition("/")[2]
        quals: list[tuple[str, re.Pattern[str]]] = []
        for pair in filter(None, query.split("&")):
            key, eq, value = pair.partition("=")
            if not eq or not key:
                raise PolicyError(f"{text!r}: qualifier {pair!r} is not key=value")
            quals.append((key.lower(), _star_regex(unquote(value))))
        return cls(stripped, None, _star_regex(base), versioned, tuple(quals))

    def matches(self, target: Purl, aliases: frozenset[str] = frozenset()) -> bool:
        if self.exact is not None:
            return purl_matches(self.exact, target, aliases)
        assert self.base is not None
        name = f"{target.namespace}/{target.name}" if target.namespace else target.name
        text = f"pkg:{target.type}/{name}"
        if self.versioned:
            text += f"@{target.version}"
        if not self.base.fullmatch(text):
            return False
        have = target.qualifier_map
        for key, value in self.qualifiers:
            actual = have.get(key)
            options = {actual} if actual is not None else set()
            if key == "distro":
                options |= aliases
            if not any(value.fullmatch(o) for o in options if o is not None):
                return False
        return True


@lru_cache(maxsize=1024)
def purl_pattern(text: str) -> PurlPattern:
    return PurlPattern.parse(text)


def package_purls(pkg: Package, distro: Distro | None) -> tuple[Purl, ...]:
    """The package's purl and, for a deb built from a source package, the source's.

    Debian and Ubuntu speak of source packages: Ubuntu's VEX lists
    `pkg:deb/ubuntu/curl@V?arch=source`, which covers every binary built from curl V.
    """
    text = pkg.purl or purl_for(pkg, distro)
    own = parse_purl(text)
    if own is None:
        return ()
    result = [own]
    if pkg.type is PackageType.DEB and pkg.source_name:
        quals = {**own.qualifier_map, "arch": "source"}
        quals.pop("upstream", None)
        result.append(
            own._replace(
                name=pkg.source_name,
                version=pkg.source_version or own.version,
                qualifiers=tuple(sorted(quals.items())),
            )
        )
    return tuple(result)


# --- paths -----------------------------------------------------------------------------


def normalise_path(path: str) -> str:
    """Image paths without a leading `/` or `./`, as package records store them."""
    path = path.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _class(glob: str, start: int) -> tuple[str, int]:
    end = glob.find("]", start + 2 if glob[start + 1 : start + 2] in ("!", "^") else start + 1)
    if end < 0:
        return re.escape("["), start + 1
    body = glob[start + 1 : end]
    if body[:1] in ("!", "^"):
        body = "^" + body[1:]
    return "[" + body.replace("\\", "\\\\") + "]", end + 1


@lru_cache(maxsize=1024)
def path_glob(glob: str) -> re.Pattern[str]:
    """A doublestar glob as Trivy's `paths` use it: `**` any directories, `*` and `?`
    within one name, `[abc]` classes and `{a,b}` alternatives."""
    glob = normalise_path(glob)
    if not glob:
        raise PolicyError("empty path pattern")
    out: list[str] = []
    i, depth = 0, 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            text, i = _class(glob, i)
            out.append(text)
        elif c == "{":
            out.append("(?:")
            depth += 1
            i += 1
        elif c == "}" and depth:
            out.append(")")
            depth -= 1
            i += 1
        elif c == "," and depth:
            out.append("|")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    if depth:
        raise PolicyError(f"path pattern {glob!r} has an unclosed '{{'")
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise PolicyError(f"invalid path pattern {glob!r}: {exc}") from None


def any_path_matches(globs: Iterable[str], paths: Iterable[str]) -> bool:
    normalised = [normalise_path(p) for p in paths]
    return any(path_glob(g).fullmatch(p) for g in globs for p in normalised)


@lru_cache(maxsize=1024)
def name_glob(glob: str) -> re.Pattern[str]:
    """A package name with `*` wildcards."""
    return _star_regex(glob.strip())


# --- the scanned image, as rules see it ------------------------------------------------


@dataclass(frozen=True)
class ScanFacts:
    """What rules may name about the scanned image, computed once per apply_policy."""

    refs: tuple[ImageReference, ...]
    digests: frozenset[str]  # manifest digest, image id and digests of the references
    arch: str
    os: str
    distro: Distro | None
    aliases: frozenset[str]
    packages: tuple[Package, ...] = ()

    @classmethod
    def of(cls, report: ScanReport, image_ref: str) -> ScanFacts:
        artifact = report.inventory.artifact
        refs = image_refs(image_ref, report)
        digests = {d.lower() for d in (artifact.manifest_digest, artifact.image_id) if d}
        digests.update(r.digest.lower() for r in refs if r.digest)
        os_name, _, rest = artifact.platform.partition("/")
        distro = report.inventory.distro
        return cls(
            refs=refs,
            digests=frozenset(digests),
            arch=rest.partition("/")[0],
            os=os_name,
            distro=distro,
            aliases=distro_aliases(distro),
            packages=report.inventory.packages,
        )

    @cached_property
    def inventory(self) -> tuple[Purl, ...]:
        """Every package of the image as purls (VEX products that are parents); only
        computed when a VEX product with subcomponents asks."""
        return tuple(p for pkg in self.packages for p in package_purls(pkg, self.distro))

    def has_digest(self, digest: str) -> bool:
        """`sha256:<hex>` or a bare hex digest of the manifest or the config."""
        digest = digest.strip().lower()
        if ":" in digest:
            return digest in self.digests
        return any(d.partition(":")[2] == digest for d in self.digests)
