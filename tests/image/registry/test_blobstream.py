"""The verifying blob stream on scripted responses: resume, restart, size and digest checks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from hullscan.errors import SourceError
from hullscan.image.blobstream import VerifyingBlobStream
from hullscan.image.source import check_digest, checked_digest

BLOB = bytes(range(256)) * 40
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


class Parts(httpx.SyncByteStream):
    """Yields the given pieces, then raises a transport error if `then_fail`."""

    def __init__(self, parts: list[bytes], then_fail: bool) -> None:
        self.parts = parts
        self.then_fail = then_fail

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts
        if self.then_fail:
            raise httpx.RemoteProtocolError("peer closed connection")


class Script:
    """An opener answering each call from a list of (status, body pieces, fails?)."""

    def __init__(self, *answers: tuple[int, list[bytes], bool]) -> None:
        self.answers = list(answers)
        self.offsets: list[int] = []

    def __call__(self, offset: int) -> httpx.Response:
        self.offsets.append(offset)
        status, parts, fail = self.answers.pop(0)
        headers = {}
        if status == 206:
            headers["Content-Range"] = f"bytes {offset}-{len(BLOB) - 1}/{len(BLOB)}"
        request = httpx.Request("GET", "https://registry.test/v2/x/blobs/" + DIGEST)
        return httpx.Response(status, headers=headers, stream=Parts(parts, fail), request=request)


def stream(script: Script, digest: str = DIGEST, size: int = len(BLOB)) -> VerifyingBlobStream:
    return VerifyingBlobStream(script, digest, size, "blob under test", max_resumes=3)


def read_all(blob: VerifyingBlobStream, step: int = 1000) -> bytes:
    out = bytearray()
    while chunk := blob.read(step):
        out += chunk
    return bytes(out)


def test_clean_read_verifies() -> None:
    script = Script((200, [BLOB[:5000], BLOB[5000:]], False))
    assert read_all(stream(script)) == BLOB
    assert script.offsets == [0]


def test_drop_mid_blob_resumes_from_the_byte_handed_out() -> None:
    script = Script((200, [BLOB[:3000]], True), (206, [BLOB[3000:]], False))
    assert read_all(stream(script)) == BLOB
    assert script.offsets == [0, 3000]


def test_body_that_ends_early_is_resumed_too() -> None:
    script = Script((200, [BLOB[:1234]], False), (206, [BLOB[1234:]], False))
    assert read_all(stream(script)) == BLOB
    assert script.offsets == [0, 1234]


def test_no_range_support_after_handing_out_bytes_fails() -> None:
    script = Script((200, [BLOB[:3000]], True), (200, [BLOB], False))
    with pytest.raises(SourceError, match=r"dropped after 3000 .*cannot resume"):
        read_all(stream(script))


def test_drop_before_any_byte_restarts_from_zero() -> None:
    script = Script((200, [], True), (200, [BLOB], False))
    assert read_all(stream(script)) == BLOB
    assert script.offsets == [0, 0]


def test_resumes_are_bounded() -> None:
    script = Script(*[(200, [], True)] * 10)
    with pytest.raises(SourceError, match=r"gave up after 4 attempts"):
        read_all(stream(script))
    assert len(script.offsets) == 4


def test_digest_mismatch_at_eof() -> None:
    corrupt = b"\xff" + BLOB[1:]
    script = Script((200, [corrupt], False))
    with pytest.raises(SourceError, match=rf"digest mismatch: expected {DIGEST}"):
        read_all(stream(script))


def test_more_bytes_than_the_descriptor_says_is_refused_early() -> None:
    script = Script((200, [BLOB, b"extra"], False))
    with pytest.raises(SourceError, match=r"more than the 10240 bytes"):
        read_all(stream(script))


def test_size_mismatch_when_descriptor_says_more() -> None:
    script = Script((200, [BLOB], False), *[(206, [], False)] * 4)
    with pytest.raises(SourceError):
        read_all(stream(script, size=len(BLOB) + 10))


def test_nothing_is_fetched_until_read_and_close_releases() -> None:
    script = Script((200, [BLOB], False))
    blob = stream(script)
    assert script.offsets == []
    blob.read(10)
    blob.close()
    assert blob.closed


def test_malformed_or_unsupported_digests_are_refused() -> None:
    for bad in ("md5:abc", "sha256:../../etc", "sha256:" + "A" * 64, None, 42):
        with pytest.raises(SourceError, match="invalid or unsupported digest"):
            checked_digest(bad, "x")
    with pytest.raises(SourceError, match="digest mismatch"):
        check_digest(b"other", DIGEST, "manifest")
    check_digest(BLOB, DIGEST, "manifest")
    sha512 = "sha512:" + hashlib.sha512(BLOB).hexdigest()
    assert read_all(stream(Script((200, [BLOB], False)), digest=sha512)) == BLOB
