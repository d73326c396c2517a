"""Java, Go, Rust, Ruby, PHP and .NET packages through the real walkers: a multi-layer image
where a later layer deletes a Go program, programs picked by kind (not name) in image
layers and in a rootfs, and the per-layer byte budget that programs must not exhaust."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from hullscan.analyze.lang.golang import GoAnalyzer
from hullscan.analyze.lang.ruby import RubyAnalyzer
from hullscan.analyze.lang.rust import RustAnalyzer
from hullscan.analyze.registry import default_analyzers
from hullscan.image import walker
from hullscan.image.rootfs import walk_rootfs
from hullscan.image.walker import walk_layer
from hullscan.inventory import Applier
from hullscan.model import ArtifactInfo, Layer, PackageType
from tests.analyze.lang.elfs import elf, modinfo
from tests.analyze.lang.gobuild import GoProgram, build, go_version_m, publish
from tests.image.layers import Entry, diff_id, layer_bytes

LOG4J = Path("/usr/share/java/log4j-core.jar")
GEMFILE_LOCK = b"GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (2.2.8)\n\n"
INSTALLED = b'{"packages": [{"name": "guzzlehttp/psr7", "version": "1.8.3"}]}'
DEPS_JSON = b'{"libraries": {"Newtonsoft.Json/9.0.1": {"type": "package"}}}'
CARGO_LOCK = b'version = 4\n\n[[package]]\nname = "smallvec"\nversion = "0.6.9"\n'


@pytest.fixture(scope="module")
def go_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("go")
    publish(root / "proxy", "golang.org/x/net", "v0.7.0")
    program = GoProgram("example.com/svc", requires={"golang.org/x/net": "v0.7.0"})
    return build(root / "svc", root / "proxy", program, ["golang.org/x/net"])


def fake_program(size: int = 300_000) -> bytes:
    """A hand-built Go program: build info in `.go.buildinfo`, padded to a program's size."""
    text = modinfo("path\tx/cmd\nmod\tx\tv1.0.0\t\n")
    header = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16)
    info = header + bytes([8]) + b"go1.21.3" + bytes([len(text)]) + text
    return elf([(".go.buildinfo", info), (".text", bytes(size))])


def test_multi_layer_image(go_program: Path) -> None:
    """Layer 1 installs a Debian jar, a Go service and lock files; layer 2 deletes the Go
    service and adds Composer's installed.json. The inventory has the jar and the lock
    files' packages from layer 1, the PHP package from layer 2, and no Go module."""
    if not LOG4J.exists():
        pytest.skip(f"{LOG4J} not installed (Debian package liblog4j2-java)")
    first = layer_bytes(
        Entry("usr/share/java/log4j-core.jar", LOG4J.read_bytes()),
        Entry("usr/share/java/log4j-core-2.19.0.jar", kind="symlink", target="log4j-core.jar"),
        Entry("usr/local/bin/svc", go_program.read_bytes()),
        Entry("srv/app/Gemfile.lock", GEMFILE_LOCK),
        Entry("srv/tool/Cargo.lock", CARGO_LOCK),
        Entry("srv/dotnet/app.deps.json", DEPS_JSON),
    )
    second = layer_bytes(
        Entry("usr/local/bin/.wh.svc"),
        Entry("var/www/vendor/composer/installed.json", INSTALLED),
    )
    layers = (Layer(0, diff_id(first)), Layer(1, diff_id(second)))
    applier = Applier()
    analyzers = default_analyzers()
    for layer, data in zip(layers, (first, second), strict=True):
        result = walk_layer(io.BytesIO(data), layer, analyzers)
        # before the delete, layer 1 alone holds the Go service (found by content)
        if layer.index == 0:
            go = [
                p for f in result.files if f.result for p in f.result.packages if f.analyzer == "go"
            ]
            _, lines = go_version_m(go_program)
            assert ("golang.org/x/net", "v0.7.0") in {(p.name, p.version) for p in go}
            assert lines[2][:3] == ["dep", "golang.org/x/net", "v0.7.0"]
        applier.apply(layer.index, result)
    inventory = applier.inventory(
        ArtifactInfo(reference="test", kind="docker-archive", layers=layers)
    )
    got = {(p.type, p.name, p.version, p.layer) for p in inventory.packages}
    assert got == {
        (PackageType.MAVEN, "org.apache.logging.log4j:log4j-core", "2.19.0", layers[0].diff_id),
        (PackageType.GEM, "rack", "2.2.8", layers[0].diff_id),
        (PackageType.CARGO, "smallvec", "0.6.9", layers[0].diff_id),
        (PackageType.NUGET, "Newtonsoft.Json", "9.0.1", layers[0].diff_id),
        (PackageType.COMPOSER, "guzzlehttp/psr7", "1.8.3", layers[1].diff_id),
    }
    (log4j,) = [p for p in inventory.packages if p.type is PackageType.MAVEN]
    # the symlink resolves to the same jar: one package, both paths not needed
    assert log4j.paths == ("usr/share/java/log4j-core.jar",)


