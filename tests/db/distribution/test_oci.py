"""Publish and pull the DB as an OCI artifact through a real docker-registry (TLS + auth)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from pathlib import Path

import pytest

from hullscan.db.artifact import ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE, export_db
from hullscan.db.distribution import DbSource, load_state, update_db
from hullscan.db.oci import manifest_for, publish_db
from hullscan.db.reader import VulnDB
from hullscan.db.schema import SCHEMA_VERSION
from hullscan.errors import DbError, SourceError
from hullscan.image.registry_push import RepositoryClient
from hullscan.image.source import MEDIA_OCI_MANIFEST
from tests.image.registry.servers import FaultProxy

from .conftest import BuildDb, RegistryEnv


def repo(env: RegistryEnv, name: str = "") -> str:
    """A fresh repository per test: the session registry is shared."""
    return f"oci://{env.host}/{name or 'db-' + uuid.uuid4().hex[:8]}"


def exported(tmp_path: Path, make_db: BuildDb, tag: str = "a", n: int = 50) -> Path:
    db = make_db(tmp_path / f"build-{tag}" / "hullscan.db", n, tag)
    return export_db(db, tmp_path / f"export-{tag}" / "hullscan.db.zst").path


def test_publish_then_update_installs_the_same_db(
    tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv
) -> None:
    artifact = exported(tmp_path, make_db)
    ref = repo(basic_registry) + ":nightly"
    published = publish_db(artifact, ref, basic_registry.options())
    assert published.reference == ref
    assert published.layer_uploaded

    dest = tmp_path / "cache" / "hullscan.db"
    result = update_db(dest, [DbSource.oci(ref)], options=basic_registry.options())
    assert result.updated
    assert result.downloaded == artifact.stat().st_size
    source_db = tmp_path / "build-a" / "hullscan.db"
    assert dest.read_bytes() == source_db.read_bytes()
    with VulnDB.open(dest) as db:
        assert db.info().sources[0].advisories == 50
    assert load_state(dest).manifest_digest == published.manifest_digest


def test_manifest_layout_and_media_types(
    tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv
) -> None:
    artifact = exported(tmp_path, make_db)
    ref = repo(basic_registry)
    published = publish_db(artifact, ref, basic_registry.options())
    assert published.reference == f"{ref}:{SCHEMA_VERSION}"  # default tag: the schema version
    with RepositoryClient(ref.removeprefix("oci://"), basic_registry.options()) as client:
        raw, digest, media_type = client.get_manifest(
            str(SCHEMA_VERSION), MEDIA_OCI_MANIFEST, "test"
        )
        manifest = json.loads(raw)
        config = json.loads(client.read_blob(manifest["config"]["digest"], "config"))
    assert digest == published.manifest_digest
    assert media_type == MEDIA_OCI_MANIFEST
    assert manifest["artifactType"] == ARTIFACT_TYPE
    assert manifest["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == LAYER_MEDIA_TYPE
    assert layer["annotations"]["org.opencontainers.image.title"] == "hullscan.db.zst"
    assert layer["digest"] == "sha256:" + hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert manifest["annotations"]["io.hullscan.db.schema"] == str(SCHEMA_VERSION)
    assert config["schema_version"] == SCHEMA_VERSION
    assert config["artifact"]["digest"] == layer["digest"]


def test_second_update_downloads_nothing(
    tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv
) -> None:
    """Through a counting proxy: the second update is one HEAD of the manifest."""
    artifact = exported(tmp_path, make_db)
    ref = repo(basic_registry)
    publish_db(artifact, ref, basic_registry.options())
    proxy = FaultProxy(basic_registry.host, basic_registry.pki.cert)
    try:
        via = DbSource.oci(ref.replace(basic_registry.host, proxy.host))
        options = basic_registry.options(insecure_registries=(proxy.host,))
        dest = tmp_path / "cache" / "hullscan.db"
        assert update_db(dest, [via], options=options).updated
        assert any("/blobs/" in r.path for r in proxy.seen)
        proxy.reset()

        again = update_db(dest, [via], options=options)
        assert not again.updated and again.downloaded == 0
        assert {(r.method, "/manifests/" in r.path) for r in proxy.seen} == {("HEAD", True)}
    finally:
        proxy.stop()


def test_republishing_skips_blobs_the_registry_has_and_moves_the_tag(
    tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv
) -> None:
    ref = repo(basic_registry)
    artifact = exported(tmp_path, make_db, "a")
    first = publish_db(artifact, ref + ":latest", basic_registry.options())
    again = publish_db(artifact, ref + ":copy", basic_registry.options())
    assert first.layer_uploaded and not again.layer_uploaded
    assert again.manifest_digest == first.manifest_digest

    dest = tmp_path / "cache" / "hullscan.db"
    update_db(dest, [ref + ":latest"], options=basic_registry.options())
    newer = publish_db(exported(tmp_path, make_db, "b"), ref + ":latest", basic_registry.options())
    assert newer.layer_uploaded
    result = update_db(dest, [ref + ":latest"], options=basic_registry.options())
    assert result.updated
    assert dest.read_bytes() == (tmp_path / "build-b" / "hullscan.db").read_bytes()


def test_chunked_upload(tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv) -> None:
    artifact = exported(tmp_path, make_db, n=3000)
    size = artifact.stat().st_size
    assert size > 3 * 4096
    ref = repo(basic_registry)
    published = publish_db(artifact, ref, basic_registry.options(), chunk_size=4096)
    assert published.layer_uploaded and published.layer_size == size
    dest = tmp_path / "cache" / "hullscan.db"
    update_db(dest, [ref], options=basic_registry.options())
    assert dest.read_bytes() == (tmp_path / "build-a" / "hullscan.db").read_bytes()


def test_wrong_password_is_refused_without_the_secret(
    tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv
) -> None:
    options = dataclasses.replace(basic_registry.options(), password="wrong-secret")
    with pytest.raises(DbError, match="refused to let 'hulltest' push") as info:
        publish_db(exported(tmp_path, make_db), repo(basic_registry), options)
    assert "wrong-secret" not in str(info.value)


def test_token_registry_push_needs_credentials_and_pull_is_anonymous(
    tmp_path: Path, make_db: BuildDb, token_registry: RegistryEnv
) -> None:
    artifact = exported(tmp_path, make_db)
    ref = f"oci://{token_registry.host}/public/hullscan-db:1"
    with pytest.raises(DbError, match="authentication required"):
        publish_db(artifact, ref, token_registry.options(user=False))
    publish_db(artifact, ref, token_registry.options())
    assert token_registry.tokens is not None
    scopes = {s for r in token_registry.tokens.policy.requests for s in r.get("scope", [])}
    assert "repository:public/hullscan-db:pull,push" in scopes

    dest = tmp_path / "cache" / "hullscan.db"
    assert update_db(dest, [ref], options=token_registry.options(user=False)).updated


def test_fallback_to_the_next_repository(
    tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv
) -> None:
    good = repo(basic_registry)
    publish_db(exported(tmp_path, make_db), good, basic_registry.options())
    missing = repo(basic_registry, "nothing-here")
    dest = tmp_path / "cache" / "hullscan.db"
    result = update_db(dest, [missing, good], options=basic_registry.options())
    assert result.updated and result.source == f"{good}:{SCHEMA_VERSION}"

    with pytest.raises(DbError, match=r"any source:\n.*nothing-here.*\n.*unknown-too"):
        update_db(
            tmp_path / "other" / "hullscan.db",
            [missing, repo(basic_registry, "unknown-too")],
            options=basic_registry.options(),
        )


def test_incompatible_schema_is_refused_before_the_layer_is_fetched(
    tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv
) -> None:
    """A manifest announcing schema N+1: no blob is read, the message says to upgrade."""
    artifact = exported(tmp_path, make_db)
    ref = repo(basic_registry)
    from hullscan.db.artifact import read_artifact

    metadata = dataclasses.replace(read_artifact(artifact).metadata, schema_version=99)
    config = metadata.to_json()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    with RepositoryClient(ref.removeprefix("oci://"), basic_registry.options(), push=True) as c:
        c.upload_blob(config, config_digest)
        c.upload_blob(artifact.read_bytes(), metadata.artifact_digest)
        c.put_manifest(
            manifest_for(metadata, config, config_digest), MEDIA_OCI_MANIFEST, "99", "test"
        )
    proxy = FaultProxy(basic_registry.host, basic_registry.pki.cert)
    try:
        via = ref.replace(basic_registry.host, proxy.host) + ":99"
        options = basic_registry.options(insecure_registries=(proxy.host,))
        with pytest.raises(DbError, match=r"has schema 99; this hullscan reads \d+: upgrade"):
            update_db(tmp_path / "cache" / "hullscan.db", [via], options=options)
        assert not [r for r in proxy.seen if "/blobs/" in r.path]
    finally:
        proxy.stop()
    assert not (tmp_path / "cache" / "hullscan.db").exists()


def test_an_image_is_not_a_db(tmp_path: Path, basic_registry: RegistryEnv) -> None:
    ref = repo(basic_registry)
    config = b"{}"
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest,
            "size": 2,
        },
        "layers": [],
    }
    with RepositoryClient(ref.removeprefix("oci://"), basic_registry.options(), push=True) as c:
        c.upload_blob(config, digest)
        tag = str(SCHEMA_VERSION)
        c.put_manifest(json.dumps(manifest).encode(), MEDIA_OCI_MANIFEST, tag, "test")
    with pytest.raises(DbError, match="not a hullscan DB artifact"):
        update_db(tmp_path / "hullscan.db", [ref], options=basic_registry.options())
    with pytest.raises(DbError, match=rf"tag {tag} of .* \(no tag was given: .* under tag {tag}"):
        update_db(
            tmp_path / "hullscan.db", [repo(basic_registry)], options=basic_registry.options()
        )


def test_untrusted_certificate_says_to_pass_ca_cert(
    tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv
) -> None:
    options = dataclasses.replace(basic_registry.options(), ca_cert=None)
    with pytest.raises(DbError, match=r"not trusted.*--ca-cert"):
        publish_db(exported(tmp_path, make_db), repo(basic_registry), options)


def test_publish_refuses_an_artifact_that_does_not_match_its_metadata(
    tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv
) -> None:
    artifact = exported(tmp_path, make_db)
    artifact.write_bytes(artifact.read_bytes()[:-1])
    with pytest.raises(DbError, match="export it again"):
        publish_db(artifact, repo(basic_registry), basic_registry.options())


def test_a_dropped_layer_download_resumes(
    tmp_path: Path, make_db: BuildDb, basic_registry: RegistryEnv
) -> None:
    from tests.image.registry.servers import ProxyAction, ProxyRequest

    artifact = exported(tmp_path, make_db, n=2000)
    ref = repo(basic_registry)
    publish_db(artifact, ref, basic_registry.options())
    proxy = FaultProxy(basic_registry.host, basic_registry.pki.cert)

    def cut(request: ProxyRequest) -> ProxyAction | None:
        if "/blobs/" in request.path and "Range" not in request.headers:
            return ProxyAction(drop_after=1000)
        return None

    try:
        proxy.add(cut, times=5)
        options = basic_registry.options(insecure_registries=(proxy.host,))
        dest = tmp_path / "cache" / "hullscan.db"
        via = ref.replace(basic_registry.host, proxy.host)
        result = update_db(dest, [via], options=options)
        assert result.updated
        ranges = [r.headers.get("Range") for r in proxy.seen if "/blobs/" in r.path]
        assert "bytes=1000-" in ranges
    finally:
        proxy.stop()
    assert dest.read_bytes() == (tmp_path / "build-a" / "hullscan.db").read_bytes()


def test_a_missing_blob_is_a_clear_404(basic_registry: RegistryEnv) -> None:
    with (
        RepositoryClient(f"{basic_registry.host}/x/y", basic_registry.options()) as client,
        pytest.raises(SourceError, match=r"blob sha256:0+ of x/y not found on 127\.0\.0\.1"),
    ):
        client.read_blob("sha256:" + "0" * 64, "a blob")
