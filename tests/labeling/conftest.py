"""Fixtures of the labeling tests, defined once for the app: a customer with a signed-in member,
a project with published instructions, a media folder of the test's own, the writer of the queue's
claims and submissions, and local servers for imports (a small web server and an S3 fake, moto).

The builders are in tests.labeling.factories and, for people, tests.factories.
"""

import http.client
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from labeling.services.projects import instructions_publish
from tests.labeling.factories import make_customer, make_customer_user, make_project

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
SERVER_START_TIMEOUT = 30.0
TASKS = b'{"text": "first"}\n{"text": "second"}\n'


@pytest.fixture
def customer():
    return make_customer("Acme Data")


@pytest.fixture
def customer_client(client, customer):
    client.force_login(make_customer_user(customer))
    return client


@pytest.fixture
def project():
    """An active project (labels cat, dog, bird) whose instructions are published."""
    project = make_project()
    instructions_publish(project=project, body_markdown="Pick the **animal**.", actor=None)
    return project


@pytest.fixture
def media_of_the_test(settings, tmp_path):
    """Keep this test's uploads and export files apart from every other test's."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


class FileServer:
    """A local web server in a thread; what each path answers is in `_Handler.do_GET`."""

    def __init__(self, root: Path, tls: ssl.SSLContext | None = None) -> None:
        self.root = root
        self.hosts_seen: list[str] = []
        self.cert_path: Path | None = None
        handler = type("Handler", (_Handler,), {"files": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> "FileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    files: FileServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.files.hosts_seen.append(self.headers.get("Host", ""))
        self.close_connection = True
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        if parts[0] == "files" and (self.files.root / parts[1]).is_file():
            body = (self.files.root / parts[1]).read_bytes()
            self._answer(200, body, {"Content-Length": str(len(body))})
        elif parts[0] == "chunked":
            self._send_chunked(int(parts[1]))
        elif parts[0] == "claims-huge":
            # Says a gigabyte is coming and sends nothing: only a client that reads would notice.
            self._answer(200, b"", {"Content-Length": str(10**9)})
        elif parts[0] == "redirect":
            self._answer(302, b"", {"Location": query["to"][0], "Content-Length": "0"})
        elif parts[0] == "hops":
            left = int(parts[1])
            if left:
                self._answer(302, b"", {"Location": f"/hops/{left - 1}", "Content-Length": "0"})
            else:
                self._answer(200, TASKS, {"Content-Length": str(len(TASKS))})
        elif parts[0] == "gzip":
            self._answer(200, b"\x1f\x8b", {"Content-Encoding": "gzip", "Content-Length": "2"})
        elif parts[0] == "slow":
            time.sleep(3)
            self._answer(200, TASKS, {"Content-Length": str(len(TASKS))})
        else:
            self._answer(404, b"not here", {"Content-Length": "8"})

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_chunked(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = b'{"text": "x"}\n' * 4096
        sent = 0
        try:
            while sent < size:
                chunk = piece[: size - sent]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading at its limit


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    (tmp_path / "tasks.jsonl").write_bytes(TASKS)
    with FileServer(tmp_path) as server:
        yield server


@pytest.fixture
def allow_local(settings):
    settings.IMPORT_URL_ALLOWLIST = ["127.0.0.1"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                probe.request("GET", "/moto-api/")
                probe.getresponse().read()
                probe.close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on {endpoint}")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3(moto_endpoint, settings, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.AWS_S3_ENDPOINT_URL = moto_endpoint
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    client.create_bucket(Bucket="quorum-imports")
    yield client
    for item in client.list_objects_v2(Bucket="quorum-imports").get("Contents", []):
        client.delete_object(Bucket="quorum-imports", Key=item["Key"])
    client.delete_bucket(Bucket="quorum-imports")


@pytest.fixture(params=["one_statement", "transactional"])
def queue_writer(request, settings):
    """Run a queue test through each writer of claims and submissions: the one-statement writer
    (PostgreSQL only; elsewhere its run is skipped, the other being the same) and the
    transactional writer that every database has."""
    from django.db import connection

    if request.param == "one_statement" and connection.vendor != "postgresql":
        pytest.skip("the one-statement writer exists on PostgreSQL only")
    settings.QUORUM_QUEUE_STATEMENTS = request.param == "one_statement"
    return request.param
