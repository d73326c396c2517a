"""The Python analyzer on peers' real fixtures (Trivy's expected parses, Syft's test data)
and on the cases they do not cover: eggs, PEP 503 names, dev dependencies, pins."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from hullscan.analyze.lang.python import (
    MAX_EGG_METADATA,
    PythonAnalyzer,
    is_interpreter_metadata,
    normalize_name,
    parse_core_metadata,
)
from hullscan.analyze.lang.python_lockfiles import parse_requirements, parse_uv_lock
from hullscan.errors import AnalyzerError
from hullscan.model import PackageType
from tests.conftest import REPO

SYFT = "pkgdb/python/anchore__syft/syft/pkg/cataloger/python/testdata"
TRIVY_EXPECTED = "pkgdb/python/_expected/trivy_python_packaging.expected.json"
analyzer = PythonAnalyzer()


def found(path: str, content: bytes) -> list[tuple[str, str]]:
    result = analyzer.analyze(path, content)
    assert all(p.type is PackageType.PYPI and p.paths == (path,) for p in result.packages)
    return [(p.name, p.version) for p in result.packages]


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA", True),
        ("usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", True),
        ("usr/lib/python3/dist-packages/six-1.16.0.egg-info", True),  # file or directory
        ("opt/venv/lib/python3.12/site-packages/foo-1.0-py3.12.egg", True),
        ("opt/venv/lib/python3.12/site-packages/foo-1.0.egg/EGG-INFO/PKG-INFO", True),
        ("app/poetry.lock", True),
        ("Pipfile.lock", True),
        ("srv/app/uv.lock", True),
        ("app/requirements.txt", True),
        ("app/requirements-prod.txt", True),
        ("app/dev-requirements.txt", False),
        ("app/notes.txt", False),
        ("app/xpoetry.lock", False),
        ("usr/lib/python3/dist-packages/foo/requirements.txt", False),  # ships with a package
        ("usr/local/lib/python3.11/site-packages/x/poetry.lock", False),
        ("usr/share/doc/python3-pip/requirements.txt", False),  # documentation
        ("usr/lib/python3/dist-packages/requests-2.31.0.dist-info/RECORD", False),
        ("usr/lib/python3/dist-packages/requests/__init__.py", False),
        ("METADATA", False),
    ],
)
def test_wants(path: str, wanted: bool) -> None:
    assert analyzer.wants(path) is wanted


def shared_dir() -> Path:
    """The shared data dir at collection time (parametrize needs it before fixtures run)."""
    return Path(os.environ.get("HULLSCAN_SHARED_DATA", REPO.parent / "shared" / "data"))


def trivy_cases() -> list[dict[str, object]]:
    data_dir = shared_dir()
    cases: list[dict[str, object]] = json.loads((data_dir / TRIVY_EXPECTED).read_text())["cases"]
    return cases


@pytest.mark.parametrize("case", trivy_cases(), ids=lambda c: str(c["input"]).rsplit("/", 1)[1])
def test_trivy_packaging_expectations(shared_data: Path, case: dict[str, object]) -> None:
    """Name and version as Trivy's parser reads them (licenses are not read here)."""
    content = (shared_data / str(case["input"])).read_bytes()
    if case["wantErr"]:
        with pytest.raises(AnalyzerError):
            parse_core_metadata(content)
        return
    wants = case["want"]
    assert isinstance(wants, list) and len(wants) == 1
    want: dict[str, str] = wants[0]
    assert parse_core_metadata(content) == (want["Name"], want["Version"])
    # as reported: the PEP 503 name (Trivy keeps "Unidecode"; purl and OSV use the normal form)
    path = "usr/lib/python3/dist-packages/x.dist-info/METADATA"
    assert found(path, content) == [(want["Name"].lower(), want["Version"])]


@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        ("site-packages/partial.dist-info/METADATA", ("pygments", "2.6.1")),
        ("site-packages/nested/dist-name/dist-info/METADATA", ("pygments", "2.6.1")),
        ("site-packages/uppercase/dist-name/DIST-INFO/METADATA", ("pygments", "2.6.1")),
        ("site-packages/nested/egg-name/egg-info/PKG-INFO", ("requests", "2.22.0")),
        ("site-packages/uppercase/egg-name/EGG-INFO/PKG-INFO", ("requests", "2.22.0")),
        ("site-packages/test/test.egg-info", ("requests", "2.22.0")),  # egg-info as a file
        # the description (HTML comments, markdown) is outside the header block
        ("site-packages/nested/egg-name/egg-info/PKG-INFO-INVALID", ("mxnet", "1.8.0")),
    ],
)
def test_syft_site_packages(shared_data: Path, relpath: str, expected: tuple[str, str]) -> None:
    content = (shared_data / SYFT / relpath).read_bytes()
    assert found("opt/venv/lib/python3.9/site-packages/x.dist-info/METADATA", content) == [expected]


def test_metadata_without_version_is_an_error(shared_data: Path) -> None:
    """Nothing could be matched without a version: a warning names the file."""
    content = (
        shared_data / SYFT / "site-packages/no-version/no-version-py3.8.egg-info"
    ).read_bytes()
    with pytest.raises(AnalyzerError, match="no Version"):
        analyzer.analyze("usr/lib/python3.8/site-packages/no-version-py3.8.egg-info", content)


