"""PHP: composer.lock against Trivy's expected parse and golden reports, installed.json of
Composer 1 and 2 (Syft's fixtures, Trivy's composer-vendor fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hullscan.analyze.lang.php import PhpAnalyzer
from hullscan.errors import AnalyzerError
from hullscan.model import PackageType

TRIVY = "pkgdb/php/aquasecurity__trivy/pkg/dependency/parser/php/composer/testdata"
SYFT = "pkgdb/php/anchore__syft/syft/pkg/cataloger/php/testdata"
REPO = "golden/aquasecurity__trivy/integration/testdata"
INSTALLED = "var/www/vendor/composer/installed.json"


def found(path: str, content: bytes) -> set[tuple[str, str]]:
    result = PhpAnalyzer().analyze(path, content)
    assert all(p.type is PackageType.COMPOSER and p.paths == (path,) for p in result.packages)
    return {(p.name, p.version) for p in result.packages}


def golden_packages(shared_data: Path, name: str) -> set[tuple[str, str]]:
    golden = json.loads((shared_data / REPO / name).read_text())
    return {(p["Name"], p["Version"]) for r in golden["Results"] for p in r["Packages"]}


def test_trivy_expected_parse_without_dev_packages(shared_data: Path) -> None:
    """Trivy's expectation lists dev packages flagged Dev, which its scans leave out by
    default; so does this analyzer, always."""
    cases = json.loads(
        (shared_data / "pkgdb/php/_expected/trivy_composer.expected.json").read_text()
    )
    (case,) = cases["cases"]
    want = {(p["Name"], p["Version"]) for p in case["want"] if not p.get("Dev")}
    assert len(want) == 8
    assert (
        found("app/composer.lock", (shared_data / TRIVY / "composer_happy.lock").read_bytes())
        == want
    )


def test_trivy_golden_reports(shared_data: Path) -> None:
    lock = (shared_data / REPO / "fixtures/repo/composer/composer.lock").read_bytes()
    assert found("composer.lock", lock) == golden_packages(shared_data, "composer.lock.json.golden")
    installed = (shared_data / REPO / "fixtures/repo/composer-vendor/installed.json").read_bytes()
    assert found(INSTALLED, installed) == golden_packages(
        shared_data, "composer.vendor.json.golden"
    )


@pytest.mark.parametrize("version", ["composer_1", "composer_2"])
def test_installed_json_of_composer_1_and_2(shared_data: Path, version: str) -> None:
    content = (shared_data / SYFT / "vendor" / version / "installed.json").read_bytes()
    assert found(INSTALLED, content) == {("asm89/stack-cors", "1.3.0"), ("behat/mink", "v1.8.1")}


def test_syft_composer_lock(shared_data: Path) -> None:
    got = found("composer.lock", (shared_data / SYFT / "composer.lock").read_bytes())
    assert got == {("adoy/fastcgi-client", "1.0.2"), ("alcaeus/mongo-php-adapter", "1.1.11")}


def test_broken_files() -> None:
    with pytest.raises(AnalyzerError, match="not JSON"):
        PhpAnalyzer().analyze("composer.lock", b"{")
    with pytest.raises(AnalyzerError, match="no `packages`"):
        PhpAnalyzer().analyze("composer.lock", b"[]")
    result = PhpAnalyzer().analyze(
        INSTALLED, b'[{"name": "a/b", "version": "1.0"}, {"name": "php"}, 7]'
    )
    assert [(p.name, p.version) for p in result.packages] == [("a/b", "1.0")]
    assert result.warnings == ("2 entries without a vendor/name or version skipped",)


def test_which_files() -> None:
    php = PhpAnalyzer()
    assert php.wants("composer.lock") and php.wants("var/www/composer.lock")
    assert php.wants("vendor/composer/installed.json") and php.wants(INSTALLED)
    assert not php.wants("var/www/installed.json") and not php.wants("composer.json")
