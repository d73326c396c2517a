"""A registry blob as a verified, resumable byte stream.

Bytes are hashed as they are handed to the caller, and reaching the end of the blob checks
both its length and its digest, so a corrupt, truncated or swapped blob is a SourceError,
never a scan of bad data. A connection that drops mid-blob is resumed with a Range request
from the byte reached; a registry that cannot resume (answers 200 instead of 206) only gets
a fresh start when nothing was handed out yet, because handed-out bytes cannot be taken back.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator

import httpx

from hullscan.errors import SourceError
from hullscan.image.source import new_hasher

log = logging.getLogger(__name__)

#: Opens the blob from a byte offset (Range request when > 0); retries are its business.
Opener = Callable[[int], httpx.Response]

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)?/?(\d+|\*)?$")


class VerifyingBlobStream(io.RawIOBase):
    """Streams one blob of known digest and size; verifies both on reaching the end."""

    def __init__(self, opener: Opener, digest: str, size: int, what: str, max_resumes: int) -> None:
        self._opener = opener
        self._digest = digest
        self._hasher, self._expected = new_hasher(digest, what)
        self._size = size
        self._what = what
        self._max_resumes = max_resumes
        self._resumes = 0
        self._offset = 0  # bytes handed to the caller (and hashed)
        self._pending = b""
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._verified or not len(buffer):
            return 0
        while not self._pending:
            chunk = self._next_chunk()
            if chunk is None:
                if self._offset < self._size:  # the body ended early: a drop in disguise
                    self._resume(f"the body ended after {self._offset} bytes")
                    continue
                self._finish()
                return 0
            if self._offset + len(chunk) > self._size:
                raise SourceError(
                    f"{self._what}: the registry sent more than the {self._size} bytes "
                    "its descriptor announces"
                )
            self._pending = chunk
        n = min(len(buffer), len(self._pending))
        piece = self._pending[:n]
        self._pending = self._pending[n:]
        buffer[:n] = piece
        self._hasher.update(piece)
        self._offset += n
        return n

    def _next_chunk(self) -> bytes | None:
        try:
            if self._chunks is None:
                self._open()
            assert self._chunks is not None
            return next(self._chunks, None)
        except httpx.TransportError as exc:
            self._resume(f"{type(exc).__name__}: {exc}")
            return b""

    def _open(self) -> None:
        response = self._opener(self._offset)
        if self._offset:
            start = _range_start(response)
            if response.status_code != 206 or start != self._offset:
                response.close()
                raise SourceError(
                    f"{self._what}: the connection dropped after {self._offset} of {self._size} "
                    "bytes and the registry cannot resume the download (no Range support); "
                    "try again"
                )
        elif response.status_code == 206 and _range_start(response) != 0:
            response.close()
            raise SourceError(f"{self._what}: the registry sent a partial blob without asking")
        self._response = response
        # Raw bytes: the digest covers the blob as stored, never a transfer-decoded form. No
        # chunk size: httpx would hold bytes back to fill a chunk and lose them on a drop.
        self._chunks = response.iter_raw()

    def _resume(self, reason: str) -> None:
        self._drop_response()
        self._pending = b""  # not handed out yet: fetch it again from the offset
        if self._resumes >= self._max_resumes:
            raise SourceError(
                f"{self._what}: the download failed at byte {self._offset} of {self._size} "
                f"({reason}); gave up after {self._resumes + 1} attempts"
            )
        self._resumes += 1
        log.info("%s: %s; resuming at byte %d", self._what, reason, self._offset)

    def _finish(self) -> None:
        self._drop_response()
        if self._offset != self._size:
            raise SourceError(
                f"{self._what}: size mismatch: got {self._offset} bytes, "
                f"the descriptor says {self._size}"
            )
        if self._hasher.hexdigest() != self._expected:
            algorithm = self._digest.partition(":")[0]
            raise SourceError(
                f"{self._what}: digest mismatch: expected {self._digest}, "
                f"content is {algorithm}:{self._hasher.hexdigest()}; refusing to scan it"
            )
        self._verified = True

    def _drop_response(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response = None
        self._chunks = None

    def close(self) -> None:
        self._drop_response()
        super().close()


def _range_start(response: httpx.Response) -> int | None:
    match = _CONTENT_RANGE.match(response.headers.get("content-range", "").strip())
    return int(match.group(1)) if match else None