def test_interpreter_egg_info_is_not_a_package(shared_data: Path) -> None:
    """Where python2.7 installs it, Python-2.7.egg-info is the interpreter's own file."""
    content = (shared_data / SYFT / "Python-2.7.egg-info").read_bytes()
    for path in (
        "usr/lib/python2.7/lib-dynload/Python-2.7.egg-info",
        "usr/lib/python2.7/argparse.egg-info",
        "usr/lib/python2.7/wsgiref.egg-info",
    ):
        assert is_interpreter_metadata(path)
        assert analyzer.wants(path)
        assert found(path, content) == []
    assert not is_interpreter_metadata("usr/lib/python2.7/dist-packages/argparse.egg-info")
    assert found("usr/lib/python2.7/site-packages/Python-2.7.egg-info", content) == [
        ("python", "2.7.13")
    ]


def test_names_are_pep503_normalised_and_versions_kept() -> None:
    metadata = b"Metadata-Version: 2.1\nName: Foo_Bar.baz\nVersion: 01.0.0rc1\n\nBody\n"
    assert found("a/Foo_Bar.baz-1.0.dist-info/METADATA", metadata) == [("foo-bar-baz", "01.0.0rc1")]


def test_headers_stop_at_the_body_and_skip_continuations() -> None:
    text = b"Name: real\nSummary: x\n  Version: 9.9 (a continuation line)\nVersion: 1.0\n"
    assert parse_core_metadata(text) == ("real", "1.0")
    body_only = b"Metadata-Version: 2.1\n\nName: body\nVersion: 1\n"
    with pytest.raises(AnalyzerError, match="no Name"):
        parse_core_metadata(body_only)
    assert parse_core_metadata(b"Name: crlf\r\nVersion: 2\r\n") == ("crlf", "2")


