"""The order in which a project's queue hands out work: each slot's `order_key`.

The claim takes the open slot with the highest priority and, within a priority, the lowest order
key (`labeling.services.claim.candidate_slots` orders by (priority DESC, order_key)). So the order is decided once, here, when a slot is made, and never by
an update on the claim's path. Every place that makes slots asks `slot_order_keys`.

- `oldest`: a task's slots have its id as key: tasks in the order they were created, each one's
  slots together, so a started task is finished before the next is begun.
- `random`: each of a new task's slots gets its own random key: work is spread over all tasks, so
  with an overlap above one most tasks are part-done for most of the project's life.
- `depth_first` (the default of consensus projects): a new task's slots share one key, made of the
  minute its batch was stored (high bits) and a random number drawn for the task (low bits). Batches
  go in the order they arrived and the tasks of a batch in a random order, and the slots of a task
  sit together, so the people claiming next take the rest of a task someone has just started.

- `uncertain_first` (consensus projects with dynamic overlap): depth-first, and among the tasks
  under way that asked for one more annotator, the least certain first (`uncertain_first_key`):
  an answer is worth most where the posterior is least sure. A fairness cap bounds the wait: a
  task is never overtaken by work that became open more than `UNCERTAIN_WAIT_CAP` after it.

A slot added to a task already under way (another annotator from dynamic overlap, a replacement
for discounted or reassigned work, a review or a rework) gets the task's id as key, below every
random key of a task not yet started; in a depth-first project it goes below every key of a new
task (ids minus 2**62 are negative, new keys are not), so a started task is always finished first.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from labeling.models import Pipeline, QueueOrder

_KEY_BITS = 62
_TASK_BITS = 32
# Batch minutes count from here: 2**30 minutes (2,000 years) fit above the task's random bits.
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

_system_random = random.SystemRandom()

# Uncertain-first: newer work may overtake a more certain task for at most this long.
UNCERTAIN_WAIT_CAP = timedelta(minutes=10)
# Its keys sit between the under-way keys of depth-first (task id - 2**62, ids below 2**50) and
# every new task's key (never negative): [_UNSURE_BASE, _UNSURE_BASE + 2**50).
_UNSURE_BASE = -(2**_KEY_BITS) + 2**50
_DEPTH_FIRST_ORDERS = {QueueOrder.DEPTH_FIRST, QueueOrder.UNCERTAIN_FIRST}


def queue_order_default(pipeline: str) -> str:
    """Return the queue order a new project of `pipeline` gets when none is asked for.

    Consensus tasks need several people each: handed out at random, nearly all of them would stay
    part-done (docs/labeling.md gives the measured figures), so consensus projects go depth-first.
    """
    return QueueOrder.DEPTH_FIRST if pipeline == Pipeline.CONSENSUS else QueueOrder.RANDOM


def slot_order_keys(
    *,
    order: str,
    task_id: int,
    count: int = 1,
    batch_at: datetime | None = None,
    rng: random.Random | None = None,
) -> list[int]:
    """Return the order keys of `count` new slots of task `task_id` in a project ordered by `order`.

    `batch_at` is the time the task's batch was stored when these are the task's first slots,
    made with the task; None when the task is already under way. `rng` draws random keys
    (default: the system's random source).
    """
    if batch_at is None:
        under_way = task_id - 2**_KEY_BITS if order in _DEPTH_FIRST_ORDERS else task_id
        return [under_way] * count
    rng = rng or _system_random
    if order == QueueOrder.RANDOM:
        return [rng.getrandbits(_KEY_BITS) for _ in range(count)]
    if order in _DEPTH_FIRST_ORDERS:
        minute = max(0, int((batch_at - _EPOCH).total_seconds()) // 60)
        key = (minute << _TASK_BITS) | rng.getrandbits(_TASK_BITS)
        return [key] * count
    return [task_id] * count


def uncertain_first_key(*, confidence: float, classes: int, now: datetime) -> int:
    """Return the order key of an open slot of a task under way whose top posterior is
    `confidence` (of `classes` labels), keyed at `now`, in an uncertain-first project.

    The key is a time, in milliseconds: `now` plus a delay that grows with certainty, from none
    (the posterior is uniform, 1/`classes`) to `UNCERTAIN_WAIT_CAP` (certain). A less certain
    task keyed at the same moment comes first; a task keyed earlier is overtaken only by work
    keyed less than `UNCERTAIN_WAIT_CAP` after it, so it never waits behind newer work for longer.
    """
    floor = 1 / classes if classes > 1 else 0.0
    certainty = min(1.0, max(0.0, (confidence - floor) / (1 - floor)))
    elapsed_ms = max(0, int((now - _EPOCH).total_seconds() * 1000))
    cap_ms = int(UNCERTAIN_WAIT_CAP.total_seconds() * 1000)
    return _UNSURE_BASE + elapsed_ms + round(certainty * cap_ms)
