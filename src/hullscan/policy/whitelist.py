"""clair-scanner whitelists (`--whitelist FILE`), read as teams migrating from it wrote them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from hullscan.errors import PolicyError
from hullscan.model import Finding
from hullscan.policy.matching import ImagePattern
from hullscan.reference import ImageReference, InvalidReferenceError

RULE_WHITELIST_GENERAL = "whitelist:general"
RULE_WHITELIST_IMAGE_PREFIX = "whitelist:image:"

_WHITELIST_KEYS = ("generalwhitelist", "images")


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ClairWhitelist:
    """A clair-scanner whitelist (`--whitelist FILE`).

    Format (github.com/arminc/clair-scanner, README and example-whitelist.yaml)::

        generalwhitelist:          # accepted for every image
          CVE-2017-6055: XML       # key: vulnerability id, value: a free note
        images:
          ubuntu:                  # accepted only for this image, any tag
            CVE-2017-5230: Java

    Either section may be missing and the file may be empty. Keys are matched against a
    finding's id and its aliases, case-insensitively. Images are matched by repository
    (see ImagePattern), which fixes clair-scanner's documented bug of cutting the name
    at the first ':' (so `registry:777/ubuntu:tag` never matched `ubuntu`).
    """

    general: Mapping[str, str] = field(default_factory=dict, hash=False)
    images: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    source: str = "<whitelist>"
    _image_rules: tuple[tuple[ImagePattern, frozenset[str]], ...] = field(
        default=(), init=False, repr=False, compare=False
    )
    _general_ids: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Freeze the mappings and pre-parse image keys so matching never re-parses
        # and a bad key fails at load time, not halfway through a scan.
        object.__setattr__(self, "general", _frozen(self.general))
        object.__setattr__(
            self, "images", MappingProxyType({k: _frozen(v) for k, v in self.images.items()})
        )
        rules: list[tuple[ImagePattern, frozenset[str]]] = []
        for key, notes in self.images.items():
            try:
                pattern = ImagePattern.parse(key)
            except InvalidReferenceError as exc:
                raise PolicyError(
                    f"{self.source}: images key {key!r} is not a valid image name: {exc}"
                ) from None
            rules.append((pattern, frozenset(k.upper() for k in notes)))
        # Most specific key first (tag/digest, then a written registry); file order after.
        rules.sort(key=lambda rule: (not (rule[0].tag or rule[0].digest), rule[0].registry is None))
        object.__setattr__(self, "_image_rules", tuple(rules))
        object.__setattr__(self, "_general_ids", frozenset(k.upper() for k in self.general))

    @property
    def patterns(self) -> tuple[ImagePattern, ...]:
        """The parsed `images:` keys, most specific first."""
        return tuple(pattern for pattern, _ in self._image_rules)

    def rule_for(self, finding: Finding, images: Iterable[ImageReference]) -> str | None:
        """The whitelist rule accepting this finding, most specific first, or None."""
        ids = _finding_ids(finding)
        refs = tuple(images)
        for pattern, accepted in self._image_rules:
            if ids & accepted and any(pattern.matches(ref) for ref in refs):
                return RULE_WHITELIST_IMAGE_PREFIX + pattern.key
        if ids & self._general_ids:
            return RULE_WHITELIST_GENERAL
        return None


def _finding_ids(finding: Finding) -> set[str]:
    return {finding.vuln_id.upper(), *(a.upper() for a in finding.aliases)}


def _note_map(value: Any, where: str, source: str) -> dict[str, str]:
    """Validate one `{vulnerability-id: note}` mapping (a null section is empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError(
            f"{source}: {where} must be a mapping of vulnerability id to note "
            f"(e.g. 'CVE-2017-6055: why it is accepted'), got {_kind(value)}"
        )
    result: dict[str, str] = {}
    for key, note in value.items():
        if not isinstance(key, str) or not key.strip():
            raise PolicyError(
                f"{source}: {where}: vulnerability id {key!r} must be a non-empty string"
            )
        if isinstance(note, dict | list):
            raise PolicyError(
                f"{source}: {where}: the note of {key} must be a single value, got {_kind(note)}"
            )
        result[key.strip()] = "" if note is None else str(note)
    return result


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"


def parse_clair_whitelist(text: str, source: str = "<whitelist>") -> ClairWhitelist:
    """Parse clair-scanner whitelist YAML; PolicyError names the file and the problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(f"{source}: invalid YAML{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: invalid YAML: {exc}") from None
    if data is None:
        return ClairWhitelist(source=source)
    if not isinstance(data, dict):
        raise PolicyError(
            f"{source}: a whitelist must be a mapping with 'generalwhitelist' and/or "
            f"'images', got {_kind(data)}"
        )
    unknown = [str(k) for k in data if k not in _WHITELIST_KEYS]
    if unknown:
        raise PolicyError(
            f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; "
            "a whitelist has only 'generalwhitelist' and 'images'"
        )
    general = _note_map(data.get("generalwhitelist"), "generalwhitelist", source)
    raw_images = data.get("images")
    if raw_images is None:
        raw_images = {}
    if not isinstance(raw_images, dict):
        raise PolicyError(
            f"{source}: images must be a mapping of image name to "
            f"{{vulnerability id: note}}, got {_kind(raw_images)}"
        )
    images: dict[str, dict[str, str]] = {}
    for image, notes in raw_images.items():
        if not isinstance(image, str) or not image.strip():
            raise PolicyError(f"{source}: images: image name {image!r} must be a string")
        images[image.strip()] = _note_map(notes, f"images: {image}", source)
    return ClairWhitelist(general=general, images=images, source=source)


def load_clair_whitelist(path: str | Path) -> ClairWhitelist:
    """Read a whitelist file; unreadable files are a PolicyError too (the user can fix it)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read whitelist {path}: {exc}") from None
    return parse_clair_whitelist(text, str(path))
