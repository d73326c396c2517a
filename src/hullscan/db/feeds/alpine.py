"""Alpine secdb (secdb.alpinelinux.org/<branch>/<repo>.json, or the old YAML edition).

Each file covers one branch and repository: ``distroversion`` (v3.10, edge) gives the
namespace, ``packages[].pkg.secfixes`` maps a fixed version to the ids it fixed. secdb only
lists fixes, so every advisory is FIXED; see docs/db.md for the handling of "0", repeated
ids and free text next to the ids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from hullscan.db.feeds.base import Feed, Record, json_kind
from hullscan.distros import alpine_branch
from hullscan.model import Advisory, AffectedRange, FixStatus, Vulnerability
from hullscan.versions.apk import compare_apk, is_valid_apk

log = logging.getLogger(__name__)

SECDB_URL = "https://secdb.alpinelinux.org"
# Branches published on secdb.alpinelinux.org. Extend on each Alpine release; a branch that
# does not exist yet makes `db build` fail (HTTP 404) rather than silently drop coverage.
BRANCHES: tuple[str, ...] = (
    *(f"v3.{minor}" for minor in range(2, 23)),
    "edge",
)
REPOSITORIES = ("main", "community")
ALPINE_LINK = "https://security.alpinelinux.org/vuln/{}"

# secdb entries are free text: "CVE-2019-1234 XSA-123", "CVE_2019-2426", "CVE 2018-16859",
# "CVE-2018-16301 (was fixed in libpcap)", "CVE-2017-17434-1". Every CVE id written in
# there counts; placeholders like "CVE-????-?????" and non-CVE ids (XSA-, TALOS-) do not.
_CVE = re.compile(r"(?<![A-Za-z0-9])CVE[-_ ]?(\d{4})-(\d{4,})(?!\d)", re.IGNORECASE)

_YAML_LOADER: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


def cve_ids(text: str) -> list[str]:
    """The CVE ids mentioned in one secfixes entry, normalised to CVE-YYYY-NNNN."""
    return [f"CVE-{year}-{number}" for year, number in _CVE.findall(text)]


def secfixes_of(
    feed: Feed, path: Path, data: dict[str, Any]
) -> Iterator[tuple[str, str, list[Any]]]:
    """(package, fixed version, ids as written) of a secdb document, shape-checked.

    Shared by Alpine's and Wolfi/Chainguard's secdb, which are one format. A fixed version
    "0" is the marker for "never shipped an affected version": nothing to yield.
    """
    packages = data.get("packages") or []  # secdb writes {} for an empty repository
    if not isinstance(packages, list):
        raise feed.error(path, f"'packages' is {json_kind(packages)}, not a list")
    for index, entry in enumerate(packages):
        pkg = entry.get("pkg") if isinstance(entry, dict) else None
        name = pkg.get("name") if isinstance(pkg, dict) else None
        if not isinstance(pkg, dict) or not isinstance(name, str) or not name.strip():
            raise feed.error(path, f"packages[{index}]: expected {{pkg: {{name, secfixes}}}}")
        secfixes = pkg.get("secfixes") or {}
        if not isinstance(secfixes, dict):
            raise feed.error(path, f"{name}: 'secfixes' is {json_kind(secfixes)}")
        for fixed, ids in secfixes.items():
            fixed = str(fixed).strip()
            if not fixed or fixed == "0" or not ids:
                continue
            if not isinstance(ids, list):
                raise feed.error(path, f"{name} {fixed}: expected a list of ids")
            yield name.strip(), fixed, ids


class AlpineSecdbFeed(Feed):
    """Alpine's security database: fixed versions per branch and repository."""

    name = "alpine"
    description = "Alpine secdb"
    file_patterns = ("*.json", "*.yaml", "*.yml")

    def default_locations(self) -> list[str]:
        return [
            f"{SECDB_URL}/{branch}/{repo}.json"
            for branch in BRANCHES
            for repo in REPOSITORIES
            # community has been published from v3.3 on
            if not (branch == "v3.2" and repo == "community")
        ]

    def parse(self, files: Sequence[Path]) -> Iterator[Record]:
        # The same id can be listed under several fixed versions of one package (a fix and
        # its regression fix, or backports on older branches); the union of "< each" is
        # "< the latest", so one row with the latest fix says the same thing exactly.
        fixes: dict[tuple[str, str, str], str] = {}
        for path in files:
            for namespace, package, fixed, vuln_id in self._entries(path):
                if not is_valid_apk(fixed):
                    # typos in Alpine's data (xen "4.10-1-r1"): apk orders them oddly, say so
                    log.warning(
                        "%s: %s %s fixed in invalid apk version %r", path, package, vuln_id, fixed
                    )
                key = (namespace, package, vuln_id)
                known = fixes.get(key)
                if known is None or compare_apk(fixed, known) > 0:
                    fixes[key] = fixed
        for (namespace, package, vuln_id), fixed in sorted(fixes.items()):
            yield Advisory(
                namespace=namespace,
                package=package,
                vuln_id=vuln_id,
                ranges=(AffectedRange(fixed=fixed),),
                status=FixStatus.FIXED,
                fixed_version=fixed,
                source=self.name,
            )
        for vuln_id in sorted({vuln_id for _, _, vuln_id in fixes}):
            yield Vulnerability(id=vuln_id, urls=(ALPINE_LINK.format(vuln_id),))

    def _load(self, path: Path) -> Any:
        if path.suffix.lower() not in (".yaml", ".yml"):
            return self.load_json(path)
        try:
            with path.open("rb") as fh:
                return yaml.load(fh, Loader=_YAML_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or exc
            raise self.error(path, f"invalid YAML{where}: {problem}") from None
        except OSError as exc:
            raise self.error(path, f"cannot read: {exc.strerror or exc}") from None

    def _entries(self, path: Path) -> Iterator[tuple[str, str, str, str]]:
        """(namespace, package, fixed version, CVE id) for every fix listed in one file."""
        data = self._load(path)
        if not isinstance(data, dict):
            raise self.error(path, f"expected a secdb object, got {json_kind(data)}")
        release = data.get("distroversion")
        if not isinstance(release, str) or not release.strip():
            raise self.error(path, "missing 'distroversion' (e.g. v3.10 or edge)")
        namespace = f"alpine:{alpine_branch(release)}"
        for name, fixed, ids in secfixes_of(self, path, data):
            for text in ids:
                if isinstance(text, str):
                    for vuln_id in cve_ids(text):
                        yield namespace, name, fixed, vuln_id
