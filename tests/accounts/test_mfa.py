import pytest
from allauth.mfa.models import Authenticator

from accounts.middleware import MFA_REQUIRED_MESSAGE
from accounts.models import Role
from tests.factories import PASSWORD, make_user, totp_now

pytestmark = pytest.mark.django_db

MFA_SETUP = "/accounts/2fa/totp/activate/"

PORTAL_PAGES = [
    "/",
    "/audit/",
    "/tokens/",
    "/people/",
    "/staff/users/",
    "/profile/",
    "/accounts/email/",
]
API_CALLS = [
    ("get", "/api/v1/me/"),
    ("get", "/api/v1/tokens/"),
    ("post", "/api/v1/tokens/"),
    ("get", "/api/v1/audit-events/"),
    ("get", "/api/v1/users/"),
    ("get", "/api/v1/people/"),
]


def test_finance_without_mfa_is_sent_to_mfa_setup_from_every_page(client):
    finance = make_user(Role.FINANCE)
    client.force_login(finance)

    for path in PORTAL_PAGES:
        response = client.get(path)

        assert response.status_code == 302, path
        assert response["Location"].startswith(MFA_SETUP), path


def test_finance_without_mfa_is_refused_by_every_api_call_with_the_setup_address(client):
    finance = make_user(Role.FINANCE)
    client.force_login(finance)

    for method, path in API_CALLS:
        response = getattr(client, method)(path, content_type="application/json")

        assert response.status_code == 403, path
        body = response.json()
        assert body["code"] == "mfa_required", path
        assert body["extra"]["setup_url"] == MFA_SETUP, path


def test_finance_without_mfa_using_a_token_is_refused_too(client):
    from accounts.services import api_token_create

    finance = make_user(Role.FINANCE)
    _, key = api_token_create(user=finance, name="script")

    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"


def sign_in(client, user):
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302


def test_the_mfa_setup_page_itself_and_sign_out_stay_reachable(client):
    finance = make_user(Role.FINANCE)
    sign_in(client, finance)

    assert client.get(MFA_SETUP).status_code == 200
    assert client.post("/accounts/logout/").status_code == 302


def test_setting_up_totp_lifts_the_redirect(client):
    finance = make_user(Role.FINANCE)
    sign_in(client, finance)
    client.get(MFA_SETUP)
    secret = client.session["mfa.totp.secret"]

    response = client.post(MFA_SETUP, {"code": totp_now(secret)})

    assert response.status_code == 302
    assert Authenticator.objects.filter(user=finance, type=Authenticator.Type.TOTP).exists()
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200


def test_a_finance_user_without_mfa_is_sent_to_setup_right_after_signing_in(client):
    finance = make_user(Role.FINANCE)
    sign_in(client, finance)

    response = client.get("/", follow=True)

    assert response.redirect_chain[0][0].startswith(MFA_SETUP)
    assert response.status_code == 200
    assert MFA_REQUIRED_MESSAGE in response.content.decode()


def test_annotators_are_not_forced_to_set_up_mfa(client):
    client.force_login(make_user(Role.ANNOTATOR))

    assert client.get("/").status_code == 200


def test_with_mfa_login_asks_for_the_code_before_signing_in(client):
    finance = make_user(Role.FINANCE, mfa=True)

    response = client.post("/accounts/login/", {"login": finance.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/").context["user"].is_authenticated is False

    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert client.get("/").context["user"].is_authenticated is False

    right = client.post("/accounts/2fa/authenticate/", {"code": totp_now()})
    assert right.status_code == 302
    assert client.get("/").context["user"] == finance
