"""Celery: in-process without Redis, every task family through a real worker with it, and the
queue configuration of the product's real task names."""

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from celery.fixups.django import DjangoWorkerFixup  # type: ignore[attr-defined]  # not in celery-types 0.26
from celery.result import AsyncResult, EagerResult
from celery.signals import task_postrun, task_prerun
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Role
from config.celery import app as celery_app
from core.tasks import BEAT_HEARTBEAT_KEY, beat_heartbeat, ping, sessions_clear_expired
from labeling.jobs.queue import leases_reclaim_expired
from labeling.models import (
    ExportJob,
    ImportJob,
    Lease,
    SlotState,
    Task,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WorkSlot,
)
from labeling.services.claim import slot_claim_next
from labeling.services.exports.jobs import export_job_create
from labeling.services.imports.batches import import_create_from_upload
from labeling.services.webhooks import webhook_endpoint_create, webhooks_emit
from quality.jobs import rules_sweep
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_customer_user, make_project, make_worker
from tests.quality.factories import GOLD_SPAM, gold_record, make_manager, spam_rule
from workforce.models import AnnotatorProfile

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CELERY_BIN = Path(sys.executable).parent / "celery"
WORKER_START_TIMEOUT = 30.0
WORKER_STOP_TIMEOUT = 10.0

EAGER_SCRIPT = """
import django
django.setup()
from config.celery import app as celery_app
from core.tasks import ping
r = ping.delay()
print(r.get(timeout=5), type(r).__name__, celery_app.conf.task_always_eager)
"""


def test_task_runs_eagerly_without_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "config.test_settings"
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'eager.sqlite3'}"

    completed = subprocess.run(
        [sys.executable, "-c", EAGER_SCRIPT],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["pong", "EagerResult", "True"]


def test_celery_config_acks_late_one_at_a_time_and_redelivers_lost_jobs():
    conf = celery_app.conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_celery_config_declares_default_imports_and_payouts_queues():
    queue_names = {queue.name for queue in celery_app.conf.task_queues}

    assert celery_app.conf.task_default_queue == "default"
    assert {"default", "imports", "payouts"} <= queue_names


# Every task of the product and the queue it must go to. A new task fails the test below until
# its queue is decided here (imports and exports are long and go apart from the quick jobs).
QUEUE_OF_TASK = {
    "core.tasks.ping": "default",
    "core.tasks.beat_heartbeat": "default",
    "core.tasks.sessions_clear_expired": "default",
    "labeling.tasks.import_run": "imports",
    "labeling.tasks.export_run": "imports",
    "labeling.tasks.webhook_deliver": "default",
    "labeling.tasks.webhook_deliveries_due": "default",
    "labeling.tasks.leases_reclaim_expired": "default",
    "labeling.tasks.reworks_reassign_orphaned": "default",
    "labeling.tasks.rules_evaluate_person": "default",
    "labeling.tasks.rules_sweep": "default",
    "labeling.tasks.consensus_confusions_estimate": "default",
    "labeling.tasks.consensus_reaggregate": "default",
    "labeling.tasks.consensus_estimates_due": "default",
    "labeling.tasks.check_attempts_time_out": "default",
    "quality.tasks.probation_evaluate_person": "default",
    "quality.tasks.probation_sweep": "default",
    "quality.tasks.tier_candidates_compute_weekly": "default",
    "quality.tasks.performance_rollups_catch_up": "default",
    "quality.tasks.project_agreements_refresh": "default",
    "payments.tasks.ledger_reconcile": "default",
    "payments.tasks.earnings_hourly_finalise": "default",
    "payments.tasks.earning_days_roll": "default",
    "payments.tasks.incentive_period_close_run": "default",
    "payments.tasks.payout_item_execute": "payouts",
    "payments.tasks.payout_items_due": "payouts",
    "payments.tasks.payout_run_dispatch": "payouts",
    "payments.tasks.payout_run_freeze": "payouts",
    "payments.tasks.payout_runs_reconcile": "payouts",
    "payments.tasks.incentive_periods_close_due": "default",
    "payments.tasks.stripe_event_process": "payouts",
    "payments.tasks.stripe_events_due": "payouts",
}


def _product_task_names() -> set[str]:
    celery_app.loader.import_default_modules()  # what the worker autodiscovers at start
    return {name for name in celery_app.tasks if not name.startswith("celery.")}


def test_every_task_of_the_product_is_routed_to_its_queue():
    router = celery_app.amqp.router

    routed = {name: router.route({}, name)["queue"].name for name in _product_task_names()}

    assert routed == QUEUE_OF_TASK


def test_every_periodic_job_names_a_task_that_exists():
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}

    assert scheduled <= _product_task_names()


def test_beat_schedule_runs_the_heartbeat():
    schedule = celery_app.conf.beat_schedule

    assert "beat-heartbeat" in schedule
    assert schedule["beat-heartbeat"]["task"] == beat_heartbeat.name


def test_beat_schedule_clears_expired_sessions_daily():
    entry = celery_app.conf.beat_schedule["sessions-clear-expired"]

    assert entry["task"] == sessions_clear_expired.name
    assert entry["schedule"].remaining_estimate(timezone.now()) <= timedelta(days=1)


