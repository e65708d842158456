"""Import sources: uploaded files, web addresses (with the private-network guard) and cloud objects."""

import datetime
import importlib.util
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from labeling.sources.opening import open_source
from labeling.sources.streams import SourceError
from tests.labeling.conftest import TASKS, FileServer


def read_all(kind: str, location: str, *, max_bytes: int = 10**7, timeout: float = 5.0):
    with open_source(kind, location, max_bytes=max_bytes, timeout=timeout) as (stream, total):
        return stream.read(), total, stream.bytes_read


# --- Uploads --------------------------------------------------------------------------------


def test_upload_reads_the_local_file_with_its_size(tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_bytes(TASKS)

    content, total, bytes_read = read_all("upload", str(path))

    assert content == TASKS
    assert total == len(TASKS)
    assert bytes_read == len(TASKS)


def test_upload_that_is_gone_is_a_source_error_naming_the_file(tmp_path):
    with pytest.raises(SourceError) as caught:
        read_all("upload", str(tmp_path / "gone.csv"))

    assert caught.value.message == "The uploaded file gone.csv is no longer there."


def test_upload_larger_than_the_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * 2_000_001)

    with (
        pytest.raises(SourceError, match=r"larger than the limit of 1\.907 MB"),
        open_source("upload", str(path), max_bytes=2_000_000, timeout=5),
    ):
        pass


def test_unknown_kind_is_a_value_error_naming_the_kinds():
    with pytest.raises(ValueError, match="upload, url, cloud"):
        read_all("ftp", "ftp://example.com/x")


def test_stream_reads_in_pieces_and_counts_them(tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_bytes(TASKS)

    with open_source("upload", str(path), max_bytes=100, timeout=5) as (stream, _):
        first = stream.read(5)
        buffer = bytearray(10)
        filled = stream.readinto(buffer)
        counted = stream.bytes_read

    assert first == TASKS[:5]
    assert bytes(buffer[:filled]) == TASKS[5:15]
    assert counted == 15


# --- Web addresses --------------------------------------------------------------------------


def test_url_reads_a_file_from_an_allowlisted_host(allow_local, file_server):
    content, total, bytes_read = read_all("url", f"{file_server.base}/files/tasks.jsonl")

    assert content == TASKS
    assert total == len(TASKS)
    assert bytes_read == len(TASKS)


def test_url_allowlist_takes_networks(settings, file_server):
    settings.IMPORT_URL_ALLOWLIST = ["10.0.0.0/8", "127.0.0.0/8"]

    content, _, _ = read_all("url", f"{file_server.base}/files/tasks.jsonl")

    assert content == TASKS


def test_url_allowlist_takes_host_names(settings, file_server):
    settings.IMPORT_URL_ALLOWLIST = ["localhost"]

    content, _, _ = read_all("url", f"http://localhost:{file_server.port}/files/tasks.jsonl")

    assert content == TASKS


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/tasks.jsonl",
        "http://localhost/tasks.jsonl",
        "http://10.0.0.1/tasks.jsonl",
        "http://192.168.1.1/tasks.jsonl",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/tasks.jsonl",
        "http://[::ffff:127.0.0.1]/tasks.jsonl",
        "https://0.0.0.0/tasks.jsonl",
        "http://100.100.100.200/latest/meta-data/",
    ],
)
def test_url_to_a_private_or_local_address_is_refused(settings, url):
    settings.IMPORT_URL_ALLOWLIST = []

    with pytest.raises(SourceError) as caught:
        read_all("url", url)

    assert caught.value.message.startswith(f"{url} points to a private or local network address")
    assert caught.value.message.endswith("only public addresses can be imported.")


def test_url_allowlist_is_read_at_call_time(settings):
    settings.IMPORT_URL_ALLOWLIST = ["192.168.0.0/16"]

    with pytest.raises(SourceError, match=r"\(10\.0\.0\.1\)"):
        read_all("url", "http://10.0.0.1/tasks.jsonl")


def test_url_other_than_http_is_refused():
    with pytest.raises(SourceError) as caught:
        read_all("url", "ftp://files.example.com/tasks.jsonl")

    assert caught.value.message == (
        "Only http:// and https:// web addresses can be imported; "
        "ftp://files.example.com/tasks.jsonl is not one."
    )


