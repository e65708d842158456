"""Celery tasks of the quality app (Celery's autodiscovery imports this module)."""

from quality.jobs import *  # noqa: F403
