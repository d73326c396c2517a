"""The DB as an OCI artifact in any registry: how it is laid out, pushed and pulled.

Layout (modelled on Trivy's ghcr.io/aquasecurity/trivy-db, which ships one gzip'd tar
layer and an empty config, and improved where that costs updates a download):

    manifest  application/vnd.oci.image.manifest.v1+json, artifactType ARTIFACT_TYPE
      config  CONFIG_MEDIA_TYPE: the export metadata JSON (schema, built_at, sources, digests)
      layers  [LAYER_MEDIA_TYPE: the zstd-compressed SQLite file, title hullscan.db.zst]
      annotations  org.opencontainers.image.created (= built_at), io.hullscan.db.schema,
                   io.hullscan.db.digest (sha256 of the uncompressed DB)

Because the layer digest and the DB's own digest are in the manifest, an update that
finds nothing new costs one HEAD (or one small GET) and downloads nothing; because the
schema version is there too, an incompatible DB is refused before its layer is fetched.
Like Trivy, a reference without a tag means the tag of this hullscan's schema version
(`oci://ghcr.io/org/hullscan-db` -> `:1`), so an old hullscan never pulls a DB it cannot
read while a newer one pulls `:2`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from hullscan.db.artifact import (
    ARTIFACT_TYPE,
    CONFIG_MEDIA_TYPE,
    LAYER_MEDIA_TYPE,
    DbArtifact,
    DbMetadata,
    file_digest,
    read_artifact,
)
from hullscan.db.schema import SCHEMA_VERSION
from hullscan.errors import DbError, SourceError
from hullscan.image.blobstream import VerifyingBlobStream
from hullscan.image.registry import RegistryOptions
from hullscan.image.registry_push import FileSlice, RepositoryClient
from hullscan.image.source import MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST
from hullscan.reference import ImageReference, parse_image_reference

SCHEME = "oci://"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_TITLE = "org.opencontainers.image.title"
ANNOTATION_SCHEMA = "io.hullscan.db.schema"
ANNOTATION_DB_DIGEST = "io.hullscan.db.digest"
_ACCEPT = f"{MEDIA_OCI_MANIFEST}, {MEDIA_OCI_INDEX}, {MEDIA_DOCKER_LIST}"


def parse_oci_reference(value: str, *, default_tag: str | None = None) -> ImageReference:
    """`oci://REGISTRY/REPO[:TAG|@DIGEST]` (the scheme optional) -> a reference with a tag.

    No tag and no digest: the schema version as tag (or `default_tag`).
    """
    text = value.strip()
    if text.lower().startswith(SCHEME):
        text = text[len(SCHEME) :]
    if not text:
        raise DbError(f"{value!r} is not an OCI reference (oci://REGISTRY/REPOSITORY[:TAG])")
    try:
        ref = parse_image_reference(text)
    except SourceError as exc:
        raise DbError(f"{value!r} is not an OCI reference: {exc}") from None
    if not ref.tag and not ref.digest:
        ref = ref._replace(tag=default_tag or str(SCHEMA_VERSION))
    return ref


def display(ref: ImageReference) -> str:
    return SCHEME + str(ref)


@dataclass(frozen=True)
class PublishResult:
    """Where the DB went: `reference` (oci://…:tag) and the manifest digest it has there."""

    reference: str
    manifest_digest: str
    config_digest: str
    layer_digest: str
    layer_size: int
    layer_uploaded: bool  # False: the registry already had this exact artifact


def manifest_for(metadata: DbMetadata, config: bytes, config_digest: str) -> bytes:
    """The OCI image manifest of a DB artifact (see the module docstring)."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": len(config)},
        "layers": [
            {
                "mediaType": LAYER_MEDIA_TYPE,
                "digest": metadata.artifact_digest,
                "size": metadata.artifact_size,
                "annotations": {ANNOTATION_TITLE: metadata.artifact_name},
            }
        ],
        "annotations": {
            ANNOTATION_CREATED: metadata.built_at,
            ANNOTATION_SCHEMA: str(metadata.schema_version),
            ANNOTATION_DB_DIGEST: metadata.db_digest,
        },
    }
    return json.dumps(manifest, indent=2).encode()


def publish_db(
    artifact: DbArtifact | Path,
    reference: str,
    options: RegistryOptions | None = None,
    *,
    chunk_size: int | None = None,
    env: Mapping[str, str] | None = None,
) -> PublishResult:
    """Push an exported DB to `oci://REGISTRY/REPO[:TAG]` (default tag: the schema version).

    The artifact is checked against its metadata first (a stale or corrupt export is never
    published); blobs the registry has are skipped (HEAD); the layer goes up monolithic,
    or in `chunk_size` pieces for registries that limit request sizes. The manifest is
    written last, so the tag never names a DB whose blobs are not all there.
    """
    if not isinstance(artifact, DbArtifact):
        artifact = read_artifact(Path(artifact))
    metadata = artifact.metadata
    ref = parse_oci_reference(reference, default_tag=str(metadata.schema_version))
    if ref.digest:
        raise DbError(f"{reference}: publish to a tag, not a digest")
    digest, size = file_digest(artifact.path)
    if (digest, size) != (metadata.artifact_digest, metadata.artifact_size):
        raise DbError(
            f"{artifact.path} is not the artifact {artifact.metadata_path} describes ({digest}, "
            f"{size} bytes; the metadata says {metadata.artifact_digest}, "
            f"{metadata.artifact_size} bytes): export it again"
        )
    config = metadata.to_json()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    what = f"publishing the DB to {display(ref)}"
    try:
        with RepositoryClient(ref, options, push=True, env=env) as client:
            client.upload_blob(config, config_digest)
            layer = client.upload_blob(
                FileSlice(artifact.path, 0, size), metadata.artifact_digest, chunk_size=chunk_size
            )
            manifest = manifest_for(metadata, config, config_digest)
            manifest_digest = client.put_manifest(manifest, MEDIA_OCI_MANIFEST, ref.tag, what)
    except SourceError as exc:
        raise DbError(str(exc)) from None
    return PublishResult(
        reference=display(ref),
        manifest_digest=manifest_digest,
        config_digest=config_digest,
        layer_digest=metadata.artifact_digest,
        layer_size=size,
        layer_uploaded=layer.uploaded,
    )


@dataclass(frozen=True)
class RemoteManifest:
    """A published DB's manifest: enough to decide whether anything needs downloading."""

    digest: str
    config_digest: str
    config_size: int
    layer_digest: str
    layer_size: int
    db_digest: str  # from the annotation; "" when the publisher did not set it
    schema_version: int | None


class OciDbSource:
    """A DB published in a registry, read with the registry client's auth, TLS and retries."""

    def __init__(
        self,
        reference: str,
        options: RegistryOptions | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.ref = parse_oci_reference(reference)
        self.label = display(self.ref)
        given = parse_oci_reference(reference, default_tag="-")
        #: no tag given: the schema version was assumed, which a 404 should say
        self.tag_assumed = given.tag == "-"
        self.client = RepositoryClient(self.ref, options, env=env)

    def close(self) -> None:
        self.client.close()

    def head(self) -> str | None:
        """The manifest digest the registry announces for the tag, without a body."""
        if self.ref.digest:
            return self.ref.digest
        return self.client.head_manifest(self.ref.tag, _ACCEPT, f"checking {self.label}")

    def manifest(self) -> RemoteManifest:
        what = f"reading {self.label}"
        target = self.ref.digest or self.ref.tag
        missing = ""
        if self.tag_assumed:
            missing = (
                f"tag {self.ref.tag} of {self.ref.repository} (no tag was given: this hullscan "
                f"reads DB schema {SCHEMA_VERSION}, published under tag {SCHEMA_VERSION})"
            )
        raw, digest, media_type = self.client.get_manifest(target, _ACCEPT, what, missing)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DbError(f"{self.label}: the manifest is not JSON") from None
        if not isinstance(body, dict):
            raise DbError(f"{self.label}: the manifest is not a JSON object")
        kind = media_type or str(body.get("mediaType", ""))
        if kind in (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST) or "manifests" in body:
            raise DbError(
                f"{self.label} is an image index, not a hullscan DB artifact (publish it with "
                "`hullscan db publish`)"
            )
        config = body.get("config")
        layers = body.get("layers")
        config_type = config.get("mediaType") if isinstance(config, dict) else None
        if (
            not isinstance(config, dict)
            or config_type != CONFIG_MEDIA_TYPE
            or not isinstance(layers, list)
        ):
            found = body.get("artifactType") or config_type or kind or "unknown"
            raise DbError(
                f"{self.label} is not a hullscan DB artifact (it is {found!r}); expected a "
                f"config of type {CONFIG_MEDIA_TYPE}"
            )
        dbs = [x for x in layers if isinstance(x, dict) and x.get("mediaType") == LAYER_MEDIA_TYPE]
        if len(dbs) != 1:
            raise DbError(f"{self.label}: expected one {LAYER_MEDIA_TYPE} layer, found {len(dbs)}")
        annotations = body.get("annotations")
        notes: dict[str, Any] = annotations if isinstance(annotations, dict) else {}
        schema = str(notes.get(ANNOTATION_SCHEMA, ""))
        try:
            return RemoteManifest(
                digest=digest,
                config_digest=str(config["digest"]),
                config_size=int(config["size"]),
                layer_digest=str(dbs[0]["digest"]),
                layer_size=int(dbs[0]["size"]),
                db_digest=str(notes.get(ANNOTATION_DB_DIGEST, "")),
                schema_version=int(schema) if schema.isdigit() else None,
            )
        except (KeyError, TypeError, ValueError):
            raise DbError(f"{self.label}: the manifest's descriptors are malformed") from None

    def metadata(self, manifest: RemoteManifest) -> DbMetadata:
        """The config blob: the export metadata, which must describe the manifest's layer."""
        what = f"{self.label}: DB metadata {manifest.config_digest}"
        data = self.client.read_blob(manifest.config_digest, what)
        metadata = DbMetadata.from_json(data, what)
        if (metadata.artifact_digest, metadata.artifact_size) != (
            manifest.layer_digest,
            manifest.layer_size,
        ):
            raise DbError(
                f"{self.label}: the DB metadata describes {metadata.artifact_digest}, the "
                f"manifest's layer is {manifest.layer_digest}; refusing it (re-publish)"
            )
        return metadata

    def open_layer(self, metadata: DbMetadata) -> BinaryIO:
        """The compressed DB as a stream that resumes dropped connections and checks the digest."""
        what = f"{self.label}: DB layer {metadata.artifact_digest}"
        stream = VerifyingBlobStream(
            lambda offset: self.client.open_blob(metadata.artifact_digest, offset, what),
            metadata.artifact_digest,
            metadata.artifact_size,
            what,
            max_resumes=self.client.options.max_retries,
        )
        return cast(BinaryIO, stream)
