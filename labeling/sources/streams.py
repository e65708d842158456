"""The stream an import reads: counted, limited in size, and failing with a message for people.

Each kind of source (`labeling.sources.web`, `labeling.sources.cloud`, uploads in
`labeling.sources.opening`) opens its object as an `OpenedSource`; `open_source` wraps that in
one `SourceStream`.
"""

from __future__ import annotations

import http.client
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_MEGABYTE = 1024 * 1024


class SourceError(Exception):
    """The file could not be read; `message` says why, for the person importing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Reader(Protocol):
    """What a source hands over to read from: a file, an HTTP response, a cloud download."""

    def read(self, size: int = ..., /) -> bytes: ...


def limit_message(max_bytes: int) -> str:
    """Return what the person importing is told when the file is over `max_bytes`."""
    return f"The file is larger than the limit of {max_bytes / _MEGABYTE:.4g} MB."


class SourceStream(io.RawIOBase):
    """A read-only binary stream that counts `bytes_read` and refuses to go past `max_bytes`.

    Errors of the underlying transport become SourceError naming the source.
    """

    def __init__(
        self,
        raw: Reader,
        *,
        max_bytes: int,
        name: str,
        read_errors: tuple[type[BaseException], ...] = (OSError, http.client.HTTPException),
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.bytes_read = 0
        self.max_bytes = max_bytes
        self.name = name
        self._raw = raw
        self._read_errors = read_errors
        self._on_close = on_close

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        # Read at most one byte past the limit: enough to know the file is too large.
        wanted = min(len(view), self.max_bytes + 1 - self.bytes_read)
        try:
            data = self._raw.read(wanted)
        except TimeoutError:
            raise SourceError(f"Reading {self.name} timed out.") from None
        except self._read_errors as exc:
            raise SourceError(f"Reading {self.name} failed: {exc}") from exc
        count = len(data)
        view[:count] = data
        self.bytes_read += count
        if self.bytes_read > self.max_bytes:
            raise SourceError(limit_message(self.max_bytes))
        return count

    def close(self) -> None:
        if not self.closed and self._on_close is not None:
            self._on_close()
        super().close()


@dataclass
class OpenedSource:
    """A source's object, opened: what to read, its size when known, its name, how to close."""

    reader: Reader
    total: int | None
    name: str
    close: Callable[[], None]
    read_errors: tuple[type[BaseException], ...] = (OSError, http.client.HTTPException)
