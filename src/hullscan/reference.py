"""Image references parsed and normalised the way Docker does it.

`registry.example.com:5000/team/app:1.2@sha256:...`, `alpine`, `library/alpine` and
`docker.io/library/alpine` must be told apart (or found equal) exactly as `docker pull`
would, because whitelists, the registry client and credentials lookups all key on the
repository. The rules follow github.com/distribution/reference (normalize.go, regexp.go):

- the first path component is a registry when it is `localhost`, contains `.` or `:`
  (host.with.dot, host:port, [::1]:5000) or has an upper-case letter; otherwise the
  registry is Docker Hub (`docker.io`, `index.docker.io` being its legacy alias);
- on Docker Hub a single-component path gets the `library/` prefix;
- a tag follows the last `:` after the last `/`, a digest follows `@`; both may be given;
- repository paths are lower case; a bare 64-hex string is an image id, not a name.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from hullscan.errors import SourceError

DEFAULT_REGISTRY = "docker.io"
LEGACY_DEFAULT_REGISTRY = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + rf"(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = _PATH_COMPONENT + rf"(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = _DOMAIN_COMPONENT + rf"(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_AND_PORT = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_DOMAIN_RE = re.compile(rf"^{_DOMAIN_AND_PORT}$", re.ASCII)
_REMOTE_NAME_RE = re.compile(rf"^{_REMOTE_NAME}$", re.ASCII)
_TAG_RE = re.compile(rf"^{_TAG}$", re.ASCII)
_DIGEST_RE = re.compile(rf"^{_DIGEST}$", re.ASCII)
_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")


class InvalidReferenceError(SourceError, ValueError):
    """An image reference that Docker itself would reject; the message says why."""


class ImageReference(NamedTuple):
    """A normalised reference: `repository` is the path inside the registry.

    `repository` is what the Distribution API calls `<name>` (`library/alpine`,
    `team/app`); `name` adds the registry. `tag` and `digest` are empty when absent:
    no default tag is invented here, see `pull_reference`.
    """

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """Fully qualified repository name: `docker.io/library/alpine`."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """The short form Docker prints: `alpine`, `team/app`, `ghcr.io/o/app`."""
        if self.registry != DEFAULT_REGISTRY:
            return self.name
        path = self.repository
        if path.startswith(OFFICIAL_REPO_PREFIX):
            rest = path[len(OFFICIAL_REPO_PREFIX) :]
            if "/" not in rest:
                return rest
        return path

    @property
    def pull_reference(self) -> str:
        """What to ask the registry for: the digest, else the tag, else `latest`."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_registry_component(component: str) -> bool:
    """Whether the first `/`-separated component of a name denotes a registry host."""
    return (
        component == "localhost"
        or component == LEGACY_DEFAULT_REGISTRY
        or any(c in component for c in ".:")
        or component.lower() != component
    )


def split_registry(name: str) -> tuple[str, str, bool]:
    """Split a name (no tag/digest) into (registry, path, registry_was_explicit)."""
    first, sep, rest = name.partition("/")
    if sep and is_registry_component(first):
        registry = DEFAULT_REGISTRY if first == LEGACY_DEFAULT_REGISTRY else first
        path, explicit = rest, True
    else:
        registry, path, explicit = DEFAULT_REGISTRY, name, False
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    return registry, path, explicit


def parse_image_reference(ref: str) -> ImageReference:
    """Parse `[registry/]path[:tag][@digest]` with Docker's normalisation.

    Raises InvalidReferenceError (a SourceError) for anything `docker pull` would refuse.
    """
    text = ref.strip()
    if not text:
        raise InvalidReferenceError("invalid image reference: empty")
    if _IDENTIFIER_RE.match(text):
        raise InvalidReferenceError(
            f"invalid image reference {ref!r}: a 64-character hex string is an image id, "
            "not a repository name"
        )
    remainder, at, digest = text.partition("@")
    if at and not _DIGEST_RE.match(digest):
        raise InvalidReferenceError(
            f"invalid image reference {ref!r}: bad digest {digest!r} "
            "(expected algorithm:hex, e.g. sha256:<64 hex digits>)"
        )
    name, tag = remainder, ""
    slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > slash:
        name, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise InvalidReferenceError(
                f"invalid image reference {ref!r}: bad tag {tag!r} "
                "(letters, digits, '_', '.', '-'; at most 128 characters)"
            )
    registry, path, explicit = split_registry(name)
    if explicit and not _DOMAIN_RE.match(registry):
        raise InvalidReferenceError(f"invalid image reference {ref!r}: bad registry {registry!r}")
    if path.lower() != path:
        raise InvalidReferenceError(
            f"invalid image reference {ref!r}: repository name {path!r} must be lowercase"
        )
    if not _REMOTE_NAME_RE.match(path):
        raise InvalidReferenceError(
            f"invalid image reference {ref!r}: bad repository name {path!r} "
            "(lower-case letters, digits and single '.', '_', '__' or '-' runs between them)"
        )
    if len(registry) + 1 + len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(
            f"invalid image reference {ref!r}: repository name longer than "
            f"{NAME_TOTAL_LENGTH_MAX} characters"
        )
    return ImageReference(registry, path, tag, digest)
