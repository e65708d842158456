"""Where dataset files come from: an uploaded file, a web address or a cloud object.

`open_source` hands back one binary stream that counts what was read and stops at the size limit.
Web addresses are fetched only from public hosts (see `IMPORT_URL_ALLOWLIST` for exceptions): every
redirect hop is checked again, and the connection goes to the very address that was checked, so a
host name that resolves differently a moment later (DNS rebinding) cannot reach the inside.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import os
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urljoin, urlsplit

from django.conf import settings

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

KINDS = ("upload", "url", "cloud")
MAX_REDIRECTS = 5
CLOUD_CHUNK_BYTES = 4 * 1024 * 1024
_MEGABYTE = 1024 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "Quorum-import/1"
# Names as the clouds allow them; checked so that a name can never steer a request elsewhere.
_S3_BUCKET = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,253}[a-zA-Z0-9]")
_GCS_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_AZURE_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_AZURE_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SourceError(Exception):
    """The file could not be read; `message` says why, for the person importing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Reader(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def _limit_message(max_bytes: int) -> str:
    return f"The file is larger than the limit of {max_bytes / _MEGABYTE:.4g} MB."


class SourceStream(io.RawIOBase):
    """A read-only binary stream that counts `bytes_read` and refuses to go past `max_bytes`.

    Errors of the underlying transport become SourceError naming the source.
    """

    def __init__(
        self,
        raw: _Reader,
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
            raise SourceError(_limit_message(self.max_bytes))
        return count

    def close(self) -> None:
        if not self.closed and self._on_close is not None:
            self._on_close()
        super().close()


@dataclass
class _Opened:
    reader: _Reader
    total: int | None
    name: str
    close: Callable[[], None]
    read_errors: tuple[type[BaseException], ...] = (OSError, http.client.HTTPException)


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
        opened = _open_url(location, timeout=timeout)
    elif kind == "cloud":
        opened = _open_cloud(location, timeout=timeout)
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
            raise SourceError(_limit_message(max_bytes))
        yield stream, opened.total


# --- Uploads ----------------------------------------------------------------------------------


def _open_upload(path: str) -> _Opened:
    name = os.path.basename(path) or path
    try:
        file = open(path, "rb")  # noqa: SIM115  # closed by the SourceStream that wraps it
    except FileNotFoundError:
        raise SourceError(f"The uploaded file {name} is no longer there.") from None
    except OSError as exc:
        raise SourceError(f"The uploaded file {name} cannot be read: {exc.strerror}.") from None
    return _Opened(reader=file, total=os.fstat(file.fileno()).st_size, name=name, close=file.close)


# --- Web addresses ----------------------------------------------------------------------------


def _display(url: str) -> str:
    """The URL without credentials, query or fragment: presigned URLs carry secrets there."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return re.sub(r"//[^/@]*@", "//", url.split("?", 1)[0].split("#", 1)[0])[:300]
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}{parts.path}"[:300]


class _Allowlist:
    """Host names and networks (`IMPORT_URL_ALLOWLIST`) that may be fetched although private."""

    def __init__(self, entries: list[str]) -> None:
        self.hosts: set[str] = set()
        self.networks: list[IpNetwork] = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.hosts.add(entry.rstrip("."))

    @classmethod
    def from_settings(cls) -> _Allowlist:
        return cls(list(getattr(settings, "IMPORT_URL_ALLOWLIST", [])))

    def allows_host(self, host: str) -> bool:
        return host.rstrip(".") in self.hosts

    def allows_address(self, address: IpAddress) -> bool:
        candidates: list[IpAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.networks
        )


def _is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64) reach what that one does.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not _is_public(embedded):
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        # Shared address space (100.64.0.0/10) and the like: not private, but not the internet.
        or not address.is_global
    )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _resolve(host: str, port: int, url: str) -> list[IpAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise SourceError(f"The host of {_display(url)} could not be found.") from None
    addresses: list[IpAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise SourceError(f"The host of {_display(url)} could not be found.")
    return addresses


def private_destination(host: str, port: int, *, allowed: Iterable[str]) -> str | None:
    """Return a private or local address that `host` resolves to, or None when all are public.

    For other outgoing calls (webhooks) that must not reach the internal network; `allowed` lists
    host names and networks that may be private. Raises SourceError when the host cannot be found.
    """
    allowlist = _Allowlist(list(allowed))
    if allowlist.allows_host(host):
        return None
    for address in _resolve(host, port, f"//{host}"):
        if not _is_public(address) and not allowlist.allows_address(address):
            return str(address)
    return None


def _check_url(url: str, allowlist: _Allowlist) -> _Target:
    """Return where to connect for `url`, or raise SourceError if it may not be fetched."""
    shown = _display(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SourceError(f"{shown} is not a valid web address.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SourceError(
            f"Only http:// and https:// web addresses can be imported; {shown} is not one."
        )
    if not parts.hostname:
        raise SourceError(f"{shown} has no host name.")
    host = parts.hostname
    if not _is_ip_literal(host):
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise SourceError(f"{shown} has a host name that is not valid.") from None
    port = port or (443 if scheme == "https" else 80)
    addresses = _resolve(host, port, url)
    if not allowlist.allows_host(host):
        for address in addresses:
            if not _is_public(address) and not allowlist.allows_address(address):
                shown_address = (
                    address.ipv4_mapped
                    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped
                    else address
                )
                raise SourceError(
                    f"{shown} points to a private or local network address ({shown_address}); "
                    "only public addresses can be imported."
                )
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=~?")
    return _Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        addresses=tuple(str(a) for a in addresses),
    )


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to an address checked beforehand, keeping the Host header and TLS
    name (SNI and certificate check) of the original host."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        address: str,
        timeout: float,
        tls: ssl.SSLContext | None,
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.default_port = 443 if tls is not None else 80
        self._address = address
        self._tls = tls

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _request(target: _Target, timeout: float) -> tuple[_PinnedConnection, http.client.HTTPResponse]:
    shown = _display(target.url)
    tls = ssl.create_default_context() if target.scheme == "https" else None
    error: OSError | None = None
    for address in target.addresses:
        conn = _PinnedConnection(
            target.host, target.port, address=address, timeout=timeout, tls=tls
        )
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            error = TimeoutError(f"no answer within {timeout:g} seconds")
            continue
        except OSError as exc:
            conn.close()
            error = exc
            continue
        try:
            conn.request(
                "GET",
                target.path,
                headers={
                    "User-Agent": _USER_AGENT,
                    "Accept": "*/*",
                    "Accept-Encoding": "identity",
                },
            )
            return conn, conn.getresponse()
        except TimeoutError:
            conn.close()
            raise SourceError(f"{shown} did not answer within {timeout:g} seconds.") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise SourceError(f"Fetching {shown} failed: {exc}") from exc
    raise SourceError(f"Could not connect to {shown}: {error}.")


def _open_url(url: str, *, timeout: float) -> _Opened:
    allowlist = _Allowlist.from_settings()
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        target = _check_url(current, allowlist)
        conn, response = _request(target, timeout)
        if response.status not in _REDIRECT_STATUSES:
            break
        location = response.getheader("Location")
        response.close()
        conn.close()
        if not location:
            raise SourceError(
                f"{_display(current)} answered with a redirect ({response.status}) but no address."
            )
        current = urljoin(current, location.strip())
    else:
        raise SourceError(f"{_display(url)} redirects more than {MAX_REDIRECTS} times.")

    def close() -> None:
        response.close()
        conn.close()

    try:
        _check_response(response, current)
    except BaseException:
        close()
        raise
    length = response.getheader("Content-Length")
    total = int(length) if length and length.strip().isdigit() else None
    return _Opened(reader=response, total=total, name=_display(current), close=close)


def _check_response(response: http.client.HTTPResponse, url: str) -> None:
    shown = _display(url)
    if not 200 <= response.status < 300:
        raise SourceError(
            f"{shown} answered with HTTP status {response.status} {response.reason}".rstrip() + "."
        )
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise SourceError(
            f"{shown} sent the file compressed ({encoding}); serve it uncompressed to import it."
        )


# --- Cloud objects ----------------------------------------------------------------------------


def _open_cloud(uri: str, *, timeout: float) -> _Opened:
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


def _open_s3(uri: str, bucket: str, key: str, *, timeout: float) -> _Opened:
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
    return _Opened(
        reader=body,
        total=int(total) if total is not None else None,
        name=uri,
        close=body.close,
        read_errors=(OSError, BotoCoreError),
    )


def _open_gcs(uri: str, bucket: str, key: str, *, timeout: float) -> _Opened:
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
    return _Opened(
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


def _open_azure(uri: str, account: str, container: str, blob: str, *, timeout: float) -> _Opened:
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
    return _Opened(
        reader=_ChunkReader(downloader.chunks()),
        total=downloader.size,
        name=uri,
        close=client.close,
        read_errors=(OSError, AzureError),
    )
