"""Ruby: Gemfile.lock against Trivy's expected parses and Syft's fixtures; installed gem
specifications as `gem install` writes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hullscan.analyze.lang.ruby import RubyAnalyzer
from hullscan.errors import AnalyzerError
from hullscan.model import PackageType

TRIVY = "pkgdb/ruby/aquasecurity__trivy/pkg/dependency/parser/ruby/bundler/testdata"
SYFT = "pkgdb/ruby/anchore__syft/syft/pkg/cataloger/ruby/testdata"
SPEC = "usr/local/bundle/specifications/rake-13.0.6.gemspec"


def found(path: str, content: bytes) -> set[tuple[str, str]]:
    result = RubyAnalyzer().analyze(path, content)
    assert all(p.type is PackageType.GEM and p.paths == (path,) for p in result.packages)
    return {(p.name, p.version) for p in result.packages}


@pytest.mark.parametrize("lock", ["Gemfile_normal.lock", "Gemfile_bundler2.lock"])
def test_trivy_expected_parses(shared_data: Path, lock: str) -> None:
    cases = json.loads(
        (shared_data / "pkgdb/ruby/_expected/trivy_bundler.expected.json").read_text()
    )
    (case,) = [c for c in cases["cases"] if c["input"].endswith(lock)]
    want = {(p["Name"], p["Version"]) for p in case["want"]}
    assert found("app/Gemfile.lock", (shared_data / TRIVY / lock).read_bytes()) == want


def test_trivy_malformed_lock_is_an_error(shared_data: Path) -> None:
    with pytest.raises(AnalyzerError, match=r"not a Gemfile\.lock"):
        RubyAnalyzer().analyze(
            "Gemfile.lock", (shared_data / TRIVY / "Gemfile_malformed.lock").read_bytes()
        )


def test_syft_lock_with_path_and_git_sources(shared_data: Path) -> None:
    got = found("Gemfile.lock", (shared_data / SYFT / "Gemfile.lock").read_bytes())
    assert len(got) == 52
    assert {
        ("google-cloud-errors", "1.3.0"),  # PATH
        ("turbolinks", "3.0.0"),  # GIT
        ("actionmailer", "4.1.1"),
        ("arel", "5.0.1.20140414130214"),
    } <= got
    assert not any(name == "coffee-rails" and version != "4.0.1" for name, version in got)


def test_platform_suffix_is_not_the_version() -> None:
    lock = b"""GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.16.2-x86_64-linux)
      racc (~> 1.4)
    nokogiri (1.16.2-aarch64-linux)
    racc (1.7.3)

PLATFORMS
  x86_64-linux

BUNDLED WITH
   2.5.6
"""
    assert found("app/Gemfile.lock", lock) == {("nokogiri", "1.16.2"), ("racc", "1.7.3")}


def test_installed_gemspecs(shared_data: Path) -> None:
    """Syft's bundler.gemspec is what `gem install` writes; Grype's coverage image has it
    under specifications/ (and its golden report matches it as bundler 2.1.4)."""
    assert found(SPEC, (shared_data / SYFT / "bundler.gemspec").read_bytes()) == {
        ("bundler", "2.1.4")
    }
    stub_only = (
        b"# -*- encoding: utf-8 -*-\n# stub: json 2.6.3 ruby lib\n# stub: ext/json/extconf.rb\n"
    )
    assert found(
        "usr/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec", stub_only
    ) == {("json", "2.6.3")}
    literal = (
        b"Gem::Specification.new do |spec|\n  spec.name    = 'rack'\n"
        b'  spec.version = Gem::Version.new("2.2.8")\nend\n'
    )
    assert found(SPEC, literal) == {("rack", "2.2.8")}
    with pytest.raises(AnalyzerError):
        RubyAnalyzer().analyze(SPEC, b"Gem::Specification.new do |s|\nend\n")


def test_which_files() -> None:
    ruby = RubyAnalyzer()
    assert ruby.wants("Gemfile.lock") and ruby.wants("srv/app/Gemfile.lock")
    assert ruby.wants(SPEC)
    assert ruby.wants("var/lib/gems/3.1.0/specifications/default/json-2.6.1.gemspec")
    assert not ruby.wants("srv/app/myapp.gemspec")  # a source gemspec: VERSION constants
    assert not ruby.wants("srv/app/Gemfile") and not ruby.wants("xGemfile.lock")
