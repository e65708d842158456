"""Celery tasks of the labeling engine (each module under labeling/jobs/ holds one concern)."""

from labeling.jobs.checks import *  # noqa: F403
from labeling.jobs.consensus import *  # noqa: F403
from labeling.jobs.export_files import *  # noqa: F403
from labeling.jobs.imports import *  # noqa: F403
from labeling.jobs.queue import *  # noqa: F403
from labeling.jobs.webhooks import *  # noqa: F403