def test_url_redirect_to_a_refused_address_is_refused(allow_local, file_server):
    url = f"{file_server.base}/redirect?to=http://169.254.169.254/latest/meta-data/"

    with pytest.raises(SourceError) as caught:
        read_all("url", url)

    assert caught.value.message.startswith(
        "http://169.254.169.254/latest/meta-data/ points to a private or local network address"
    )


def test_url_follows_up_to_five_redirects(allow_local, file_server):
    content, _, _ = read_all("url", f"{file_server.base}/hops/5")

    assert content == TASKS


def test_url_with_more_than_five_redirects_is_refused(allow_local, file_server):
    with pytest.raises(SourceError) as caught:
        read_all("url", f"{file_server.base}/hops/6")

    assert caught.value.message == f"{file_server.base}/hops/6 redirects more than 5 times."


def test_url_content_length_over_the_limit_is_refused_before_reading(allow_local, file_server):
    with (
        pytest.raises(SourceError, match=r"The file is larger than the limit of 1 MB\."),
        open_source("url", f"{file_server.base}/claims-huge", max_bytes=1024 * 1024, timeout=5),
    ):
        pass


def test_url_without_content_length_is_stopped_at_the_limit(allow_local, file_server):
    url = f"{file_server.base}/chunked/3000000"

    with open_source("url", url, max_bytes=1024 * 1024, timeout=5) as (stream, total):
        with pytest.raises(SourceError) as caught:
            while stream.read(64 * 1024):
                pass
        bytes_read = stream.bytes_read

    assert total is None
    assert caught.value.message == "The file is larger than the limit of 1 MB."
    assert bytes_read == 1024 * 1024 + 1


def test_url_without_content_length_under_the_limit_is_read_whole(allow_local, file_server):
    content, total, _ = read_all("url", f"{file_server.base}/chunked/100000")

    assert total is None
    assert len(content) == 100000


def test_url_not_found_is_a_clear_error(allow_local, file_server):
    with pytest.raises(SourceError) as caught:
        read_all("url", f"{file_server.base}/files/nothing.csv")

    assert caught.value.message == (
        f"{file_server.base}/files/nothing.csv answered with HTTP status 404 Not Found."
    )


def test_url_errors_leave_out_the_query_where_signatures_live(allow_local, file_server):
    with pytest.raises(SourceError) as caught:
        read_all("url", f"{file_server.base}/files/nothing.csv?X-Amz-Signature=s3cr3t")

    assert "s3cr3t" not in caught.value.message


def test_url_serving_compressed_content_is_refused(allow_local, file_server):
    with pytest.raises(SourceError, match=r"compressed \(gzip\)"):
        read_all("url", f"{file_server.base}/gzip")


def test_url_that_does_not_answer_in_time_is_an_error(allow_local, file_server):
    with pytest.raises(SourceError) as caught:
        read_all("url", f"{file_server.base}/slow", timeout=0.5)

    assert caught.value.message == f"{file_server.base}/slow did not answer within 0.5 seconds."


def test_url_connects_to_the_address_it_checked_not_a_rebound_one(
    allow_local, file_server, monkeypatch
):
    # The first lookup answers the allowlisted 127.0.0.1; any later lookup of the same name would
    # answer a refused address, as a rebinding DNS server does.
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def rebinding_getaddrinfo(host, port, *args, **kwargs):
        if host == "files.example":
            host = next(answers, "10.255.255.1")
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)

    content, _, _ = read_all("url", f"http://files.example:{file_server.port}/files/tasks.jsonl")

    assert content == TASKS
    assert file_server.hosts_seen == [f"files.example:{file_server.port}"]


