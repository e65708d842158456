from __future__ import annotations

from celery import shared_task

__all__ = ["import_run"]


@shared_task(name="labeling.tasks.import_run", acks_late=True)
def import_run(job_id: int) -> str:
    """Run one import job (on the `imports` queue); a finished job is left alone, so repeats are safe."""
    from labeling.services.imports import import_run as run

    return str(run(job_id=job_id).status)
