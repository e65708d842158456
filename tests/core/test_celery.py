"""Celery: in-process without Redis, a real worker round trip with it, and the queue configuration."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from celery.result import AsyncResult, EagerResult
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Role
from config.celery import app as celery_app
from core.tasks import BEAT_HEARTBEAT_KEY, beat_heartbeat, ping
from tests.factories import make_user

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


def test_tasks_are_routed_to_the_default_queue_unless_imports_or_payouts():
    router = celery_app.amqp.router

    def queue_of(task_name: str) -> str:
        return router.route({}, task_name)["queue"].name

    assert queue_of(ping.name) == "default"
    assert queue_of("labeling.tasks.import_dataset") == "imports"
    assert queue_of("payments.tasks.payout_batch") == "payouts"


def test_beat_schedule_runs_the_heartbeat():
    schedule = celery_app.conf.beat_schedule

    assert "beat-heartbeat" in schedule
    assert schedule["beat-heartbeat"]["task"] == beat_heartbeat.name


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


@pytest.fixture(scope="module")
def celery_worker(request, tmp_path_factory):
    """A real `celery worker` on the default, imports and payouts queues; yields its node name."""
    node = f"test-{uuid.uuid4().hex}"
    name = f"{node}@{socket.gethostname()}"
    log_path = tmp_path_factory.mktemp("celery-worker") / "worker.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    command = [
        str(CELERY_BIN),
        "-A",
        "config",
        "worker",
        "-Q",
        "default,imports,payouts",
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
def test_worker_consumes_the_default_imports_and_payouts_queues(celery_worker):
    inspector = celery_app.control.inspect(destination=[celery_worker], timeout=5)

    active = inspector.active_queues() or {}

    assert {queue["name"] for queue in active.get(celery_worker, [])} == {
        "default",
        "imports",
        "payouts",
    }


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