def _self_signed_certificate(tmp_path: Path, host: str) -> tuple[Path, Path]:
    """Write a certificate for `host` and its key; return (certificate, key) paths."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def https_server(tmp_path: Path, monkeypatch) -> Iterator[FileServer]:
    """An https server for files.example (a name that resolves here to 127.0.0.1 only)."""
    cert_path, key_path = _self_signed_certificate(tmp_path, "files.example")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_path, key_path)
    real_getaddrinfo = socket.getaddrinfo

    def local_getaddrinfo(host, port, *args, **kwargs):
        return real_getaddrinfo(
            "127.0.0.1" if host == "files.example" else host, port, *args, **kwargs
        )

    monkeypatch.setattr(socket, "getaddrinfo", local_getaddrinfo)
    (tmp_path / "tasks.jsonl").write_bytes(TASKS)
    with FileServer(tmp_path, tls=tls) as server:
        server.cert_path = cert_path
        yield server


def test_https_checks_the_certificate_of_the_original_host(allow_local, https_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(https_server.cert_path))

    content, _, _ = read_all("url", f"https://files.example:{https_server.port}/files/tasks.jsonl")

    assert content == TASKS
    assert https_server.hosts_seen == [f"files.example:{https_server.port}"]


def test_https_with_an_untrusted_certificate_is_refused(allow_local, https_server, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)

    with pytest.raises(SourceError) as caught:
        read_all("url", f"https://files.example:{https_server.port}/files/tasks.jsonl")

    assert caught.value.message.startswith(
        f"Could not connect to https://files.example:{https_server.port}/files/tasks.jsonl: "
    )
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message


# --- Cloud objects --------------------------------------------------------------------------


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def test_s3_object_is_streamed_with_its_size(s3):
    s3.put_object(Bucket="quorum-imports", Key="batches/june tasks.jsonl", Body=TASKS)

    content, total, bytes_read = read_all("cloud", "s3://quorum-imports/batches/june tasks.jsonl")

    assert content == TASKS
    assert total == len(TASKS)
    assert bytes_read == len(TASKS)


def test_s3_missing_key_is_a_source_error_naming_the_uri(s3):
    with pytest.raises(SourceError) as caught:
        read_all("cloud", "s3://quorum-imports/nothing.jsonl")

    assert caught.value.message == "s3://quorum-imports/nothing.jsonl does not exist."


def test_s3_missing_bucket_is_a_source_error_naming_the_uri(s3):
    with pytest.raises(SourceError) as caught:
        read_all("cloud", "s3://no-such-bucket/tasks.jsonl")

    assert caught.value.message == "The bucket of s3://no-such-bucket/tasks.jsonl does not exist."


def test_s3_object_larger_than_the_limit_is_refused_before_reading(s3):
    s3.put_object(Bucket="quorum-imports", Key="big.jsonl", Body=b"x" * 2048)

    with (
        pytest.raises(SourceError, match="larger than the limit"),
        open_source("cloud", "s3://quorum-imports/big.jsonl", max_bytes=1024, timeout=5),
    ):
        pass


@pytest.mark.parametrize(
    "uri",
    ["s3://bucket-only", "s3:///key", "gs://bucket", "azure://account/container", "ftp://x/y"],
)
def test_cloud_uri_that_is_incomplete_is_refused(uri):
    with pytest.raises(SourceError) as caught:
        read_all("cloud", uri)

    assert caught.value.message.startswith(f"{uri} is not a cloud object address")


def test_azure_account_that_could_steer_the_request_elsewhere_is_refused():
    with pytest.raises(SourceError, match="not name a valid Azure account"):
        read_all("cloud", "azure://evil.example#/container/blob")


@pytest.mark.skipif(
    installed("google.cloud.storage"),
    reason="google-cloud-storage is installed",
)
def test_gs_without_its_library_names_the_extra():
    with pytest.raises(SourceError) as caught:
        read_all("cloud", "gs://quorum-imports/tasks.jsonl")

    assert caught.value.message == (
        "Reading gs:// needs the 'gcs' extra: pip install 'quorum[gcs]'."
    )


@pytest.mark.skipif(
    installed("azure.storage.blob"),
    reason="azure-storage-blob is installed",
)
def test_azure_without_its_library_names_the_extra():
    with pytest.raises(SourceError) as caught:
        read_all("cloud", "azure://quorumdata/imports/tasks.jsonl")

    assert caught.value.message == (
        "Reading azure:// needs the 'azure' extra: pip install 'quorum[azure]'."
    )
