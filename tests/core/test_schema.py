"""The OpenAPI schema and the self-hosted API reference (Swagger UI)."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

pytestmark = pytest.mark.django_db

API_PATHS = (
    "/api/v1/tokens/",
    "/api/v1/me/",
    "/api/v1/users/",
    "/api/v1/audit-events/",
    "/api/v1/people/",
)
STATIC_REFERENCE = re.compile(r'(?:src|href)="/static/([^"]+)"')


@pytest.fixture
def fresh_generator_stats():
    """drf-spectacular counts warnings process-wide; start and end each test with none."""
    GENERATOR_STATS.reset()
    yield
    GENERATOR_STATS.reset()


@pytest.fixture
def generated_schema(tmp_path, fresh_generator_stats):
    path = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_openapi_schema_generates_without_warnings(tmp_path, fresh_generator_stats):
    path = tmp_path / "openapi.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))

    schema = yaml.safe_load(path.read_text())
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Quorum API"
    assert set(API_PATHS) <= set(schema["paths"])


def test_openapi_schema_documents_token_authentication(generated_schema):
    schemes = generated_schema.get("components", {}).get("securitySchemes", {}).values()

    assert any(
        scheme.get("type") == "apiKey"
        and scheme.get("in") == "header"
        and scheme.get("name") == "Authorization"
        for scheme in schemes
    ), f"no `Authorization: Token <key>` scheme among {list(schemes)}"


def test_schema_endpoint_answers_anonymous_clients(client):
    response = client.get("/api/v1/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert set(API_PATHS) <= set(schema["paths"])


def test_docs_page_answers_anonymous_clients(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert "/api/v1/schema/" in response.content.decode()


def test_docs_page_loads_swagger_ui_from_our_static_files_not_a_cdn(client):
    response = client.get("/api/v1/docs/")

    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in html
    assert "cdn.jsdelivr" not in html
    assert "unpkg" not in html


def test_every_static_file_the_docs_page_references_exists(client):
    response = client.get("/api/v1/docs/")

    referenced = STATIC_REFERENCE.findall(response.content.decode())
    assert referenced
    missing = [name for name in referenced if finders.find(name) is None]
    assert missing == []
