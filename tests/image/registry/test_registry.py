"""Pulling from a real registry (docker-registry + skopeo): references, platforms, TLS, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hullscan import scan
from hullscan.errors import SourceError
from hullscan.image.archive import open_archive
from hullscan.image.registry import RegistryOptions, open_registry_image
from hullscan.image.source import Platform
from hullscan.model import Inventory
from tests.image.registry.conftest import MULTI, SAMPLE, BasicEnv
from tests.image.registry.servers import PASSWORD, USER

NO_ENV: dict[str, str] = {}


def options(env: BasicEnv, **changes: object) -> RegistryOptions:
    base = RegistryOptions(
        username=USER,
        password=PASSWORD,
        ca_cert=env.pki.cert,
        docker_config=None,
        backoff_base=0.01,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def inventory_view(inventory: Inventory) -> tuple[object, ...]:
    packages = sorted((p.type, p.name, p.version, p.arch, p.layer) for p in inventory.packages)
    return (inventory.distro, tuple(packages))


def test_registry_image_scans_like_its_oci_archive(basic_env: BasicEnv) -> None:
    with open_archive(basic_env.archive) as archive:
        expected = scan.index(archive)
    ref = f"{basic_env.host}/{SAMPLE}"
    with open_registry_image(ref, options(basic_env), env=NO_ENV) as image:
        got = scan.index(image)
        artifact = image.artifact
    assert inventory_view(got) == inventory_view(expected)
    assert got.packages  # the comparison means something
    assert artifact.kind == "registry"
    assert artifact.reference == ref
    assert artifact.repo_tags == (ref,)
    assert artifact.platform == "linux/amd64"
    assert artifact.image_id == expected.artifact.image_id
    assert artifact.manifest_digest == expected.artifact.manifest_digest
    assert [layer.diff_id for layer in artifact.layers] == [
        layer.diff_id for layer in expected.artifact.layers
    ]
    assert all(layer.size > 0 and layer.digest for layer in artifact.layers)


def test_pull_by_digest_and_by_tag_plus_digest(basic_env: BasicEnv) -> None:
    with open_archive(basic_env.archive) as archive:
        digest = archive.artifact.manifest_digest
    for ref in (f"{basic_env.host}/sample@{digest}", f"{basic_env.host}/sample:nope@{digest}"):
        with open_registry_image(ref, options(basic_env), env=NO_ENV) as image:
            assert image.artifact.manifest_digest == digest
            assert image.artifact.repo_tags == (ref,)


def test_multiplatform_index_default_is_linux_amd64(basic_env: BasicEnv) -> None:
    ref = f"{basic_env.host}/{MULTI}"
    with open_registry_image(ref, options(basic_env), env=NO_ENV) as image:
        inventory = scan.index(image)
    assert inventory.artifact.platform == "linux/amd64"
    assert inventory.artifact.manifest_digest == basic_env.platforms["linux/amd64"]
    assert len(inventory.artifact.layers) == 3
    assert "libc-utils" not in {p.name for p in inventory.packages}


@pytest.mark.parametrize("wanted", ["linux/arm64", "linux/arm64/v8"])
def test_platform_selects_the_other_image(basic_env: BasicEnv, wanted: str) -> None:
    ref = f"{basic_env.host}/{MULTI}"
    chosen = options(basic_env, platform=Platform.parse(wanted))
    with open_registry_image(ref, chosen, env=NO_ENV) as image:
        inventory = scan.index(image)
    assert inventory.artifact.platform == "linux/arm64/v8"
    assert inventory.artifact.manifest_digest == basic_env.platforms["linux/arm64/v8"]
    assert len(inventory.artifact.layers) == 1
    assert {"libc-utils", "musl-utils", "scanelf"} <= {p.name for p in inventory.packages}


def test_platform_missing_from_the_index_lists_what_exists(basic_env: BasicEnv) -> None:
    chosen = options(basic_env, platform=Platform.parse("linux/s390x"))
    with pytest.raises(SourceError, match=r"no image for platform linux/s390x.*linux/arm64/v8"):
        open_registry_image(f"{basic_env.host}/{MULTI}", chosen, env=NO_ENV)


def test_platform_that_a_single_manifest_is_not_for_is_refused(basic_env: BasicEnv) -> None:
    chosen = options(basic_env, platform=Platform.parse("linux/arm64"))
    with pytest.raises(SourceError, match=r"is for linux/amd64, not the requested .*linux/arm64"):
        open_registry_image(f"{basic_env.host}/{SAMPLE}", chosen, env=NO_ENV)


def test_missing_tag_says_which_image_registry_and_tag(basic_env: BasicEnv) -> None:
    with pytest.raises(SourceError) as caught:
        open_registry_image(f"{basic_env.host}/sample:2", options(basic_env), env=NO_ENV)
    message = str(caught.value)
    assert f"image {basic_env.host}/sample:2" in message
    assert f"tag 2 of sample not found on {basic_env.host}" in message
    assert "does it exist? is the name right?" in message
    assert "MANIFEST_UNKNOWN" in message


def test_missing_repository_is_a_clear_404(basic_env: BasicEnv) -> None:
    with pytest.raises(
        SourceError,
        match=r"tag latest of nosuch/repo not found.*(NAME|MANIFEST)_UNKNOWN.*is the name right",
    ):
        open_registry_image(f"{basic_env.host}/nosuch/repo", options(basic_env), env=NO_ENV)


def test_no_credentials_is_authentication_required(basic_env: BasicEnv) -> None:
    anonymous = options(basic_env, username=None, password=None)
    with pytest.raises(SourceError) as caught:
        open_registry_image(f"{basic_env.host}/{SAMPLE}", anonymous, env=NO_ENV)
    message = str(caught.value)
    assert f"authentication required for {basic_env.host}" in message
    assert "--username/--password" in message and "docker login" in message


def test_wrong_password_is_authentication_failed_without_the_secret(
    basic_env: BasicEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    wrong = options(basic_env, password="Wr0ng-" + PASSWORD)
    with pytest.raises(SourceError) as caught:
        open_registry_image(f"{basic_env.host}/{SAMPLE}", wrong, env=NO_ENV)
    message = str(caught.value)
    assert f"authentication failed for {basic_env.host} as {USER!r}" in message
    for text in (message, repr(wrong), caplog.text):
        assert PASSWORD not in text


def test_credentials_from_the_environment(basic_env: BasicEnv) -> None:
    env = {"HULLSCAN_USERNAME": USER, "HULLSCAN_PASSWORD": PASSWORD}
    anonymous = options(basic_env, username=None, password=None)
    with open_registry_image(f"{basic_env.host}/{SAMPLE}", anonymous, env=env) as image:
        assert len(image.artifact.layers) == 3


def test_untrusted_certificate_says_to_pass_ca_cert(basic_env: BasicEnv) -> None:
    untrusted = options(basic_env, ca_cert=None, max_retries=0)
    with pytest.raises(
        SourceError, match=r"TLS certificate of 127\.0\.0\.1:\d+ is not trusted.*--ca-cert"
    ):
        open_registry_image(f"{basic_env.host}/{SAMPLE}", untrusted, env=NO_ENV)


def test_ca_cert_may_be_a_directory_of_certificates(basic_env: BasicEnv) -> None:
    from_dir = options(basic_env, ca_cert=basic_env.pki.cert_dir)
    with open_registry_image(f"{basic_env.host}/{SAMPLE}", from_dir, env=NO_ENV) as image:
        assert image.artifact.layers


def test_layers_stream_in_parallel_over_one_client(basic_env: BasicEnv) -> None:
    with open_registry_image(f"{basic_env.host}/{SAMPLE}", options(basic_env), env=NO_ENV) as image:
        first = scan.index(image, workers=3)
        second = scan.index(image, workers=3)  # the token/auth state is reused
    assert inventory_view(first) == inventory_view(second)


def test_nothing_listens_is_a_connection_error_after_bounded_retries(tmp_path: Path) -> None:
    from tests.image.registry.servers import free_port

    host = f"127.0.0.1:{free_port()}"
    quick = RegistryOptions(
        docker_config=None, insecure_registries=(host,), max_retries=2, backoff_base=0.01
    )
    with pytest.raises(SourceError, match=r"connection error.*still failing after 3 attempts"):
        open_registry_image(f"{host}/sample:1", quick, env=NO_ENV)
