"""Celery jobs that run imports, on the `imports` queue."""

from __future__ import annotations

from celery import shared_task

from labeling.services.imports.batches import IMPORT_RUN_TASK
from labeling.services.imports.batches import import_run as run

__all__ = ["import_run"]


@shared_task(name=IMPORT_RUN_TASK, acks_late=True)
def import_run(job_id: int) -> str:
    """Run one import job (on the `imports` queue); a finished job is left alone, so repeats are safe."""
    return str(run(job_id=job_id).status)
