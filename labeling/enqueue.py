"""Queue a Celery job by its task name, so that services never import the job modules.

Jobs import services (a job takes ids and calls one service); a service that starts a job names
its task instead, which keeps the dependency one way: `labeling.jobs` -> `labeling.services`.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def job_enqueue(task_name: str, *args: Any) -> None:
    """Queue the task registered as `task_name` with `args`; it runs at once when tasks are eager.

    Call it from `transaction.on_commit`. Raises KeyError when no task has that name.
    """
    if task_name not in current_app.tasks:
        # A worker imports every app's task modules when it starts; a web process has not, and
        # without the task object an eager app would send the message to a broker nobody reads.
        current_app.autodiscover_tasks(force=True)
    current_app.tasks[task_name].delay(*args)
