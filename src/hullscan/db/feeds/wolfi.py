"""Wolfi and Chainguard security databases (secdb JSON, the shape of Alpine's).

https://packages.wolfi.dev/os/security.json and
https://packages.cgr.dev/chainguard/security.json: ``packages[].pkg.secfixes`` maps a
fixed apk version to the ids it fixed. Unlike Alpine's there is no ``distroversion``: both
are rolling, one namespace each (wolfi:rolling, chainguard:rolling), so they are two feeds
with the same parser. Package names are origin (source) packages, like Alpine's. Ids are
CVE or GHSA ids, as the distributions publish them; version "0" lists ids the package was
never affected by (Wolfi's "false positive" marker): nothing is emitted for them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from hullscan.db.feeds.alpine import secfixes_of
from hullscan.db.feeds.base import Feed, Record, json_kind
from hullscan.model import Advisory, AffectedRange, FixStatus, Vulnerability
from hullscan.versions.apk import compare_apk, is_valid_apk

log = logging.getLogger(__name__)

WOLFI_SECDB_URL = "https://packages.wolfi.dev/os/security.json"
CHAINGUARD_SECDB_URL = "https://packages.cgr.dev/chainguard/security.json"

# An advisory id as the secdb writes it: CVE-2022-38126, GHSA-jq35-85cj-fj4p, CGA-...
_ID = re.compile(r"[A-Z][A-Z0-9]*-[A-Za-z0-9][A-Za-z0-9._-]*")
_CVE = re.compile(r"cve-(\d{4})-(\d{4,})", re.IGNORECASE)


def normalise_id(text: str) -> str | None:
    """An id from a secfixes list (CVE ids upper-cased), None when it is not an id."""
    text = text.strip()
    if cve := _CVE.fullmatch(text):
        return f"CVE-{cve[1]}-{cve[2]}"
    return text if _ID.fullmatch(text) else None


class WolfiSecdbFeed(Feed):
    """Wolfi's secdb: fixed versions of the wolfi-dev/os packages."""

    name = "wolfi"
    description = "Wolfi secdb"
    file_patterns = ("*.json",)
    namespace: ClassVar[str] = "wolfi:rolling"
    url: ClassVar[str] = WOLFI_SECDB_URL
    #: Header values of the other distribution's secdb, to refuse a swapped --source.
    foreign_hosts: ClassVar[tuple[str, ...]] = ("packages.cgr.dev",)

    def default_locations(self) -> list[str]:
        return [self.url]

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        # An id under several versions of one package (a fix and a later complete fix): the
        # union of "< each" is "< the latest", so one row with the latest version says it.
        fixes: dict[tuple[str, str], str] = {}
        for path in files:
            for package, fixed, vuln_id in self._entries(path):
                if not is_valid_apk(fixed):
                    log.warning(
                        "%s: %s %s fixed in invalid apk version %r", path, package, vuln_id, fixed
                    )
                known = fixes.get((package, vuln_id))
                if known is None or compare_apk(fixed, known) > 0:
                    fixes[(package, vuln_id)] = fixed
        for (package, vuln_id), fixed in sorted(fixes.items()):
            yield Advisory(
                namespace=self.namespace,
                package=package,
                vuln_id=vuln_id,
                ranges=(AffectedRange(fixed=fixed),),
                status=FixStatus.FIXED,
                fixed_version=fixed,
                source=self.name,
            )
        for vuln_id in sorted({vuln_id for _, vuln_id in fixes}):
            yield Vulnerability(id=vuln_id)

    def _entries(self, path: Path) -> Iterator[tuple[str, str, str]]:
        """(package, fixed version, id) for every fix listed in one secdb file."""
        data: Any = self.load_json(path)
        if not isinstance(data, dict):
            raise self.error(path, f"expected a secdb object, got {json_kind(data)}")
        prefix = str(data.get("urlprefix") or "")
        if any(host in prefix for host in self.foreign_hosts):
            raise self.error(
                path, f"this secdb is from {prefix}, not {self.name}'s: check --source"
            )
        for name, fixed, ids in secfixes_of(self, path, data):
            for text in ids:
                vuln_id = normalise_id(text) if isinstance(text, str) else None
                if vuln_id is None:
                    log.warning("%s: %s %s: not an advisory id: %r", path, name, fixed, text)
                    continue
                yield name, fixed, vuln_id


class ChainguardSecdbFeed(WolfiSecdbFeed):
    """Chainguard's secdb: the same format for the packages of Chainguard's images."""

    name = "chainguard"
    description = "Chainguard secdb"
    namespace: ClassVar[str] = "chainguard:rolling"
    url: ClassVar[str] = CHAINGUARD_SECDB_URL
    # Chainguard's repository carries rebuilds of Wolfi packages; its header is not
    # checked, so a change on its side can never break `db build`.
    foreign_hosts: ClassVar[tuple[str, ...]] = ()