@pytest.mark.django_db
def test_sessions_clear_expired_deletes_expired_sessions_and_keeps_live_ones():
    expired, live = SessionStore(), SessionStore()
    expired["who"], live["who"] = "gone", "here"
    expired.set_expiry(timezone.now() - timedelta(minutes=1))
    live.set_expiry(timezone.now() + timedelta(days=1))
    expired.save()
    live.save()

    sessions_clear_expired.delay()
    sessions_clear_expired.delay()  # a second run finds nothing more to do

    assert not Session.objects.filter(session_key=expired.session_key).exists()
    assert SessionStore(session_key=live.session_key)["who"] == "here"


def test_beat_heartbeat_stores_the_time_it_ran_in_the_cache():
    before = timezone.now()

    beat_heartbeat.delay()

    stored = cache.get(BEAT_HEARTBEAT_KEY)
    assert stored is not None
    seen = datetime.fromisoformat(stored)
    assert seen.tzinfo is not None
    assert before - timedelta(seconds=1) <= seen <= timezone.now()


def _worker_answers(name: str) -> bool:
    try:
        replies = celery_app.control.ping(destination=[name], timeout=1) or []
    except Exception:  # the broker may refuse connections while the worker starts
        return False
    return any(name in reply for reply in replies)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=WORKER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _show(request, text: str) -> None:
    """Print past pytest's output capture, so a teardown can show a log."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        print(text)


def _database_url() -> str:
    """The test database as a DATABASE_URL, for the worker process (set up by pytest-django)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture(scope="module")
def celery_worker(request, tmp_path_factory, django_db_setup):
    """A real `celery worker` on every queue the product declares; yields its node name.

    It runs the product's settings against this run's test database, media directory and Redis,
    so that tasks sent by a test change what the test then reads.
    """
    node = f"test-{uuid.uuid4().hex}"
    name = f"{node}@{socket.gethostname()}"
    log_path = tmp_path_factory.mktemp("celery-worker") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": _database_url(),
        # The same directory as the `_media_in_tmp` fixture gives the tests.
        "MEDIA_ROOT": str(tmp_path_factory.getbasetemp() / "media"),
        "WEBHOOK_ALLOW_HTTP_HOSTS": "127.0.0.1",
    }
    command = [
        str(CELERY_BIN),
        "-A",
        "config",
        "worker",
        "-Q",
        ",".join(queue.name for queue in celery_app.conf.task_queues),
        "--pool=solo",
        "--concurrency=1",
        "-n",
        f"{node}@%h",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "info",
    ]
    failed_before = request.session.testsfailed
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not _worker_answers(name):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"celery worker {name} did not answer pings "
                    f"(exit code {process.poll()}):\n{log_path.read_text()}"
                )
            time.sleep(0.5)
        yield name
    finally:
        _stop(process)
        if request.session.testsfailed > failed_before:
            _show(request, f"\n--- celery worker log ({name}) ---\n{log_path.read_text()}")


@pytest.mark.redis
@pytest.mark.real_celery
def test_task_round_trips_through_redis_and_a_real_worker(celery_worker):
    assert celery_app.conf.task_always_eager is False

    result = ping.delay()

    assert isinstance(result, AsyncResult)
    assert not isinstance(result, EagerResult)
    assert result.get(timeout=20) == "pong"
    assert result.successful()


@pytest.mark.redis
@pytest.mark.real_celery
def test_task_sent_to_the_default_queue_is_run_by_the_worker(celery_worker):
    result = ping.apply_async(queue="default")

    assert result.get(timeout=20) == "pong"


@pytest.mark.redis
@pytest.mark.real_celery
def test_worker_consumes_every_queue_tasks_are_routed_to(celery_worker):
    inspector = celery_app.control.inspect(destination=[celery_worker], timeout=5)

    active = inspector.active_queues() or {}

    consumed = {queue["name"] for queue in active.get(celery_worker, [])}
    assert set(QUEUE_OF_TASK.values()) <= consumed
    assert consumed == {"default", "imports", "payouts"}


@pytest.mark.redis
@pytest.mark.real_celery
@pytest.mark.django_db
def test_healthz_lists_the_worker_and_the_beat_age_in_broker_mode(client, celery_worker):
    client.force_login(make_user(Role.ADMIN, mfa=True))  # the details are for operations staff
    beat_heartbeat()

    response = client.get("/healthz")

    assert response.status_code == 200
    celery = response.json()["checks"]["celery"]
    assert celery["mode"] == "broker"
    assert celery["status"] == "ok"
    assert celery_worker in celery["workers"]
    assert 0 <= celery["beat_last_seen_seconds_ago"] <= 5


# --- Each task family through the real worker -----------------------------------------------
# The worker is another process with its own database connection: these tests commit
# (transactional_db) and wait for the effect the task has on the database, files or the network.

WORKER_EFFECT_TIMEOUT = 60.0


