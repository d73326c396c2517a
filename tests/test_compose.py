"""Compose projects read as `docker compose` reads them, and multi-image scans.

Fixtures in tests/compose/: `shop/` is a realistic project (default file plus its
override, `.env`, `include:`, `extends` from the same and another file, profiles, a
build-only service, `platform:`, `!reset`). Expected values follow the compose spec
(12-interpolation, 13-merge, 15-profiles, 05-services#extends) and compose-go's loader.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from hullscan.compose import (
    ComposeError,
    ComposeImage,
    find_compose_files,
    load_project,
    normalize_project_name,
)
from hullscan.compose_env import interpolate, parse_env_file
from hullscan.compose_scan import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    ImageResult,
    combined_document,
    combined_gitlab_document,
    exit_code,
    render_combined,
    report_filename,
    scan_compose_images,
    scan_images,
)
from hullscan.compose_yaml import load_documents
from hullscan.errors import SourceError
from hullscan.model import ScanReport, Severity
from hullscan.policy import Policy, apply_policy
from hullscan.report.base import ReportOptions
from hullscan.report.load import parse_reports
from tests.tickets.reports import STARTED, Scans, scan_sample

SHOP = Path(__file__).parent / "compose" / "shop"


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def images(project_images: object) -> list[tuple[str, tuple[str, ...]]]:
    return [(i.normalized, i.services) for i in project_images]  # type: ignore[attr-defined]


# --- the shop project ---------------------------------------------------------------------


def test_shop_default_profiles() -> None:
    project = load_project(working_dir=SHOP, environ={})
    assert project.name == "shop"
    assert project.files == (SHOP / "compose.yaml", SHOP / "compose.override.yaml")
    assert images(project.images) == [
        ("registry.example.com:5000/shop/web:1.4.2", ("web",)),
        ("registry.example.com:5000/shop/api:2.0.1", ("api", "worker")),
        ("docker.io/library/redis:latest", ("cache", "queue")),
        ("docker.io/library/alpine:3.19.1", ("arm-tool",)),
    ]
    redis = project.images[2]
    assert redis.reference == "redis"  # as the first service wrote it
    web, api = project.images[0], project.images[1]
    assert web.built_locally and api.built_locally and not redis.built_locally
    assert project.images[3].platform == "linux/arm64"
    assert [s.service for s in project.skipped] == ["docs"]
    assert "build: without image:" in project.skipped[0].reason
    assert "shop-docs" in project.skipped[0].reason
    # db moved into a profile by the override; prometheus comes from include:
    assert project.inactive == ("db", "frontend-dev", "mailhog", "prometheus")
    assert project.warnings == ()


def test_shop_model_follows_the_merge_rules() -> None:
    services = load_project(working_dir=SHOP, environ={}).model["services"]
    web = services["web"]
    assert "ports" not in web  # !reset []
    assert web["environment"] == {"DEBUG": "1"}
    assert web["logging"]["options"] == {"max-size": "10m"}  # YAML anchor
    api = services["api"]
    assert api["restart"] == "unless-stopped"  # extends python-app extends python-base
    assert api["environment"] == [
        "PYTHONUNBUFFERED=1",
        "DATABASE_URL=postgres://shop:${DB_PASSWORD}@db/shop",
    ]
    assert "extends" not in api and "extends" not in services["worker"]
    assert services["worker"]["command"] == ["celery", "worker"]


def test_shop_profiles_from_flags_and_environment() -> None:
    dev = load_project(working_dir=SHOP, environ={}, profiles=["dev"])
    assert "docker.io/mailhog/mailhog:v1.0.1" in [i.normalized for i in dev.images]
    assert [s.service for s in dev.skipped] == ["frontend-dev", "docs"]
    monitoring = load_project(working_dir=SHOP, environ={"COMPOSE_PROFILES": "monitoring,debug"})
    names = [i.normalized for i in monitoring.images]
    assert "docker.io/prom/prometheus:v2.51.0" in names  # MONITORING_TAG from the parent .env
    assert "docker.io/mailhog/mailhog:v1.0.1" in names
    # explicit profiles win over COMPOSE_PROFILES
    flags = load_project(working_dir=SHOP, environ={"COMPOSE_PROFILES": "monitoring"}, profiles=[])
    assert "docker.io/prom/prometheus:v2.51.0" not in [i.normalized for i in flags.images]
    everything = load_project(working_dir=SHOP, environ={}, profiles=["*"])
    assert everything.inactive == ()
    assert len(everything.images) == 7


def test_shell_environment_wins_over_dotenv() -> None:
    project = load_project(
        working_dir=SHOP, environ={"REGISTRY": "ghcr.io/acme", "WEB_TAG": "9.9", "API_TAG": ""}
    )
    assert project.images[0].normalized == "ghcr.io/acme/shop/web:9.9"
    # ${API_TAG-latest}: set but empty stays empty, and `api:` is not a valid reference
    assert [s.service for s in project.skipped] == ["api", "worker", "docs"]
    assert "bad tag ''" in project.skipped[0].reason


def test_required_variable_error_names_file_attribute_and_message() -> None:
    with pytest.raises(ComposeError) as info:
        load_project(working_dir=SHOP, environ={}, env_files=[])
    message = str(info.value)
    assert str(SHOP / "compose.yaml") in message
    assert "services.web.image" in message
    assert "required variable WEB_TAG is missing a value (not set): set WEB_TAG in .env" in message


def test_explicit_files_env_files_and_compose_file(tmp_path: Path) -> None:
    env = write(tmp_path, "ci.env", "WEB_TAG=ci\nAPI_TAG=ci\n")
    project = load_project(
        [SHOP / "compose.yaml"], environ={}, env_files=[env], working_dir=tmp_path
    )
    assert project.project_dir == SHOP
    assert project.images[0].normalized.endswith("shop/web:ci")
    # without the override: db is active again
    assert "docker.io/library/postgres:16.2-alpine" in [i.normalized for i in project.images]
    via_env = load_project(
        environ={"COMPOSE_FILE": f"{SHOP / 'compose.yaml'}:{SHOP / 'compose.override.yaml'}"},
        working_dir=tmp_path,
    )
    assert via_env.files == (SHOP / "compose.yaml", SHOP / "compose.override.yaml")
    with pytest.raises(ComposeError, match=r"compose file .*nope\.yml not found"):
        load_project(["nope.yml"], working_dir=tmp_path, environ={})
    with pytest.raises(ComposeError, match=r"env file .* not found"):
        load_project(
            [SHOP / "compose.yaml"], env_files=["missing.env"], working_dir=tmp_path, environ={}
        )


def test_default_files_are_found_in_a_parent_directory(tmp_path: Path) -> None:
    write(tmp_path, "docker-compose.yml", "services:\n  a:\n    image: nginx:1.25\n")
    write(tmp_path, "docker-compose.override.yml", "services:\n  a:\n    image: nginx:1.26\n")
    nested = tmp_path / "src" / "deep"
    nested.mkdir(parents=True)
    assert find_compose_files(nested) == (
        tmp_path / "docker-compose.yml",
        tmp_path / "docker-compose.override.yml",
    )
    project = load_project(working_dir=nested, environ={})
    assert images(project.images) == [("docker.io/library/nginx:1.26", ("a",))]
    assert project.name == normalize_project_name(tmp_path.name)
    with pytest.raises(ComposeError, match="no compose file"):
        find_compose_files(Path("/"))


# --- interpolation --------------------------------------------------------------------------

ENV = {"SET": "value", "EMPTY": "", "FALLBACK": "fallback"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("pre-${SET}-post", "pre-value-post"),
        ("$SET.txt", "value.txt"),
        ("${UNSET}", ""),
        ("${UNSET:-default}", "default"),
        ("${EMPTY:-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${UNSET-default}", "default"),
        ("${SET:-default}", "value"),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:-${FALLBACK}}", "fallback"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${UNSET:-$FALLBACK}", "fallback"),
        ("${SET?never shown}", "value"),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("cost: $$5", "cost: $5"),
        ("$5 and $-", "$5 and $-"),  # not a name: kept as is
        ("trailing $", "trailing $"),
        ("${UNSET:-a:b/c}", "a:b/c"),
    ],
)
def test_interpolation(text: str, expected: str) -> None:
    assert interpolate(text, ENV.get, "x") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "${UNSET:?please set it}",
            "required variable UNSET is missing a value (not set): please set it",
        ),
        ("${EMPTY:?no empties}", "required variable EMPTY is missing a value (empty): no empties"),
        ("${UNSET?}", "required variable UNSET is missing a value (not set)"),
        ("${UNSET?need $SET}", "missing a value (not set): need value"),
        ("${SET/a/b}", "'${SET/a/b}' is not supported"),
        ("${1}", "is not supported"),
        ("${SET", "without a closing '}'"),
    ],
)
def test_interpolation_errors(text: str, message: str) -> None:
    with pytest.raises(ComposeError, match=r"^where: ") as info:
        interpolate(text, ENV.get, "where")
    assert message in str(info.value)


def test_empty_required_with_plain_question_mark_is_accepted() -> None:
    assert interpolate("${EMPTY?only unset fails}", ENV.get, "x") == ""


def test_unset_variables_are_warned_once(tmp_path: Path) -> None:
    compose = write(
        tmp_path,
        "compose.yaml",
        "services:\n  a:\n    image: app:${TAG}\n    build: .\n  b:\n    image: ${TAG}x\n",
    )
    project = load_project([compose], environ={})
    assert project.warnings == ('The "TAG" variable is not set. Defaulting to a blank string.',)
    assert images(project.images) == [("docker.io/library/x:latest", ("b",))]
    assert [s.service for s in project.skipped] == ["a"]  # "app:" is not a valid reference


def test_keys_are_not_interpolated(tmp_path: Path) -> None:
    compose = write(
        tmp_path,
        "compose.yaml",
        'services:\n  a:\n    image: busybox\n    labels:\n      "$KEY": "${VALUE}"\n',
    )
    project = load_project([compose], environ={"KEY": "k", "VALUE": "v"})
    assert project.model["services"]["a"]["labels"] == {"$KEY": "v"}


# --- .env files --------------------------------------------------------------------------------


def test_dotenv_syntax() -> None:
    text = (
        "# comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED=yes\n"
        "SPACED = around \n"
        "INLINE=value # comment\n"
        "HASH=a#b\n"
        "SINGLE='literal $PLAIN \\n'\n"
        'DOUBLE="expanded $PLAIN\\tand\\nnewline"\n'
        'MULTI="line one\n'
        'line two"\n'
        "REF=${PLAIN}-${FROM_SHELL:-none}\n"
        "EMPTY=\n"
        "INHERITED\n"
        "NOT_IN_SHELL\n"
    )
    values = parse_env_file(text, ".env", {"INHERITED": "from-shell"})
    assert values == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SPACED": "around",
        "INLINE": "value",
        "HASH": "a#b",
        "SINGLE": "literal $PLAIN \\n",
        "DOUBLE": "expanded value\tand\nnewline",
        "MULTI": "line one\nline two",
        "REF": "value-none",
        "EMPTY": "",
        "INHERITED": "from-shell",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A='open\n", "unterminated '-quoted value"),
        ('A="x" trailing\n', "unexpected text after the quoted value"),
        ("just words here\n", "cannot parse"),
        ("A=${B:?B is required}\n", "required variable B"),
    ],
)
def test_dotenv_errors(text: str, message: str) -> None:
    with pytest.raises(ComposeError, match=r"^\.env:1") as info:
        parse_env_file(text, ".env", {})
    assert message in str(info.value)


# --- YAML and merging -------------------------------------------------------------------------


def test_yaml_is_read_as_yaml_1_2() -> None:
    (doc,) = load_documents("a: on\nb: yes\nc: 1:20\nd: true\ne: 0o17\nf: 012\n", "f.yml")
    assert doc == {"a": "on", "b": "yes", "c": "1:20", "d": True, "e": 15, "f": 12}


def test_yaml_errors_are_located(tmp_path: Path) -> None:
    with pytest.raises(
        ComposeError, match=r"f\.yml: line 4, column 3: mapping key 'image' already defined"
    ):
        load_documents("services:\n  a:\n  image: x\n  image: y\n", "f.yml")
    with pytest.raises(ComposeError, match=r"f\.yml: invalid YAML at line 3, column 1"):
        load_documents("services:\n  a: [\n", "f.yml")
    with pytest.raises(ComposeError, match="must be a mapping"):
        load_documents("- a\n- b\n", "f.yml")


def test_override_rules_for_build_profiles_and_image(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "compose.yaml",
        "services:\n"
        "  app:\n"
        "    build: ./app\n"
        "    profiles: [a, b]\n"
        "    command: [run, --fast]\n"
        "    volumes: ['data:/data', 'logs:/logs']\n"
        "  tool:\n"
        "    image: tool:1\n"
        "    build: ./tool\n",
    )
    override = write(
        tmp_path,
        "override.yaml",
        "services:\n"
        "  app:\n"
        "    image: registry.example.com/app:${TAG:-dev}\n"
        "    build: {dockerfile: Dockerfile.prod}\n"
        "    profiles: [b, c]\n"
        "    command: [serve]\n"
        "    volumes: ['other:/data']\n"
        "  tool:\n"
        "    build: !reset null\n"
        "    image: !override tool:2\n",
    )
    project = load_project([base, override], environ={}, profiles=["c"])
    app = project.model["services"]["app"]
    assert app["build"] == {"context": "./app", "dockerfile": "Dockerfile.prod"}
    assert app["profiles"] == ["a", "b", "c"]
    assert app["command"] == ["serve"]
    assert app["volumes"] == ["other:/data", "logs:/logs"]
    assert images(project.images) == [
        ("registry.example.com/app:dev", ("app",)),
        ("docker.io/library/tool:2", ("tool",)),
    ]
    assert project.images[0].built_locally and not project.images[1].built_locally


def test_several_documents_in_one_file(tmp_path: Path) -> None:
    compose = write(
        tmp_path,
        "compose.yaml",
        "services:\n  a:\n    image: one\n"
        "---\n"
        "services:\n  a:\n    image: two\n  b:\n    image: three\n",
    )
    project = load_project([compose], environ={})
    assert [i.reference for i in project.images] == ["two", "three"]


def test_extends_errors(tmp_path: Path) -> None:
    cycle = write(
        tmp_path,
        "cycle.yaml",
        "services:\n  a:\n    extends: b\n  b:\n    extends: {service: a}\n",
    )
    with pytest.raises(ComposeError, match="circular reference with extends"):
        load_project([cycle], environ={})
    missing = write(tmp_path, "missing.yaml", "services:\n  a:\n    extends: {service: nope}\n")
    with pytest.raises(ComposeError, match="service 'nope' not found"):
        load_project([missing], environ={})
    other = write(
        tmp_path, "other.yaml", "services:\n  a:\n    extends: {file: base.yaml, service: x}\n"
    )
    write(tmp_path, "base.yaml", "services:\n  y:\n    image: y\n")
    with pytest.raises(ComposeError, match=r"service 'x' not found in .*base\.yaml"):
        load_project([other], environ={})
    # as in docker compose: an override file's extends sees only its own file's services
    base = write(tmp_path, "compose.yaml", "services:\n  base:\n    image: b\n  a:\n    image: a\n")
    override = write(tmp_path, "over.yaml", "services:\n  a:\n    extends: base\n")
    with pytest.raises(ComposeError, match="service 'base' not found"):
        load_project([base, override], environ={})


def test_extends_file_relative_to_the_file_that_says_it(tmp_path: Path) -> None:
    write(
        tmp_path,
        "lib/base.yaml",
        "services:\n  b:\n    extends: {file: deeper/x.yaml, service: x}\n",
    )
    write(tmp_path, "lib/deeper/x.yaml", "services:\n  x:\n    image: from-deeper:${TAG:-1}\n")
    main = write(
        tmp_path,
        "app/compose.yaml",
        "services:\n  a:\n    extends: {file: ../lib/base.yaml, service: b}\n",
    )
    project = load_project([main], environ={"TAG": "7"})
    assert images(project.images) == [("docker.io/library/from-deeper:7", ("a",))]


def test_include_cycle_and_conflict(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "include: [b.yaml]\nservices:\n  a:\n    image: a\n")
    write(tmp_path, "b.yaml", "include: [a.yaml]\nservices:\n  b:\n    image: b\n")
    with pytest.raises(ComposeError, match="include cycle"):
        load_project([tmp_path / "a.yaml"], environ={})
    write(tmp_path, "c.yaml", "include: [d.yaml]\nservices:\n  x:\n    image: c\n")
    write(tmp_path, "d.yaml", "services:\n  x:\n    image: d\n")
    with pytest.raises(ComposeError, match=r"services\.x conflicts with imported resource"):
        load_project([tmp_path / "c.yaml"], environ={})


def test_invalid_image_is_skipped_with_the_reason(tmp_path: Path) -> None:
    compose = write(
        tmp_path,
        "compose.yaml",
        "services:\n"
        "  a:\n    image: Team/App:1\n"
        "  b:\n    image: ok:1\n"
        "  c: {}\n"
        "  d:\n    image: 42\n",
    )
    project = load_project([compose], environ={})
    assert [i.reference for i in project.images] == ["ok:1"]
    reasons = {s.service: s.reason for s in project.skipped}
    assert "must be lowercase" in reasons["a"]
    assert reasons["c"] == "neither image: nor build: is set"
    assert "must be a string" in reasons["d"]


def test_project_name_rules(tmp_path: Path) -> None:
    compose = write(tmp_path, "compose.yaml", "name: My_App!\nservices:\n  a:\n    build: .\n")
    assert load_project([compose], environ={}).name == "my_app"
    assert load_project([compose], environ={"COMPOSE_PROJECT_NAME": "ci-42"}).name == "ci-42"
    assert load_project([compose], environ={}, project_name="Given").name == "given"


# --- scanning several images -------------------------------------------------------------------


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Scans:
    return scan_sample(tmp_path_factory.mktemp("compose-scan"))


def test_scan_images_bounded_and_isolated() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def scan_one(reference: str) -> ScanReport:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        if reference == "missing:1":
            raise SourceError("missing:1 was not found (daemon: not running; registry: 404)")
        if reference == "buggy:1":
            raise RuntimeError("boom")
        return ScanReport.__new__(ScanReport)  # never inspected here

    refs = [f"img{n}:1" for n in range(6)] + ["missing:1", "buggy:1"]
    seen: list[str] = []
    results = scan_images(
        refs, scan_one, max_workers=3, on_result=lambda r: seen.append(r.reference)
    )
    assert [r.reference for r in results] == refs
    assert peak <= 3 and peak >= 2
    assert sorted(seen) == sorted(refs)
    assert results[6].error == "missing:1 was not found (daemon: not running; registry: 404)"
    assert results[7].error == "internal error: RuntimeError: boom"
    assert all(r.ok for r in results[:6])


def test_scan_compose_images_passes_the_platform() -> None:
    project_images = load_project(working_dir=SHOP, environ={}).images
    asked: list[tuple[str, str]] = []

    def scan_one(image: ComposeImage) -> ScanReport:
        asked.append((image.reference, image.platform))
        raise SourceError(f"{image.reference} was not found")

    results = scan_compose_images(project_images, scan_one, max_workers=2)
    assert ("alpine:3.19.1", "linux/arm64") in asked
    assert results[3].platform == "linux/arm64" and results[3].services == ("arm-tool",)
    assert results[1].services == ("api", "worker")
    assert exit_code(results) == EXIT_ERROR


def _scanned(scans: Scans, name: str, policy: Policy) -> ImageResult:
    return ImageResult(name, apply_policy(scans.report, policy, name), services=("svc",))


def test_exit_code_is_the_worst_across_images(scans: Scans) -> None:
    clean = _scanned(scans, "a:1", Policy())
    failing = _scanned(scans, "b:1", Policy(fail_on=Severity.UNKNOWN))
    missing = ImageResult("c:1", error="not found")
    assert exit_code([clean]) == EXIT_OK
    assert exit_code([clean, failing]) == EXIT_FINDINGS
    assert exit_code([clean, failing, missing]) == EXIT_ERROR
    assert exit_code([clean], Policy(fail_on=Severity.UNKNOWN)) == EXIT_FINDINGS
    assert exit_code([]) == EXIT_OK


def test_combined_json_holds_each_report_and_loads_back(scans: Scans) -> None:
    schema = json.loads(
        (Path(__file__).parent / "report" / "hullscan-report.schema.json").read_text()
    )
    project = load_project(working_dir=SHOP, environ={})
    results = [
        _scanned(scans, "redis", Policy(fail_on=Severity.UNKNOWN)),
        _scanned(scans, "registry.example.com:5000/shop/web:1.4.2", Policy()),
        ImageResult("alpine:3.19.1", error="alpine:3.19.1 was not found", services=("arm-tool",)),
    ]
    options = ReportOptions(started_at=STARTED, finished_at=STARTED)
    document = combined_document(results, options, project=project)
    assert document["kind"] == "hullscan-multi"
    assert [i["status"] for i in document["images"]] == ["scanned", "scanned", "error"]
    for image in document["images"][:2]:
        jsonschema.validate(image["report"], schema)
    assert document["images"][2]["error"] == "alpine:3.19.1 was not found"
    assert document["summary"]["total"] == 110
    assert document["summary"]["failed_gate"] == ["redis"]
    assert document["summary"]["exit_code"] == EXIT_ERROR
    assert document["project"]["skipped"][0]["service"] == "docs"
    text = render_combined("json", results, options, project=project)
    loaded = parse_reports(text, "all.json")
    assert [r.image for r in loaded] == ["redis", "registry.example.com:5000/shop/web:1.4.2"]
    assert len(loaded[0].active_findings) == 55


def test_combined_gitlab_report_is_valid_and_reuses_the_ids(
    scans: Scans, shared_schemas: Path
) -> None:
    from hullscan.report import gitlab as gitlab_report

    schema = json.loads(
        (shared_schemas / "gitlab" / "15.0.7" / "container-scanning-report-format.json").read_text()
    )
    options = ReportOptions(started_at=STARTED, finished_at=STARTED)
    first = _scanned(scans, "redis", Policy())
    second = _scanned(scans, "alpine:3.19", Policy(ignore_unfixed=False))
    missing = ImageResult("nginx:1", error="nginx:1 was not found")
    document = combined_gitlab_document([first, second, missing], options)
    jsonschema.Draft7Validator(schema).validate(document)
    assert len(document["vulnerabilities"]) == 110
    single = gitlab_report.to_document(first.report, options)  # type: ignore[arg-type]
    assert document["vulnerabilities"][:55] == single["vulnerabilities"]
    assert len({v["id"] for v in document["vulnerabilities"]}) == 110  # the image is in the id
    assert {v["location"]["image"] for v in document["vulnerabilities"]} == {"redis", "alpine:3.19"}
    assert {"level": "warn", "value": "nginx:1: not scanned: nginx:1 was not found"} in document[
        "scan"
    ]["messages"]
    assert document["scan"]["status"] == "success"
    failed_only = combined_gitlab_document([missing], options)
    jsonschema.Draft7Validator(schema).validate(failed_only)
    assert failed_only["scan"]["status"] == "failure"


def test_combined_table(scans: Scans) -> None:
    project = load_project(working_dir=SHOP, environ={})
    results = [_scanned(scans, "redis", Policy()), ImageResult("nginx:1", error="not found")]
    text = render_combined("table", results, ReportOptions(), project=project)
    assert "nginx:1: not scanned: not found" in text
    assert "service docs: skipped: built from ./docs" in text
    assert text.rstrip().endswith("1 of 2 image(s) scanned, 55 finding(s) (55 UNKNOWN)")


def test_report_filenames_are_safe() -> None:
    assert (
        report_filename("registry.example.com:5000/team/app:1.2")
        == "registry.example.com_5000_team_app_1.2.json"
    )
    assert report_filename("../../etc/passwd", ".txt") == "etc_passwd.txt"


def test_image_result_name_prefers_the_report(scans: Scans) -> None:
    result = _scanned(scans, "redis", Policy())
    assert result.name == "redis"
    assert replace(result, report=None).name == "redis"
