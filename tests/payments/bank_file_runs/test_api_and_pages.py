"""Bank-file runs through the API (GET .../bank-file/?format=, POST .../bank-results/) and the
run's page (download buttons, the report's upload form with each bad line next to the field)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from accounts.models import Role
from core.models import AuditEvent
from payments.bank_files import bank_payments_csv
from payments.models import PayoutItemStatus, PayoutRunStatus
from tests.factories import make_user
from tests.payments.bank_file_runs.helpers import (
    approved_run,
    expected_payments,
    report,
    us_person,
)
from tests.payments.payout_runs.helpers import bank_person, finance_user

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/payout-runs/"


@pytest.fixture
def creator():
    return finance_user()


@pytest.fixture
def approver():
    return finance_user()


def upload(client, url, data: bytes):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, {"file": SimpleUploadedFile("report.csv", data, "text/csv")})


def test_finance_downloads_the_csv_by_api(client, project, creator, approver):
    bank_person(project, 2_000)
    run = approved_run(creator, approver)
    expected = bank_payments_csv(expected_payments(run))
    client.force_login(approver)

    response = client.get(f"{RUNS}{run.pk}/bank-file/?format=csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (f'attachment; filename="payout-run-{run.pk}.csv"')
    assert response.content == expected
    assert AuditEvent.objects.filter(action="payout_run.bank_file_download").count() == 1


def test_the_api_refuses_pain001_for_a_usd_run_naming_format(client, project, creator, approver):
    us_person(project, 10_050)
    run = approved_run(creator, approver, currency="USD")
    client.force_login(approver)

    response = client.get(f"{RUNS}{run.pk}/bank-file/?format=pain001")
    missing = client.get(f"{RUNS}{run.pk}/bank-file/")

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["format"]
    assert missing.status_code == 400 and list(missing.json()["extra"]["fields"]) == ["format"]


def test_the_api_gives_no_file_without_mfa_or_to_other_roles(client, project, creator, approver):
    bank_person(project, 2_000)
    run = approved_run(creator, approver)

    client.force_login(finance_user(mfa=False))
    no_mfa = client.get(f"{RUNS}{run.pk}/bank-file/?format=csv")
    client.force_login(make_user(Role.MANAGER, mfa=True))
    manager = client.get(f"{RUNS}{run.pk}/bank-file/?format=csv")
    manager_upload = upload(client, f"{RUNS}{run.pk}/bank-results/", report("1,paid"))

    assert no_mfa.status_code == 403 and no_mfa.json()["code"] == "mfa_required"
    assert manager.status_code == 403 and manager_upload.status_code == 403
    assert not AuditEvent.objects.filter(action="payout_account.details_read").exists()


def test_finance_uploads_the_report_by_api(client, project, creator, approver):
    ok, bad = bank_person(project, 2_000), bank_person(project, 3_000)
    run = approved_run(creator, approver)
    ok_item, bad_item = run.items.get(person=ok), run.items.get(person=bad)
    client.force_login(creator)

    refused = upload(
        client, f"{RUNS}{run.pk}/bank-results/", report(f"{ok_item.pk},paid", "x,paid")
    )
    applied = upload(
        client,
        f"{RUNS}{run.pk}/bank-results/",
        report(f"{ok_item.pk},paid", f"{bad_item.pk},failed,Account closed"),
    )

    assert refused.status_code == 400
    assert refused.json()["code"] == "bank_file_invalid"
    assert refused.json()["extra"]["errors"][0]["line"] == 3
    assert applied.status_code == 200, applied.json()
    body = applied.json()
    assert (body["paid"], body["failed"], body["repeated"]) == ([ok_item.pk], [bad_item.pk], [])
    assert client.get(f"{RUNS}{run.pk}/").json()["status"] == PayoutRunStatus.DONE


def test_the_run_page_offers_both_files_for_eur_and_the_csv_only_otherwise(
    client, project, creator, approver
):
    bank_person(project, 2_000)
    eur = approved_run(creator, approver)
    us_person(project, 10_050)
    usd = approved_run(creator, approver, currency="USD")
    client.force_login(creator)

    eur_page = client.get(f"/finance/payout-runs/{eur.pk}/").content.decode()
    usd_page = client.get(f"/finance/payout-runs/{usd.pk}/").content.decode()

    assert 'id="download-csv"' in eur_page and 'id="download-pain001"' in eur_page
    assert 'id="download-csv"' in usd_page and 'id="download-pain001"' not in usd_page
    assert 'enctype="multipart/form-data"' in eur_page
    assert 'http-equiv="refresh"' not in eur_page  # the upload form is not reloaded away


def test_the_page_downloads_the_file_and_shows_a_refused_reports_lines_next_to_the_field(
    client, project, creator, approver
):
    person = bank_person(project, 2_000)
    run = approved_run(creator, approver)
    item = run.items.get(person=person)
    client.force_login(creator)

    download = client.get(f"/finance/payout-runs/{run.pk}/bank-file/?format=csv")
    refused = upload(
        client, f"/finance/payout-runs/{run.pk}/bank-results/", report(f"{item.pk},paid", "7,lost")
    )
    applied = upload(
        client, f"/finance/payout-runs/{run.pk}/bank-results/", report(f"{item.pk},paid")
    )

    assert download.status_code == 200 and download.content.startswith(b"reference,")
    assert refused.status_code == 200
    form = refused.context["results_form"]
    assert "line 3" in form.errors["file"][0]
    page = refused.content.decode()
    assert 'id="results-errors"' in page and "Line 3, column status" in page
    assert applied.status_code == 302
    item.refresh_from_db()
    run.refresh_from_db()
    assert item.status == PayoutItemStatus.SUCCEEDED and run.status == PayoutRunStatus.DONE


def test_a_refused_download_on_the_page_says_why(client, project, creator, approver):
    us_person(project, 10_050)
    run = approved_run(creator, approver, currency="USD")
    client.force_login(creator)

    response = client.get(f"/finance/payout-runs/{run.pk}/bank-file/?format=pain001", follow=True)

    assert "pain.001 files pay EUR only" in response.content.decode()
