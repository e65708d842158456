from __future__ import annotations

from celery import shared_task

__all__ = ["check_attempts_time_out"]


@shared_task(name="labeling.tasks.check_attempts_time_out", ignore_result=True)
def check_attempts_time_out() -> int:
    """Close check attempts past their deadline as timed out (every minute, from beat)."""
    from django.utils import timezone

    from labeling.services.checks import check_attempts_time_out as time_out

    return time_out(now=timezone.now())
