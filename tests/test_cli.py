"""End to end through the installed CLI: the bundled sample image against the bundled feeds.

The sample image (examples/sample-image) is Alpine 3.4 built from a real apk database, in
three layers: the base, `apk del libc-utils` (whiteouts for its files), and an app layer
deleting /etc/motd. The DB comes from the real Alpine secdb v3.4 and a real slice of the
Debian tracker JSON (examples/feeds). Goldens: tests/golden/; refresh with --update-golden.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import REPO
from tests.golden import check_golden
from tests.image.test_archive import load_sample_builder

GOLDEN = Path(__file__).parent / "golden"


@dataclass(frozen=True)
class Env:
    root: Path
    cache: Path
    image: Path

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HULLSCAN_CACHE_DIR": str(self.cache), "COLUMNS": "160"}
        return subprocess.run(
            [sys.executable, "-m", "hullscan.cli", *args],
            cwd=cwd or self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("e2e")
    load_sample_builder().build(root / "sample.tar")
    e = Env(root=root, cache=root / "cache", image=root / "sample.tar")
    built = e.run(
        "db",
        "build",
        "--only",
        "alpine",
        "--only",
        "debian",
        "--source",
        "alpine=examples/feeds/alpine/v3.4",
        "--source",
        "debian=examples/feeds/debian/tracker-slice.json",
        cwd=REPO,
    )
    assert built.returncode == 0, built.stderr
    assert "701 advisories from 2 feeds" in built.stdout
    return e


def scan_json(env: Env, *args: str) -> dict[str, Any]:
    result = env.run("image", "--input", "sample.tar", "-f", "json", *args)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def stable(document: dict[str, Any]) -> str:
    """The JSON report with the build times (which change every run) pinned."""
    db = document["db"]
    db["built_at"] = "<built_at>"
    for source in db["sources"]:
        source["fetched_at"] = "<fetched_at>"
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def test_sample_scan_json_golden(env: Env, update_golden: bool) -> None:
    check_golden(GOLDEN / "sample-scan.json", stable(scan_json(env)), update_golden)


def test_sample_scan_table_golden(env: Env, update_golden: bool) -> None:
    result = env.run("image", "--input", "sample.tar")
    assert result.returncode == 0, result.stderr
    # not a terminal: no progress bars, only the warning that the sample's OS is past its EOL
    assert result.stderr == (
        "warning: Alpine Linux 3.4 reached end of life on 2018-05-01; "
        "it receives no security fixes\n"
    )
    check_golden(GOLDEN / "sample-scan.txt", result.stdout, update_golden)


def test_whiteouts_remove_packages_and_attribution_stays_with_the_base(env: Env) -> None:
    report = scan_json(env)
    names = {p["name"] for p in report["packages"]}
    assert names == {
        "alpine-baselayout",
        "alpine-keys",
        "apk-tools",
        "busybox",
        "libcrypto1.0",
        "libssl1.0",
        "musl",
        "zlib",
    }  # `apk del libc-utils` in layer 2 also removed musl-utils and scanelf
    base = report["artifact"]["layers"][0]["diff_id"]
    assert {p["layer"] for p in report["packages"]} == {base}
    musl = [f for f in report["findings"] if f["package"]["source_name"] == "musl"]
    assert {f["package"]["name"] for f in musl} == {"musl"}
    assert {f["id"] for f in musl} == {"CVE-2016-8859", "CVE-2017-15650"}


def test_findings_are_the_secdb_fixes_above_the_installed_versions(env: Env) -> None:
    report = scan_json(env)
    by_key = {(f["id"], f["package"]["name"]): f for f in report["findings"]}
    # alpine-secdb v3.4/main.yaml: openssl 1.0.2i-r0 fixes CVE-2016-6304; zlib 1.2.11-r0 fixes
    # CVE-2016-9840; busybox 1.24.2-r12 fixes CVE-2016-6301 — all above what the image has
    assert by_key[("CVE-2016-6304", "libssl1.0")]["fixed_version"] == "1.0.2i-r0"
    assert by_key[("CVE-2016-9840", "zlib")]["fixed_version"] == "1.2.11-r0"
    assert by_key[("CVE-2016-6301", "busybox")]["fixed_version"] == "1.24.2-r12"
    # fixes at or below the installed version are not findings: openssl 1.0.2h-r1 is installed
    # and secdb v3.4 lists CVE-2016-2177 as fixed in 1.0.2h-r1 itself
    assert ("CVE-2016-2177", "libssl1.0") not in by_key
    assert report["summary"]["total"] == 55


@pytest.mark.parametrize(("fmt", "compression"), [("docker-archive", "none"), ("oci", "zstd")])
def test_every_archive_form_gives_the_same_findings(env: Env, fmt: str, compression: str) -> None:
    other = load_sample_builder().build(env.root / f"{fmt}-{compression}.tar", fmt, compression)
    result = env.run("image", "--input", other.name, "-f", "json", "--no-cache")
    assert result.returncode == 0, result.stderr
    mine = json.loads(result.stdout)
    reference = scan_json(env)
    assert mine["packages"] == reference["packages"]
    assert mine["findings"] == reference["findings"]


def test_gitlab_report_is_valid_against_the_official_schema(env: Env, shared_schemas: Path) -> None:
    result = env.run(
        "image",
        "--input",
        "sample.tar",
        "--report",
        "gitlab=out/gl-container-scanning-report.json",
        "--report",
        "json=out/report.json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads((env.root / "out/gl-container-scanning-report.json").read_text())
    schema_path = shared_schemas / "gitlab/15.0.7/container-scanning-report-format.json"
    jsonschema.validate(document, json.loads(schema_path.read_text()))
    assert len(document["vulnerabilities"]) == 55
    assert json.loads((env.root / "out/report.json").read_text())["summary"]["total"] == 55
    assert "CVE-2016-6304" in result.stdout  # the table still goes to stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((), 0),
        (("--fail-on", "unknown"), 1),
        (("--fail-on", "low"), 0),  # secdb carries no severities: all are Unknown
        (("--threshold", "Unknown"), 1),  # clair-scanner's spelling
        (("--threshold", "Defcon1"), 0),
        (("--fail-on", "unknown", "--ignore-unfixed"), 1),  # every finding has a fix
    ],
)
def test_exit_code_follows_the_threshold(env: Env, args: tuple[str, ...], code: int) -> None:
    result = env.run("image", "--input", "sample.tar", "-o", "out.txt", *args)
    assert result.returncode == code, result.stderr


def test_clair_whitelist_suppresses_by_general_and_image_sections(env: Env) -> None:
    whitelist = env.root / "whitelist.yaml"
    whitelist.write_text(
        "generalwhitelist:\n"
        "  CVE-2016-6304: openssl\n"
        "images:\n"
        "  hullscan/sample:\n"
        "    CVE-2016-8859: musl\n"
        "  hullscan/other:\n"
        "    CVE-2016-9840: zlib\n"
    )
    report = scan_json(env, "--whitelist", str(whitelist), "--fail-on", "unknown")
    rules = {(f["id"], f["package"]["name"]): f["suppressed_by"] for f in report["findings"]}
    assert rules[("CVE-2016-6304", "libssl1.0")] == "whitelist:general"
    assert rules[("CVE-2016-8859", "musl")] == "whitelist:image:hullscan/sample"
    assert rules[("CVE-2016-9840", "zlib")] is None  # another image's entry
    assert report["summary"]["suppressed"] == 3


def test_everything_whitelisted_passes_the_gate(env: Env) -> None:
    report = scan_json(env)
    ids = sorted({f["id"] for f in report["findings"]})
    whitelist = env.root / "all.yaml"
    whitelist.write_text("generalwhitelist:\n" + "".join(f"  {i}: accepted\n" for i in ids))
    result = env.run(
        "image", "--input", "sample.tar", "--whitelist", str(whitelist), "--fail-on", "unknown"
    )
    assert result.returncode == 0, result.stderr
    assert "Total: 0" in result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_archive_exits_3_with_one_line(env: Env) -> None:
    result = env.run("image", "--input", "nope.tar")
    assert result.returncode == 3
    assert "nope.tar: no such file or directory" in one_line_error(result)


def test_truncated_archive_exits_3_and_writes_no_report(env: Env) -> None:
    data = env.image.read_bytes()
    (env.root / "cut.tar").write_bytes(data[: len(data) // 2])
    result = env.run("image", "--input", "cut.tar", "--report", "json=cut-report.json")
    assert result.returncode == 3
    assert "hullscan: error:" in one_line_error(result)
    assert not (env.root / "cut-report.json").exists()


def test_unknown_format_archive_exits_3(env: Env) -> None:
    (env.root / "notes.txt").write_text("not an image\n")
    result = env.run("image", "--input", "notes.txt")
    assert result.returncode == 3
    assert "not a readable tar archive" in one_line_error(result)


def test_missing_db_exits_3_and_says_how_to_build_it(env: Env, tmp_path: Path) -> None:
    result = env.run("image", "--input", "sample.tar", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 3
    assert "hullscan db build" in one_line_error(result)


@pytest.mark.parametrize(
    "args",
    [
        ("image",),
        ("image", "--input", "sample.tar", "--fail-on", "severe"),
        ("image", "--input", "sample.tar", "--report", "pdf=x.pdf"),
        ("image", "--input", "sample.tar", "--report", "json="),
        ("image", "--input", "sample.tar", "--platform", "linux"),
        ("db", "build", "--only", "nosuchfeed"),
        ("db", "build", "--source", "debian"),
    ],
)
def test_usage_errors_exit_2(env: Env, args: tuple[str, ...]) -> None:
    result = env.run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr


def test_malformed_whitelist_exits_2_naming_the_file(env: Env) -> None:
    bad = env.root / "bad-whitelist.yaml"
    bad.write_text("generalwhitelist: [unclosed\n")
    result = env.run("image", "--input", "sample.tar", "--whitelist", str(bad))
    assert result.returncode == 2
    assert "bad-whitelist.yaml" in one_line_error(result)


def test_log_file_records_the_run(env: Env) -> None:
    result = env.run("image", "--input", "sample.tar", "-o", "x.txt", "--log", "run.log")
    assert result.returncode == 0, result.stderr
    log = (env.root / "run.log").read_text()
    assert "scanning sample.tar" in log
    assert "8 packages" in log


def test_malformed_feed_fails_the_build_and_keeps_the_old_db(env: Env) -> None:
    db = env.cache / "db" / "hullscan.db"
    before = db.read_bytes()
    broken = env.root / "broken.json"
    text = (REPO / "examples/feeds/debian/tracker-slice.json").read_text()
    broken.write_text(text[: len(text) // 2])
    result = env.run("db", "build", "--source", f"debian={broken}", "--only", "debian")
    assert result.returncode == 3
    assert "debian" in one_line_error(result)
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["hullscan.db"]


def test_db_status_lists_sources_and_namespaces(env: Env) -> None:
    result = env.run("db", "status")
    assert result.returncode == 0, result.stderr
    from hullscan.db.schema import SCHEMA_VERSION

    assert f"schema version: {SCHEMA_VERSION}" in result.stdout
    assert "alpine:3.4" in result.stdout and "680" in result.stdout
    assert "debian:12" in result.stdout


def test_report_without_a_path_uses_the_usual_file_name(env: Env) -> None:
    result = env.run("image", "--input", "sample.tar", "--report", "gitlab", "-o", "t.txt")
    assert result.returncode == 0, result.stderr
    assert (env.root / "gl-container-scanning-report.json").is_file()


def test_failing_gate_names_the_findings(env: Env) -> None:
    result = env.run("image", "--input", "sample.tar", "-o", "t.txt", "--fail-on", "unknown")
    assert result.returncode == 1
    assert "failing: 55 finding(s) at or above UNKNOWN (CVE-2016-2179, " in result.stderr


def test_fail_on_eol(env: Env) -> None:
    result = env.run("image", "--input", "sample.tar", "-o", "x.txt", "--fail-on-eol")
    assert result.returncode == 1
    assert "end of life on 2018-05-01 (--fail-on-eol)" in result.stderr


def test_eol_is_in_the_json_report(env: Env) -> None:
    warnings = scan_json(env)["warnings"]
    assert any("reached end of life on 2018-05-01" in w for w in warnings)


def test_rootfs_scan_of_the_base_layer(env: Env) -> None:
    base = REPO / "examples/sample-image/layers/1-base"
    result = env.run("rootfs", str(base), "-f", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    names = {p["name"] for p in report["packages"]}
    assert {"musl-utils", "scanelf", "libc-utils"} <= names  # not removed: no layer 2 here
    assert report["artifact"]["kind"] == "rootfs"
    assert report["summary"]["total"] > 55


def test_image_from_the_docker_daemon_by_name(env: Env) -> None:
    import shutil
    import tempfile

    from tests.image.fake_docker import FakeDockerEngine

    sockdir = Path(tempfile.mkdtemp(prefix="hs-"))
    fake = FakeDockerEngine()
    fake.add(load_sample_builder().build(env.root / "daemon.tar", "docker-archive"))
    host = fake.serve_unix(str(sockdir / "docker.sock"))
    try:
        result = env.run(
            "image",
            "hullscan/sample:alpine-3.4",
            "--docker-host",
            host,
            "-f",
            "json",
            "--image-src",
            "daemon",
        )
    finally:
        fake.stop()
        shutil.rmtree(sockdir, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["artifact"]["kind"] == "docker-daemon"
    assert report["summary"]["total"] == 55


def test_image_missing_everywhere_is_exit_3(env: Env, tmp_path: Path) -> None:
    result = env.run(
        "image",
        "example.invalid/none:1",
        "--image-src",
        "daemon",
        "--docker-host",
        f"unix://{tmp_path}/none.sock",
    )
    assert result.returncode == 3
    assert "was not found" in one_line_error(result)


def test_image_content_cannot_inject_terminal_markup(env: Env) -> None:
    from tests.image.layers import Entry, diff_id, layer_bytes

    evil = b'ID=alpine\nVERSION_ID=3.4.0\nPRETTY_NAME="[/bogus] \x1b[31mred"\n'
    data = layer_bytes(
        Entry("etc/os-release", evil),
        Entry(
            "lib/apk/db/installed", b"P:musl\nV:1.1.14-r10\nA:x86_64\no:musl\n\nbroken line [/x]\n"
        ),
    )
    import hashlib
    import io
    import tarfile

    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id(data)]},
            "history": [{"created_by": "RUN \x1b[2J[bold]x[/bold]"}],
        }
    ).encode()
    files = {
        "manifest.json": json.dumps(
            [{"Config": "c.json", "RepoTags": ["evil:1"], "Layers": ["l.tar"]}]
        ).encode(),
        "c.json": cfg,
        "l.tar": data,
    }
    with tarfile.open(env.root / "evil.tar", "w") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    assert hashlib.sha256(data).hexdigest() in diff_id(data)
    result = env.run("image", "--input", "evil.tar")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x1b" not in result.stderr


def test_log_file_in_a_missing_directory_is_a_usage_error(env: Env) -> None:
    result = env.run("image", "--input", "sample.tar", "--log", "/nonexistent/dir/run.log")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--log" in result.stderr


def test_sigterm_stops_cleanly(env: Env) -> None:
    import signal
    import socket
    import time

    with socket.socket() as server:  # a registry that accepts and never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hullscan.cli",
                "image",
                f"127.0.0.1:{port}/app:1",
                "--image-src",
                "registry",
                "--insecure-registry",
                f"127.0.0.1:{port}",
            ],
            cwd=env.root,
            env={**os.environ, "HULLSCAN_CACHE_DIR": str(env.cache)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in err


def test_gate_does_not_pass_an_image_whose_os_was_not_matched(env: Env, tmp_path: Path) -> None:
    # Alpine 3.19 packages, but the DB only has alpine:3.4: nothing can be matched
    base = tmp_path / "layers" / "1-base"
    (base / "etc").mkdir(parents=True)
    (base / "lib/apk/db").mkdir(parents=True)
    (base / "etc/os-release").write_text("ID=alpine\nVERSION_ID=3.19.1\n")
    (base / "lib/apk/db/installed").write_text("P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n")
    load_sample_builder().build(env.root / "a319.tar", "oci", "gzip", tmp_path / "layers")
    gated = env.run("image", "--input", "a319.tar", "--fail-on", "high", "-o", "r.txt")
    assert gated.returncode == 3
    assert "the scan is incomplete: the vulnerability DB has no advisories for alpine:3.19" in (
        gated.stderr
    )
    assert (env.root / "r.txt").exists()  # the report is still written
    allowed = env.run(
        "image", "--input", "a319.tar", "--fail-on", "high", "--allow-unmatched", "-o", "r.txt"
    )
    assert allowed.returncode == 0, allowed.stderr
    ungated = env.run("image", "--input", "a319.tar", "-o", "r.txt")
    assert ungated.returncode == 0  # no gate asked for: a warning only


def test_sbom_written_by_hullscan_scans_back_to_the_same_findings(env: Env) -> None:
    made = env.run("image", "--input", "sample.tar", "--report", "cyclonedx=s.cdx.json", "-q")
    assert made.returncode == 0, made.stderr
    result = env.run("sbom", "s.cdx.json", "-f", "json")
    assert result.returncode == 0, result.stderr
    again = json.loads(result.stdout)
    original = scan_json(env)
    assert {(f["id"], f["package"]["name"]) for f in again["findings"]} == {
        (f["id"], f["package"]["name"]) for f in original["findings"]
    }


def test_compose_scans_every_image_of_the_project(env: Env, tmp_path: Path) -> None:
    import shutil
    import tempfile

    from tests.image.fake_docker import FakeDockerEngine

    project = tmp_path / "proj"
    project.mkdir()
    (project / ".env").write_text("TAG=alpine-3.4\n")
    (project / "compose.yaml").write_text(
        "services:\n"
        "  web:\n    image: hullscan/sample:${TAG}\n"
        "  worker:\n    image: hullscan/sample:${TAG:-latest}\n"
        "  builder:\n    build: .\n"
    )
    sockdir = Path(tempfile.mkdtemp(prefix="hs-"))
    fake = FakeDockerEngine()
    fake.add(load_sample_builder().build(env.root / "compose.tar", "docker-archive"))
    host = fake.serve_unix(str(sockdir / "docker.sock"))
    try:
        result = env.run(
            "compose",
            str(project / "compose.yaml"),
            "-f",
            "json",
            "--image-src",
            "daemon",
            "--docker-host",
            host,
            "--fail-on",
            "unknown",
            "--report-dir",
            "per-image",
        )
    finally:
        fake.stop()
        shutil.rmtree(sockdir, ignore_errors=True)
    assert result.returncode == 1, result.stderr  # findings at or above Unknown
    combined = json.loads(result.stdout)
    assert len(combined["images"]) == 1  # web and worker name the same image: scanned once
    assert "builder" in result.stderr and "skipped" in result.stderr
    assert len(list((env.root / "per-image").iterdir())) == 1


def test_issues_without_gitlab_settings_is_a_usage_error(env: Env) -> None:
    scan_json(env)
    env.run("image", "--input", "sample.tar", "-f", "json", "-o", "r.json")
    result = env.run("issues", "gitlab", "r.json")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "CI_SERVER_URL" in result.stderr


def test_db_export_then_import_and_auto_update_from_a_url(env: Env, tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    exported = env.run("db", "export", str(tmp_path / "dist"))
    assert exported.returncode == 0, exported.stderr
    artifact = next((tmp_path / "dist").glob("*.zst"))
    imported = env.run("db", "import", str(artifact), "--db", str(tmp_path / "imported.db"))
    assert imported.returncode == 0, imported.stderr
    status = env.run("db", "status", "--db", str(tmp_path / "imported.db"))
    assert "alpine:3.4" in status.stdout
    # a scan with no local DB installs it from --db-url before scanning
    metadata = next((tmp_path / "dist").glob("*.json"))
    fresh = tmp_path / "fresh" / "hullscan.db"
    result = env.run(
        "image",
        "--input",
        "sample.tar",
        "-f",
        "json",
        "--db",
        str(fresh),
        "--db-url",
        str(metadata),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["total"] == 55
    assert fresh.is_file()


def test_old_db_is_flagged_in_every_output(env: Env) -> None:
    result = env.run("image", "--input", "sample.tar", "-f", "json", "--db-warn-age", "0")
    assert result.returncode == 0, result.stderr
    assert any("the vulnerability DB is" in w for w in json.loads(result.stdout)["warnings"])
    assert "the vulnerability DB is" in result.stderr
