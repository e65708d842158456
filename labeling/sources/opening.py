"""Where dataset files come from: an uploaded file, a web address or a cloud object.

`open_source` hands back one binary stream that counts what was read and stops at the size limit;
web addresses are fetched as `labeling.sources.web` says, cloud objects as `labeling.sources.cloud`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from labeling.sources.cloud import open_cloud
from labeling.sources.streams import OpenedSource, SourceError, SourceStream, limit_message
from labeling.sources.web import open_url

KINDS = ("upload", "url", "cloud")


@contextmanager
def open_source(
    kind: str, location: str, *, max_bytes: int, timeout: float
) -> Iterator[tuple[SourceStream, int | None]]:
    """Open an import's input; yield the stream and its total size in bytes when known.

    kind is "upload" (location: a local file path), "url" (http or https) or "cloud" (s3://bucket/key,
    gs://bucket/key, azure://account/container/blob). Raises SourceError (also while reading) with a
    message for the person importing, and ValueError for an unknown kind.
    """
    if kind == "upload":
        opened = _open_upload(location)
    elif kind == "url":
        opened = open_url(location, timeout=timeout)
    elif kind == "cloud":
        opened = open_cloud(location, timeout=timeout)
    else:
        raise ValueError(f"Unknown source kind {kind!r}; use one of {', '.join(KINDS)}.")
    stream = SourceStream(
        opened.reader,
        max_bytes=max_bytes,
        name=opened.name,
        read_errors=opened.read_errors,
        on_close=opened.close,
    )
    with stream:
        if opened.total is not None and opened.total > max_bytes:
            raise SourceError(limit_message(max_bytes))
        yield stream, opened.total


# --- Uploads ----------------------------------------------------------------------------------


def _open_upload(path: str) -> OpenedSource:
    name = os.path.basename(path) or path
    try:
        file = open(path, "rb")  # noqa: SIM115  # closed by the SourceStream that wraps it
    except FileNotFoundError:
        raise SourceError(f"The uploaded file {name} is no longer there.") from None
    except OSError as exc:
        raise SourceError(f"The uploaded file {name} cannot be read: {exc.strerror}.") from None
    return OpenedSource(
        reader=file, total=os.fstat(file.fileno()).st_size, name=name, close=file.close
    )
