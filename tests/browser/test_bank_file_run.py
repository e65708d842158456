"""In Chromium: finance downloads an approved bank-file run's payment CSV from the run's page,
uploads a bank report with a bad line (refused, the line named next to the field), then the
bank's real report made from the downloaded file; the run shows Done. A screenshot is left in
test-artifacts/ (bank-file-run-*.png)."""

import csv
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from payments.models import PayoutItemStatus, PayoutRunStatus
from tests.browser.conftest import require_chromium, screenshot
from tests.labeling.factories import make_project
from tests.payments.bank_file_runs.helpers import approved_run
from tests.payments.payout_runs.helpers import bank_person, finance_user

require_chromium()

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in_as(page, live_server, user) -> None:
    """Give the browser the session of `user` (finance has MFA)."""
    page.context.clear_cookies()
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def attach(page, data: bytes) -> None:
    page.set_input_files(
        "input[name=file]", files=[{"name": "report.csv", "mimeType": "text/csv", "buffer": data}]
    )


def test_finance_downloads_the_file_uploads_the_banks_report_and_the_run_is_done(page, live_server):
    project = make_project()
    paid, failed = bank_person(project, 2_000), bank_person(project, 3_000)
    creator, approver = finance_user(), finance_user()
    run = approved_run(creator, approver)
    failed_item = run.items.get(person=failed)

    signed_in_as(page, live_server, approver)
    page.goto(f"/finance/payout-runs/{run.pk}/")
    assert page.locator("#run-status").inner_text() == "Paying"
    with page.expect_download() as downloading:
        page.click("#download-csv")
    rows = list(csv.DictReader(io.StringIO(Path(downloading.value.path()).read_text())))
    assert sorted(r["amount"] for r in rows) == ["20.00", "30.00"]

    attach(
        page,
        b"reference,status,message\r\n"
        + f"{rows[0]['reference']},paid,\r\n".encode()
        + b"424242,paid,\r\n",
    )
    page.click("#upload-results")
    page.wait_for_selector("#results-errors")
    assert "Line 3, column reference" in page.locator("#results-errors").inner_text()
    assert run.items.filter(status=PayoutItemStatus.AWAITING_BANK_FILE).count() == 2

    outcome = {str(failed_item.pk): "failed,Account closed"}
    lines = [f"{r['reference']},{outcome.get(r['reference'], 'paid,')}" for r in rows]
    attach(page, ("reference,status,message\r\n" + "\r\n".join(lines) + "\r\n").encode())
    page.click("#upload-results")
    page.wait_for_url(f"**/finance/payout-runs/{run.pk}/")
    screenshot(page, "bank-file-run-done")

    assert page.locator("#run-status").inner_text() == "Done"
    assert "1 paid, 1 failed" in page.content()
    run.refresh_from_db()
    assert run.status == PayoutRunStatus.DONE
    assert run.items.get(person=paid).status == PayoutItemStatus.SUCCEEDED
    assert run.items.get(person=failed).provider_message == "Account closed"