def eventually(check: Callable[[], Any], what: str, timeout: float = WORKER_EFFECT_TIMEOUT) -> Any:
    """Return the first truthy value of `check()`, asked every 0.2 s, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"the worker did not {what} within {timeout:.0f} s")
        time.sleep(0.2)


@pytest.mark.redis
@pytest.mark.real_celery
@pytest.mark.django_db(transaction=True)
def test_an_import_is_run_by_the_worker_on_the_imports_queue(celery_worker):
    project = make_project()
    upload = SimpleUploadedFile("tasks.jsonl", b'{"text": "first"}\n{"text": "second"}\n')

    with transaction.atomic():
        job = import_create_from_upload(project=project, upload=upload, actor=None)

    eventually(
        lambda: ImportJob.objects.filter(pk=job.pk, status="succeeded").exists(),
        "finish the import",
    )
    texts = sorted(Task.objects.filter(project=project).values_list("data__text", flat=True))
    assert texts == ["first", "second"]


@pytest.mark.redis
@pytest.mark.real_celery
@pytest.mark.django_db(transaction=True)
def test_an_export_file_is_written_by_the_worker(celery_worker):
    project = make_project()
    task_ids = add_tasks(project, 4)
    owner = make_customer_user(project.customer)

    with transaction.atomic():
        job = export_job_create(
            project=project, file_format="jsonl", filters={"final_only": False}, actor=owner
        )

    done = eventually(
        lambda: ExportJob.objects.filter(pk=job.pk, status="succeeded").first(),
        "write the export file",
    )
    lines = Path(done.file.path).read_bytes().splitlines()
    assert sorted(json.loads(line)["task_id"] for line in lines) == sorted(task_ids)
    assert done.rows_written == 4


class _Receiver(ThreadingHTTPServer):
    """A customer's webhook endpoint on this machine: keeps each POST's headers and body."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.received: list[tuple[dict[str, str], bytes]] = []


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def webhook_receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.redis
@pytest.mark.real_celery
@pytest.mark.django_db(transaction=True)
def test_a_webhook_is_delivered_by_the_worker(celery_worker, webhook_receiver, settings):
    settings.WEBHOOK_ALLOW_HTTP_HOSTS = ["127.0.0.1"]
    project = make_project()
    url = f"http://127.0.0.1:{webhook_receiver.server_address[1]}/hooks"
    _, secret = webhook_endpoint_create(customer=project.customer, url=url, events=[], actor=None)

    with transaction.atomic():
        [delivery_id] = webhooks_emit(
            customer_id=project.customer_id, event="task.completed", payload={"task_id": 7}
        )

    [(headers, body)] = eventually(lambda: webhook_receiver.received, "deliver the webhook")
    fields = dict(part.split("=", 1) for part in headers["x-quorum-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    assert fields["v1"] == expected.hexdigest()
    assert json.loads(body)["data"] == {"task_id": 7}
    eventually(
        lambda: WebhookDelivery.objects.filter(
            pk=delivery_id, status=WebhookDeliveryStatus.SUCCEEDED
        ).exists(),
        "record the delivery",
    )


@pytest.mark.redis
@pytest.mark.real_celery
@pytest.mark.django_db(transaction=True)
def test_the_rule_sweep_run_by_the_worker_suspends_a_spammer(celery_worker):
    project, spammer = make_project(), make_worker()
    spam_rule(make_manager())
    gold_record(project, spammer, GOLD_SPAM)

    rules_sweep.delay()

    eventually(
        lambda: AnnotatorProfile.objects.filter(user=spammer, status="suspended").exists(),
        "suspend the spammer",
    )


@pytest.mark.redis
@pytest.mark.real_celery
@pytest.mark.django_db(transaction=True)
def test_the_lease_reaper_run_by_the_worker_reopens_an_expired_lease(celery_worker):
    project = make_project()
    add_tasks(project, 1)
    lease = slot_claim_next(project=project, user=make_worker()).lease
    past = timezone.now() - timedelta(minutes=1)
    Lease.objects.filter(pk=lease.pk).update(expires_at=past)
    WorkSlot.objects.filter(pk=lease.slot_id).update(lease_expires_at=past)

    leases_reclaim_expired.delay()

    eventually(
        lambda: WorkSlot.objects.filter(pk=lease.slot_id, state=SlotState.OPEN).exists(),
        "reopen the slot",
    )
    assert Lease.objects.get(pk=lease.pk).state == "expired"


def _run_task_hooks(task: Any) -> None:
    """What a worker does around a task for Django: Celery's fix-up and the product's handler,
    on the prerun and postrun signals."""
    fixup = DjangoWorkerFixup(celery_app)
    fixup.on_task_prerun(task)
    task_prerun.send(sender=task, task_id="t", task=task, args=(), kwargs={})
    task_postrun.send(sender=task, task_id="t", task=task, args=(), kwargs={}, retval=None)
    fixup.on_task_postrun(task)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_from_task_to_task(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    connection.ensure_connection()
    opened = connection.connection

    for _ in range(3):
        _run_task_hooks(ping)

    assert connection.connection is opened


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_closes_a_connection_older_than_its_max_age_between_tasks(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1  # opened more than DB_CONN_MAX_AGE ago

    _run_task_hooks(ping)

    assert connection.connection is None