def egg(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_egg_archive() -> None:
    content = egg(
        {
            "EGG-INFO/PKG-INFO": b"Metadata-Version: 1.1\nName: SQLAlchemy\nVersion: 0.7.9\n",
            "sqlalchemy/__init__.py": b"",
        }
    )
    path = "usr/lib/python2.7/site-packages/SQLAlchemy-0.7.9-py2.7.egg"
    assert found(path, content) == [("sqlalchemy", "0.7.9")]


def test_egg_archive_reads_are_bounded() -> None:
    huge = egg({"EGG-INFO/PKG-INFO": b"Name: x\nVersion: 1\n" + b"#" * MAX_EGG_METADATA})
    with pytest.raises(AnalyzerError, match="bytes; not read"):
        analyzer.analyze("a/x-1.egg", huge)
    with pytest.raises(AnalyzerError, match="no EGG-INFO/PKG-INFO"):
        analyzer.analyze("a/x-1.egg", egg({"x/__init__.py": b""}))
    with pytest.raises(AnalyzerError, match="unreadable egg"):
        analyzer.analyze("a/x-1.egg", b"PK\x03\x04 not really a zip")


# --- lockfiles -------------------------------------------------------------------------------


def test_syft_poetry_lock(shared_data: Path) -> None:
    content = (shared_data / SYFT / "poetry/simple-deps/poetry.lock").read_bytes()
    assert found("app/poetry.lock", content) == [
        ("certifi", "2024.2.2"),
        ("charset-normalizer", "3.3.2"),
        ("idna", "3.7"),
        ("requests", "2.32.2"),
        ("urllib3", "2.2.1"),
    ]


def test_poetry_dev_packages_are_left_out() -> None:
    lock = b"""
[[package]]
name = "Flask"
version = "2.0.0"
category = "main"

[[package]]
name = "pytest"
version = "7.0.0"
category = "dev"

[[package]]
name = "black"
version = "24.1.0"
groups = ["dev"]

[[package]]
name = "click"
version = "8.1.0"
groups = ["main", "dev"]

[[package]]
name = "mylib"
version = "0.1.0"
source = { type = "directory", url = "../mylib" }
"""
    assert found("app/poetry.lock", lock) == [("flask", "2.0.0"), ("click", "8.1.0")]


def test_syft_pipfile_lock_default_section_only(shared_data: Path) -> None:
    """`develop` (astroid, autopep8) is left out, as Trivy and Syft do."""
    content = (shared_data / SYFT / "pipfile-lock/Pipfile.lock").read_bytes()
    assert found("app/Pipfile.lock", content) == [
        ("aio-pika", "6.8.0"),
        ("aiodns", "2.0.0"),
        ("aiohttp", "3.7.4.post0"),
        ("aiohttp-jinja2", "1.4.2"),
    ]


def test_syft_uv_lock(shared_data: Path) -> None:
    """The project itself (testpkg, a virtual source) is not a dependency."""
    content = (shared_data / SYFT / "uv/simple-deps/uv.lock").read_bytes()
    assert found("app/uv.lock", content) == [
        ("certifi", "2025.1.31"),
        ("charset-normalizer", "3.4.1"),
        ("idna", "3.10"),
        ("requests", "2.32.3"),
        ("urllib3", "2.3.0"),
    ]


def test_uv_dev_dependencies_and_forks() -> None:
    lock = b"""
version = 1

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "requests" }, { name = "numpy", version = "2.0.0" }]

[package.optional-dependencies]
socks = [{ name = "pysocks" }]

[package.dev-dependencies]
dev = [{ name = "pytest" }]

[[package]]
name = "requests"
version = "2.32.3"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "idna" }]

[[package]]
name = "idna"
version = "3.10"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "numpy"
version = "1.26.4"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "numpy"
version = "2.0.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pysocks"
version = "1.7.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pytest"
version = "8.0.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "iniconfig" }]

[[package]]
name = "iniconfig"
version = "2.0.0"
source = { registry = "https://pypi.org/simple" }
"""
    assert parse_uv_lock(lock) == [
        ("requests", "2.32.3"),
        ("idna", "3.10"),
        ("numpy", "2.0.0"),
        ("pysocks", "1.7.1"),
    ]


def test_syft_requirements_exact_pins_only(shared_data: Path) -> None:
    """What Syft's fixture pins exactly; ranges, wildcards, bare names, includes, editables
    and lines without a name are skipped."""
    content = (shared_data / SYFT / "requires/requirements.txt").read_bytes()
    assert found("app/requirements.txt", content) == [
        ("flask", "4.0.0"),
        ("urllib3", "1.26.20"),  # === arbitrary equality
        ("foo", "1.0.0"),
        ("someproject", "5.4"),  # with a marker
        ("dots-allowed", "1.0.0"),
        ("argh", "0.26.2"),  # hashes on continuation lines
        ("argh", "0.26.3"),
        ("celery", "4.4.7"),  # extras dropped
        ("githubsampleproject", "3.7.1"),
        ("friendly-bard", "1.0.0"),
        ("local-version", "1.2.3+gcr.2"),
    ]


@pytest.mark.parametrize(
    ("line", "pin"),
    [
        ("Django==4.2.1", ("Django", "4.2.1")),
        ("django == 4.2.1  # comment", ("django", "4.2.1")),
        ("django==4.2.*", None),
        ("django>=4.2", None),
        ("django~=4.2", None),
        ("django", None),
        ("-e git+https://github.com/django/django#egg=django", None),
        ("https://example.com/django-4.2.tar.gz#sha256=00", None),
        ("./local/path", None),
        ("--index-url https://pypi.org/simple", None),
    ],
)
def test_requirement_lines(line: str, pin: tuple[str, str] | None) -> None:
    assert parse_requirements(line.encode()) == ([pin] if pin else [])


def test_invalid_lockfiles_are_errors() -> None:
    with pytest.raises(AnalyzerError, match="TOML"):
        analyzer.analyze("app/poetry.lock", b"[[package]\nname=")
    with pytest.raises(AnalyzerError, match="JSON"):
        analyzer.analyze("app/Pipfile.lock", b"{")
    with pytest.raises(AnalyzerError, match="default"):
        analyzer.analyze("app/Pipfile.lock", b"[]")


def test_claircore_layer_with_an_egg_and_a_bad_version(shared_data: Path) -> None:
    """A real layer (Claircore's): an .egg archive and an egg-info directory whose version
    is not PEP 440. Both are reported as written; what "xxx" matches is for the matcher to
    decide."""
    import hashlib

    from hullscan.image.walker import walk_layer
    from hullscan.model import Layer

    data = (
        shared_data / "images/quay__claircore/python/testdata/layer-with-bad-version.tar"
    ).read_bytes()
    layer = Layer(0, "sha256:" + hashlib.sha256(data).hexdigest())
    result = walk_layer(io.BytesIO(data), layer, [analyzer])
    got = {
        f.path.rsplit("/diff/", 1)[1]: [(p.name, p.version) for p in f.result.packages]
        for f in result.files
        if f.result is not None
    }
    assert got == {
        "mypackage-0.1.0.0.0-py3.9.egg": [("mypackage", "0.1.0.0.0")],
        "mypackage.egg-info/PKG-INFO": [("mypackage", "xxx")],
    }
    assert result.warnings == ()


def test_a_real_site_packages_matches_importlib_metadata() -> None:
    """Every distribution of this test run's own environment, as CPython's importlib.metadata
    lists them (what `pip list` shows), read from the same directory as a rootfs."""
    import importlib.metadata
    import sysconfig

    from hullscan.image.rootfs import walk_rootfs
    from hullscan.inventory import Applier
    from hullscan.model import ArtifactInfo, Layer

    purelib = Path(sysconfig.get_paths()["purelib"])
    applier = Applier()
    applier.apply(0, walk_rootfs(purelib, [analyzer]))
    inventory = applier.inventory(ArtifactInfo("site", "rootfs", layers=(Layer(0, ""),)))
    expected = {
        (normalize_name(d.metadata["Name"]), d.version)
        for d in importlib.metadata.distributions(path=[str(purelib)])
    }
    assert len(expected) > 20
    assert {(p.name, p.version) for p in inventory.packages} == expected
    assert inventory.warnings == ()
