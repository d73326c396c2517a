"""PHP Composer packages: `vendor/composer/installed.json` and `composer.lock`.

`installed.json` is what Composer actually installed into `vendor/`: a list of packages
(Composer 1) or `{"packages": [...]}` (Composer 2). Every package is reported, dev ones
included: if it is in `vendor/`, it is in the image.

`composer.lock` lists `packages` and `packages-dev`; only `packages` are reported, as
Trivy does by default: an image built with `composer install --no-dev` has the lock file
but not the dev packages, and where they were installed `installed.json` reports them.

Names are Packagist's `vendor/package`; versions as Composer wrote them (`v1.27.0`, as
Trivy keeps them: the Composer version scheme ignores the `v`). Platform requirements
(`php`, `ext-*`) are not packages and never appear in these lists.
"""

from __future__ import annotations

import json
from typing import Any

from hullscan.analyze.base import AnalysisResult, Analyzer
from hullscan.errors import AnalyzerError
from hullscan.model import Package, PackageType

INSTALLED = "vendor/composer/installed.json"


class PhpAnalyzer(Analyzer):
    """Composer's installed.json and composer.lock."""

    name = "php"
    version = 1
    max_file_size = 32 * 1024 * 1024

    def wants(self, path: str) -> bool:
        if path.endswith("installed.json"):
            return path == INSTALLED or path.endswith(f"/{INSTALLED}")
        return path.endswith("composer.lock") and (
            path == "composer.lock" or path.endswith("/composer.lock")
        )

    def analyze(self, path: str, content: bytes) -> AnalysisResult:
        try:
            doc = json.loads(content)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AnalyzerError(f"not JSON: {exc}") from None
        if path.endswith("installed.json"):
            entries = doc.get("packages") if isinstance(doc, dict) else doc
            if not isinstance(entries, list):
                raise AnalyzerError("not a Composer installed.json: no package list")
        else:
            entries = doc.get("packages") if isinstance(doc, dict) else None
            if not isinstance(entries, list):
                raise AnalyzerError("not a composer.lock: no `packages` list")
        return _packages(entries, path)


def _packages(entries: list[Any], path: str) -> AnalysisResult:
    packages: list[Package] = []
    skipped = 0
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        version = entry.get("version") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(version, str) or "/" not in name:
            skipped += 1
            continue
        if not version:
            skipped += 1
            continue
        packages.append(
            Package(name=name.lower(), version=version, type=PackageType.COMPOSER, paths=(path,))
        )
    warnings = (f"{skipped} entries without a vendor/name or version skipped",) if skipped else ()
    return AnalysisResult(packages=tuple(packages), warnings=warnings)
