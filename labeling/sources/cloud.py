"""Dataset files read from cloud objects: S3, Google Cloud Storage and Azure Blob Storage.

Each cloud's SDK is an optional extra of the package, imported when an object of that cloud is read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from labeling.sources.streams import OpenedSource, SourceError

CLOUD_CHUNK_BYTES = 4 * 1024 * 1024
# Names as the clouds allow them; checked so that a name can never steer a request elsewhere.
_S3_BUCKET = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,253}[a-zA-Z0-9]")
_GCS_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_AZURE_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_AZURE_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")


def open_cloud(uri: str, *, timeout: float) -> OpenedSource:
    """Open s3://bucket/key, gs://bucket/key or azure://account/container/blob; raise SourceError."""
    scheme, separator, rest = uri.partition("://")
    scheme = scheme.lower()
    if separator and scheme in ("s3", "gs"):
        bucket, _, key = rest.partition("/")
        if bucket and key:
            if scheme == "s3":
                if not _S3_BUCKET.fullmatch(bucket):
                    raise SourceError(f"{uri} does not name a valid S3 bucket.")
                return _open_s3(uri, bucket, key, timeout=timeout)
            if not _GCS_BUCKET.fullmatch(bucket):
                raise SourceError(f"{uri} does not name a valid Cloud Storage bucket.")
            return _open_gcs(uri, bucket, key, timeout=timeout)
    if separator and scheme == "azure":
        account, _, rest = rest.partition("/")
        container, _, blob = rest.partition("/")
        if account and container and blob:
            if not _AZURE_ACCOUNT.fullmatch(account) or not _AZURE_CONTAINER.fullmatch(container):
                raise SourceError(f"{uri} does not name a valid Azure account and container.")
            return _open_azure(uri, account, container, blob, timeout=timeout)
    raise SourceError(
        f"{uri[:300]} is not a cloud object address; use s3://bucket/key, gs://bucket/key "
        "or azure://account/container/blob."
    )


def _missing_extra(scheme: str, extra: str) -> SourceError:
    return SourceError(
        f"Reading {scheme}:// needs the '{extra}' extra: pip install 'quorum[{extra}]'."
    )


def _open_s3(uri: str, bucket: str, key: str, *, timeout: float) -> OpenedSource:
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    except ImportError:
        raise _missing_extra("s3", "s3") from None
    client = boto3.client(
        "s3",
        endpoint_url=getattr(settings, "AWS_S3_ENDPOINT_URL", None) or None,
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )
    try:
        answer = client.get_object(Bucket=bucket, Key=key)
    except NoCredentialsError:
        raise SourceError(f"No AWS credentials are set up to read {uri}.") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code == "NoSuchBucket":
            raise SourceError(f"The bucket of {uri} does not exist.") from None
        if code in ("NoSuchKey", "404", "NotFound"):
            raise SourceError(f"{uri} does not exist.") from None
        if code in ("AccessDenied", "403", "Forbidden"):
            raise SourceError(f"Quorum is not allowed to read {uri}.") from None
        raise SourceError(f"Reading {uri} failed: {error.get('Message') or code}.") from None
    except BotoCoreError as exc:
        raise SourceError(f"Reading {uri} failed: {exc}") from None
    body = answer["Body"]
    total = answer.get("ContentLength")
    return OpenedSource(
        reader=body,
        total=int(total) if total is not None else None,
        name=uri,
        close=body.close,
        read_errors=(OSError, BotoCoreError),
    )


def _open_gcs(uri: str, bucket: str, key: str, *, timeout: float) -> OpenedSource:
    try:
        from google.api_core import exceptions as google_errors
        from google.auth.exceptions import GoogleAuthError
        from google.cloud import storage
    except ImportError:
        raise _missing_extra("gs", "gcs") from None
    try:
        client = storage.Client()
        blob = client.bucket(bucket).get_blob(key, timeout=timeout)
        if blob is None:
            raise SourceError(f"{uri} does not exist.")
        # Pin the generation read: a file replaced while importing fails instead of mixing.
        reader = blob.open(
            "rb",
            chunk_size=CLOUD_CHUNK_BYTES,
            timeout=timeout,
            if_generation_match=blob.generation,
        )
    except google_errors.NotFound:
        raise SourceError(f"{uri} does not exist.") from None
    except google_errors.Forbidden:
        raise SourceError(f"Quorum is not allowed to read {uri}.") from None
    except (google_errors.GoogleAPIError, GoogleAuthError, OSError) as exc:
        raise SourceError(f"Reading {uri} failed: {exc}") from None
    return OpenedSource(
        reader=reader,
        total=blob.size,
        name=uri,
        close=reader.close,
        read_errors=(OSError, google_errors.GoogleAPIError),
    )


class _ChunkReader:
    """read(n) over an iterator of byte chunks, holding at most one chunk."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return self._pending + b"".join(self._chunks)
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._pending = chunk
        out, self._pending = self._pending[:size], self._pending[size:]
        return out


def _azure_credential() -> Any:
    key = os.environ.get("AZURE_STORAGE_KEY")
    if key:
        return key
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        return None  # anonymous: public containers and SAS-less public blobs only
    return DefaultAzureCredential()


def _open_azure(
    uri: str, account: str, container: str, blob: str, *, timeout: float
) -> OpenedSource:
    try:
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            ResourceNotFoundError,
        )
        from azure.storage.blob import BlobClient
    except ImportError:
        raise _missing_extra("azure", "azure") from None
    options: dict[str, Any] = {
        "connection_timeout": timeout,
        "read_timeout": timeout,
        # Bound memory: the first request and every later one fetch at most this much.
        "max_single_get_size": CLOUD_CHUNK_BYTES,
        "max_chunk_get_size": CLOUD_CHUNK_BYTES,
    }
    try:
        connection_string = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if connection_string:
            client = BlobClient.from_connection_string(
                connection_string, container_name=container, blob_name=blob, **options
            )
            if client.account_name != account:
                raise SourceError(
                    f"{uri} is in the account {account}, but AZURE_STORAGE_CONNECTION_STRING "
                    f"is for {client.account_name}."
                )
        else:
            client = BlobClient(
                f"https://{account}.blob.core.windows.net",
                container_name=container,
                blob_name=blob,
                credential=_azure_credential(),
                **options,
            )
        downloader = client.download_blob()
    except ResourceNotFoundError:
        raise SourceError(f"{uri} does not exist.") from None
    except ClientAuthenticationError:
        raise SourceError(f"Quorum is not allowed to read {uri}.") from None
    except (AzureError, ValueError) as exc:
        # ValueError: a malformed AZURE_STORAGE_CONNECTION_STRING or credential.
        raise SourceError(f"Reading {uri} failed: {exc}") from None
    return OpenedSource(
        reader=_ChunkReader(downloader.chunks()),
        total=downloader.size,
        name=uri,
        close=client.close,
        read_errors=(OSError, AzureError),
    )
