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
    page = client.get("/api/v1/docs/")
    script = client.get("/api/v1/docs/", {"script": ""})

    assert page.status_code == script.status_code == 200
    assert '<script src="/api/v1/docs/?script="></script>' in page.content.decode()
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in script.content.decode()


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


@pytest.fixture(scope="module")
def schema_document(tmp_path_factory):
    """The schema, generated once for the tests that only read it."""
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    GENERATOR_STATS.reset()
    call_command("spectacular", "--validate", "--file", str(path))
    GENERATOR_STATS.reset()
    return yaml.safe_load(path.read_text())


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_error_response_has_the_error_shape(schema_document):
    error = schema_document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "extra"}

    for method, path, operation in _operations(schema_document):
        for code, response in operation["responses"].items():
            if code >= "400":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)


# Operations that take no session or token: Stripe's webhook deliveries, signed instead.
PUBLIC_OPERATIONS = {("POST", "/api/v1/stripe/webhook/")}


def test_signed_in_operations_document_401_and_403_and_all_document_503(schema_document):
    for method, path, operation in _operations(schema_document):
        if (method, path) in PUBLIC_OPERATIONS:
            assert not operation.get("security"), (method, path)
        else:
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
        assert "Retry-After" in operation["responses"]["503"]["headers"], (method, path)


def test_path_ids_and_pages_document_404_and_bodies_document_400(schema_document):
    project = schema_document["paths"]["/api/v1/projects/{id}/"]
    projects = schema_document["paths"]["/api/v1/projects/"]

    assert "404" in project["get"]["responses"]
    assert "404" in projects["get"]["responses"]  # a page past the end
    assert {"400", "413", "415"} <= set(projects["post"]["responses"])
    assert "400" not in project["get"]["responses"]
    assert "404" not in schema_document["paths"]["/api/v1/work/projects/"]["get"]["responses"]


def test_only_rate_limited_operations_document_429_with_retry_after(schema_document):
    claim = schema_document["paths"]["/api/v1/projects/{project_id}/claim/"]["post"]
    tokens = schema_document["paths"]["/api/v1/tokens/"]

    assert "Retry-After" in claim["responses"]["429"]["headers"]
    assert "429" in tokens["post"]["responses"]
    assert "429" not in tokens["get"]["responses"]


def test_a_view_keeps_its_own_words_for_an_error_it_documents(schema_document):
    claim = schema_document["paths"]["/api/v1/projects/{project_id}/claim/"]["post"]

    assert claim["responses"]["404"]["description"] == "No work: extra.reason says why"


def test_read_only_fields_over_nullable_model_fields_are_nullable(schema_document):
    schemas = schema_document["components"]["schemas"]

    assert schemas["Project"]["properties"]["required_skill"]["nullable"] is True
    assert schemas["Project"]["properties"]["name"].get("nullable") is not True


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/projects/{id}/instructions/", "get"),
        ("/api/v1/quality-rules/{id}/dry-run/", "get"),
        ("/api/v1/quality-rules/dry-run/", "post"),
    ],
)
def test_plain_list_endpoints_are_documented_as_plain_lists(schema_document, path, method):
    operation = schema_document["paths"][path][method]

    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"
    assert [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"] == []


def test_publishing_instructions_answers_201_with_one_version(schema_document):
    operation = schema_document["paths"]["/api/v1/projects/{id}/instructions/"]["post"]

    body = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/InstructionVersion"}
    assert "200" not in operation["responses"]
