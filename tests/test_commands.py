import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from accounts.selectors import user_roles
from demo.services import DEMO_USERS
from labeling.models import Task

pytestmark = pytest.mark.django_db


def test_create_user_gives_the_roles_named(capsys):
    call_command(
        "create_user",
        "--email",
        "lead@example.test",
        "--role",
        "reviewer:2",
        "--role",
        "manager",
        "--password",
        "a-long-unusual-pass",
    )

    user = User.objects.get(email="lead@example.test")
    assert user_roles(user) == {"reviewer": 2, "manager": None}
    assert user.check_password("a-long-unusual-pass")
    assert "Created lead@example.test" in capsys.readouterr().out


def test_create_user_refuses_an_unknown_role_naming_it():
    with pytest.raises(CommandError, match="--role: Unknown role 'boss'"):
        call_command("create_user", "--email", "x@example.test", "--role", "boss", "--no-input")

    assert not User.objects.filter(email="x@example.test").exists()


def test_seed_demo_is_idempotent_and_creates_one_user_per_role(settings, capsys):
    settings.DEBUG = True

    call_command("seed_demo")
    first = User.objects.count()
    call_command("seed_demo")

    assert User.objects.count() == first
    roles = set()
    for spec in DEMO_USERS:
        roles |= set(user_roles(User.objects.get(email=spec.email)))
    assert roles == {"annotator", "reviewer", "manager", "finance", "admin", "customer"}
    out = capsys.readouterr().out
    assert "demo-annotator-pass" in out


def test_seed_demo_prints_the_address_the_site_is_served_at(settings, capsys):
    settings.DEBUG = True
    settings.SITE_URL = "http://127.0.0.1:8101/"

    call_command("seed_demo")

    assert "Sign in at http://127.0.0.1:8101/accounts/login/ with:" in capsys.readouterr().out


def test_seed_demo_images_are_paths_that_work_on_any_host_and_port(settings):
    settings.DEBUG = True
    settings.SITE_URL = "http://127.0.0.1:8101"

    call_command("seed_demo")

    images = {t.data["image"] for t in Task.objects.filter(project__name="Street scenes")}
    assert images == {f"/static/demo/images/street-{n}.svg" for n in range(1, 7)}


def test_seed_demo_refuses_to_run_in_production(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")


def test_every_demo_login_reaches_its_home_page(settings, client):
    settings.DEBUG = True
    call_command("seed_demo")

    for spec in DEMO_USERS:
        client.logout()
        response = client.post("/accounts/login/", {"login": spec.email, "password": spec.password})
        assert response.status_code == 302, spec.email
        if response["Location"] == "/accounts/2fa/authenticate/":
            from demo.services import DEMO_TOTP_SECRET
            from tests.factories import totp_now

            response = client.post(
                "/accounts/2fa/authenticate/", {"code": totp_now(DEMO_TOTP_SECRET)}
            )
        assert client.get("/").status_code == 200, spec.email
        assert client.get("/").context["user"].email == spec.email