def test_programs_do_not_use_up_the_layer_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer of big programs before the package files: the programs are read, and the
    package files after them still fit in the budget that name-wanted files share."""
    monkeypatch.setattr(walker, "MAX_WANTED_BYTES_PER_LAYER", len(GEMFILE_LOCK) + 10)
    data = layer_bytes(
        Entry("usr/bin/one", fake_program()),
        Entry("usr/bin/two", fake_program()),
        Entry("srv/app/Gemfile.lock", GEMFILE_LOCK),
        Entry("srv/other/Gemfile.lock", GEMFILE_LOCK),
    )
    result = walk_layer(io.BytesIO(data), Layer(0, diff_id(data)), [GoAnalyzer(), RubyAnalyzer()])
    packages = {(f.path, p.name) for f in result.files if f.result for p in f.result.packages}
    assert packages == {
        ("usr/bin/one", "x"),
        ("usr/bin/one", "stdlib"),
        ("usr/bin/two", "x"),
        ("usr/bin/two", "stdlib"),
        ("srv/app/Gemfile.lock", "rack"),
    }
    assert len(result.warnings) == 1 and "srv/other/Gemfile.lock not read" in result.warnings[0]


def test_image_layers_pick_programs_by_size_and_name() -> None:
    """Tar entries carry no mode here: data files and small files are never offered."""
    program = fake_program()
    data = layer_bytes(
        Entry("app/server", program),
        Entry("usr/share/doc/server", program),  # a data tree
        Entry("app/server.tar", program),  # a data suffix
        Entry("app/small", fake_program(1000)),  # too small for a program
        Entry("app/link", kind="symlink", target="server"),
    )
    result = walk_layer(io.BytesIO(data), Layer(0, diff_id(data)), [GoAnalyzer(), RustAnalyzer()])
    assert sorted({(f.path, f.analyzer) for f in result.files}) == [
        ("app/server", "go"),
        ("app/server", "rust"),
    ]


def test_rootfs_picks_executables(tmp_path: Path) -> None:
    program = fake_program()
    (tmp_path / "usr/local/bin").mkdir(parents=True)
    (tmp_path / "usr/local/bin/server").write_bytes(program)
    os.chmod(tmp_path / "usr/local/bin/server", 0o755)
    (tmp_path / "usr/local/bin/not-executable").write_bytes(program)
    os.chmod(tmp_path / "usr/local/bin/not-executable", 0o644)
    (tmp_path / "usr/share/doc").mkdir(parents=True)
    shutil.copy(tmp_path / "usr/local/bin/server", tmp_path / "usr/share/doc/tool")  # executable
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv/Gemfile.lock").write_bytes(GEMFILE_LOCK)
    result = walk_rootfs(tmp_path, [GoAnalyzer(), RubyAnalyzer()])
    found = {(f.path, p.name) for f in result.files if f.result for p in f.result.packages}
    assert found == {
        ("usr/local/bin/server", "x"),
        ("usr/local/bin/server", "stdlib"),
        ("usr/share/doc/tool", "x"),  # the mode is known: any tree
        ("usr/share/doc/tool", "stdlib"),
        ("srv/Gemfile.lock", "rack"),
    }
