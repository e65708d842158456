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

A slot added to a task already under way (another annotator from dynamic overlap, a replacement
for discounted or reassigned work, a review or a rework) gets the task's id as key, below every
random key of a task not yet started; in a depth-first project it goes below every key of a new
task (ids minus 2**62 are negative, new keys are not), so a started task is always finished first.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from labeling.models import Pipeline, QueueOrder

_KEY_BITS = 62
_TASK_BITS = 32
# Batch minutes count from here: 2**30 minutes (2,000 years) fit above the task's random bits.
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

_system_random = random.SystemRandom()


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
        under_way = task_id - 2**_KEY_BITS if order == QueueOrder.DEPTH_FIRST else task_id
        return [under_way] * count
    rng = rng or _system_random
    if order == QueueOrder.RANDOM:
        return [rng.getrandbits(_KEY_BITS) for _ in range(count)]
    if order == QueueOrder.DEPTH_FIRST:
        minute = max(0, int((batch_at - _EPOCH).total_seconds()) // 60)
        key = (minute << _TASK_BITS) | rng.getrandbits(_TASK_BITS)
        return [key] * count
    return [task_id] * count
