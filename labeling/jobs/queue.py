from __future__ import annotations

from celery import shared_task

__all__ = ["leases_reclaim_expired", "reworks_reassign_orphaned"]


@shared_task(name="labeling.tasks.leases_reclaim_expired", ignore_result=True)
def leases_reclaim_expired() -> int:
    """Return slots whose lease ran out to the queue (every minute, from beat)."""
    from labeling.services.leases import leases_reclaim_expired as reclaim

    return reclaim()


@shared_task(name="labeling.tasks.reworks_reassign_orphaned", ignore_result=True)
def reworks_reassign_orphaned() -> int:
    """Give reworks whose author may no longer work to someone else (every minute, from beat)."""
    from labeling.services.review import reworks_reassign_orphaned as reassign

    return reassign()
