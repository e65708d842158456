"""Celery tasks that write large exports to files."""

from __future__ import annotations

from celery import shared_task

from labeling.services.exports.jobs import EXPORT_RUN_TASK, export_job_run

__all__ = ["export_run"]


@shared_task(name=EXPORT_RUN_TASK)
def export_run(job_id: int) -> str:
    """Write export job `job_id`'s file (a job that already succeeded is left alone)."""
    return export_job_run(job_id=job_id).status
