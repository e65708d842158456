"""Dataset files fetched from web addresses, and only from public hosts.

See `IMPORT_URL_ALLOWLIST` for exceptions. Every redirect hop is checked again, and the connection
goes to the very address that was checked, so a host name that resolves differently a moment later
(DNS rebinding) cannot reach the inside. `private_destination` applies the same rule to webhooks.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from django.conf import settings

from labeling.sources.streams import OpenedSource, SourceError

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "Quorum-import/1"

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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


def open_url(url: str, *, timeout: float) -> OpenedSource:
    """Open an http(s) URL of a public host, following redirects; raise SourceError."""
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
    return OpenedSource(reader=response, total=total, name=_display(current), close=close)


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
