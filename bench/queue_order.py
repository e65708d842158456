"""Simulate a consensus queue and count the tasks each queue order finishes.

Many people claim the lowest-keyed open slot of a task they have not worked on (the claim's
ordering, by the keys `labeling.queue_order.slot_order_keys` gives), hold it for a while and
submit. After each tenth of the work the script prints, per order, how many tasks were started and
how many are complete. A second scenario adds a second batch halfway through, to show what the
batch time in depth-first keys is for: without it, a later batch's tasks would jump ahead of tasks
already started.

No database: `.venv/bin/python bench/queue_order.py [--tasks N] [--people N] [--overlap N]
[--seed N] [--report-only]`. Budget: depth-first leaves at most `people` tasks part-done.
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._support import at_most, budgets_print


@dataclass
class Queue:
    """Open slots as a heap of (key, slot number, task id); who touched which task."""

    heap: list[tuple[int, int, int]] = field(default_factory=list)
    touched: dict[int, set[int]] = field(default_factory=dict)
    first_claim: dict[int, int] = field(default_factory=dict)
    longest_wait = 0  # claims between a task's first and last claim, at most
    done: dict[int, int] = field(default_factory=dict)
    slots = 0

    def add(self, task_id: int, keys: list[int]) -> None:
        for key in keys:
            self.slots += 1
            heapq.heappush(self.heap, (key, self.slots, task_id))
        self.touched.setdefault(task_id, set())
        self.done.setdefault(task_id, 0)

    def give_back(self, task_id: int, key: int) -> None:
        self.slots += 1
        heapq.heappush(self.heap, (key, self.slots, task_id))

    def claim(self, person: int, claims: int) -> tuple[int, int] | None:
        """Take the lowest-keyed slot of a task `person` has not touched: (task id, key), or None."""
        passed = []
        taken = None
        while self.heap:
            entry = heapq.heappop(self.heap)
            if person in self.touched[entry[2]]:
                passed.append(entry)
                continue
            key, _, task_id = entry
            taken = (task_id, key)
            self.touched[task_id].add(person)
            self.first_claim.setdefault(task_id, claims)
            self.longest_wait = max(self.longest_wait, claims - self.first_claim[task_id])
            break
        for entry in passed:
            heapq.heappush(self.heap, entry)
        return taken

    def started(self) -> int:
        return sum(1 for people in self.touched.values() if people)

    def complete(self, overlap: int) -> int:
        return sum(1 for count in self.done.values() if count >= overlap)


def simulate(
    order: str,
    *,
    tasks: int,
    people: int,
    overlap: int,
    seed: int,
    second_batch: bool,
    stamps: bool,
    skips: float,
) -> tuple[list[tuple[int, int, int]], int]:
    """Return (claims, started, complete) after each tenth of the work, and the longest wait."""
    from labeling.queue_order import slot_order_keys

    rng = random.Random(seed)
    queue = Queue()
    first_at = datetime(2026, 1, 1, tzinfo=UTC)
    # Without stamps both batches share one batch time, as if keys were random per task only.
    second_at = first_at + timedelta(hours=1) if stamps else first_at
    batch = tasks // 2 if second_batch else tasks
    for task_id in range(1, batch + 1):
        queue.add(
            task_id,
            slot_order_keys(
                order=order, task_id=task_id, count=overlap, batch_at=first_at, rng=rng
            ),
        )
    total = tasks * overlap
    # Each person claims, works 20 to 60 seconds, submits, claims again.
    clock: list[tuple[float, int, tuple[int, int] | None]] = [
        (rng.uniform(0, 5), person, None) for person in range(people)
    ]
    heapq.heapify(clock)
    claims, figures, tenth = 0, [], total // 10
    while clock:
        now, person, holding = heapq.heappop(clock)
        if holding is not None:
            task_id, key = holding
            if rng.random() < skips:
                # Skipped (or the lease ran out): the slot goes back with its key, for others.
                queue.give_back(task_id, key)
            else:
                queue.done[task_id] += 1
        if len(queue.done) < tasks and claims >= batch * overlap // 2:
            for task_id in range(batch + 1, tasks + 1):
                keys = slot_order_keys(
                    order=order, task_id=task_id, count=overlap, batch_at=second_at, rng=rng
                )
                queue.add(task_id, keys)
        taken = queue.claim(person, claims)
        if taken is None:
            continue
        claims += 1
        if claims % tenth == 0:
            figures.append((claims, queue.started(), queue.complete(overlap)))
        heapq.heappush(clock, (now + rng.uniform(20, 60), person, taken))
    return figures, queue.longest_wait


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skips", type=float, default=0.05, help="share of claims given back")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    import django

    django.setup()
    common = {
        "tasks": args.tasks,
        "people": args.people,
        "overlap": args.overlap,
        "seed": args.seed,
        "skips": args.skips,
    }
    print(
        f"{args.tasks:,} tasks, overlap {args.overlap}, {args.people} people, {args.skips:.0%} of"
        " claims given back (claims, started, complete)"
    )
    part_done = {}
    for title, order, second_batch, stamps in (
        ("random", "random", False, True),
        ("depth_first", "depth_first", False, True),
        ("random, 2nd batch halfway", "random", True, True),
        ("depth_first, 2nd batch halfway", "depth_first", True, True),
        ("per-task keys without batch time, 2nd batch halfway", "depth_first", True, False),
    ):
        figures, longest = simulate(order, second_batch=second_batch, stamps=stamps, **common)
        print(f"  {title}:")
        for claims, started, complete in figures[:5]:
            share = complete / started if started else 0
            print(
                f"    {claims:>9,} claims: {started:>8,} started, {complete:>8,} complete ({share:.1%})"
            )
        part_done[title] = max(started - complete for _, started, complete in figures[:9])
        print(f"    most tasks part-done at once (first nine tenths): {part_done[title]:,}")
        print(f"    longest wait of a started task for its last annotator: {longest:,} claims")
    budgets = [
        at_most(
            "depth_first: tasks part-done at once",
            part_done["depth_first"],
            args.people,
            "tasks",
            0,
        ),
        at_most(
            "depth_first with a 2nd batch: tasks part-done at once",
            part_done["depth_first, 2nd batch halfway"],
            args.people,
            "tasks",
            0,
        ),
    ]
    met = budgets_print("Queue order", budgets)
    return 0 if met or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
