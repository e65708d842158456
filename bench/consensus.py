"""Benchmark consensus: Dawid-Skene on a million labels, and dynamic overlap against fixed overlap.

Steps, each printing what it measured (simulated annotators, no database):

1. Dawid-Skene on 1,000,000 labels: 200,000 tasks x 5 labels from 2,000 simulated people (honest,
   weak and spammers), 4 classes. Time it to convergence and again forced to all 50 iterations;
   compare its accuracy against the simulated truth with the majority vote's.
2. Dynamic overlap on --tasks tasks (20,000): fixed overlap 5 with majority vote against asking
   for labels one at a time until the task posterior (`task_posterior` with the confusions of a
   Dawid-Skene run on a warm-up batch) is final by `overlap_decision`.
3. Compare the figures with the budgets: exit 1 when one is missed (always 0 with --report-only).

Run it as a script: `.venv/bin/python bench/consensus.py [--tasks N] [--seed S] [--report-only]`.
The same seed gives the same figures, apart from the timings.
"""

from __future__ import annotations

import sys
from pathlib import Path

# As in bench/queue.py: take this directory off sys.path, where bench/queue.py would shadow the
# standard library's `queue`, and put the project root first so that `bench` and `labeling` import.
sys.path.append(str(Path(__file__).resolve().parent))
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import contextlib
import os
import platform
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from bench._support import Budget, at_least, at_most, budgets_print, load_average
from kit.aggregation import majority_single
from kit.consensus import (
    Decision,
    Population,
    dawid_skene,
    overlap_decision,
    simulate_population,
    task_posterior,
)

BUDGET_DAWID_SKENE_SECONDS = 10.0
BUDGET_LABEL_SAVING_PERCENT = 30.0
FIXED_OVERLAP = 5
# Two labels at least: one label is never enough evidence to skip review of a spammer's answer,
# and with Dawid-Skene confusions two agreeing reliable people already pass 0.95. A minimum of 3
# costs about 3.6 labels per task here, missing the 30% saving. Past 5 labels (up to 7) only the
# hard tasks go, which lifts accuracy above fixed 5 while the average stays near 3.
MIN_OVERLAP = 2
MAX_OVERLAP = 7
THRESHOLD = 0.95
# The product re-estimates confusions periodically from labels already collected; here a warm-up
# batch labeled at fixed overlap 5 plays the last estimate (125 labels per person on average).
WARMUP_TASKS = 5_000
OVERLAP_PEOPLE = 200
N_CLASSES = 4
SHARES = {"honest": 0.5, "weak": 0.3, "spammer": 0.2}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks", type=int, default=20_000, help="tasks of the dynamic overlap simulation"
    )
    parser.add_argument(
        "--ds-tasks",
        type=int,
        default=200_000,
        help="tasks of the Dawid-Skene run (5 labels each, default 1,000,000 labels)",
    )
    parser.add_argument("--seed", type=int, default=2024, help="seed of every simulation")
    parser.add_argument(
        "--report-only", action="store_true", help="print the budgets but always exit 0"
    )
    return parser.parse_args(argv)


def labels_draw(
    population: Population, per_task: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Let `per_task` distinct random people label every task: (people, labels), tasks x per_task."""
    people = population.assign(rng, per_task)
    tasks = np.repeat(np.arange(population.n_tasks), per_task)
    labels = population.label(rng, tasks, people.ravel()).reshape(people.shape)
    return people, labels


def majority_of(labels: np.ndarray, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """The majority label of each row, ties broken at random."""
    rows = np.repeat(np.arange(labels.shape[0]), labels.shape[1])
    votes = np.bincount(rows * n_classes + labels.ravel(), minlength=labels.shape[0] * n_classes)
    noise = rng.random((labels.shape[0], n_classes)) / 2  # below one vote: breaks ties only
    result: np.ndarray = (votes.reshape(-1, n_classes) + noise).argmax(axis=1)
    return result


@dataclass
class DawidSkeneFigures:
    labels: int
    seconds: float
    iterations: int
    converged: bool
    forced_seconds: float
    forced_iterations: int
    accuracy: float
    majority_accuracy: float


def dawid_skene_bench(n_tasks: int, seed: int) -> DawidSkeneFigures:
    """Simulate 5 labels per task from 2,000 people and time Dawid-Skene on them."""
    people, classes, per_task = 2_000, 4, 5
    started = time.perf_counter()
    population = simulate_population(n_tasks, people, classes, shares=SHARES, seed=seed)
    rng = np.random.default_rng(seed)
    workers, labels = labels_draw(population, per_task, rng)
    tasks = np.repeat(np.arange(n_tasks), per_task)
    kinds = Counter(population.kinds)
    print(
        f"  simulated {labels.size:,} labels ({n_tasks:,} tasks x {per_task}, {people:,} people:"
        f" {kinds['honest']} honest ~0.9, {kinds['weak']} weak ~0.6, {kinds['spammer']} spammers;"
        f" {classes} classes) in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    started = time.perf_counter()
    result = dawid_skene(tasks, workers.ravel(), labels.ravel(), n_tasks, people, classes)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    forced = dawid_skene(
        tasks, workers.ravel(), labels.ravel(), n_tasks, people, classes, max_iter=50, tol=0.0
    )
    forced_seconds = time.perf_counter() - started

    accuracy = float((result.posteriors.argmax(axis=1) == population.truth).mean())
    majority = float((majority_of(labels, classes, rng) == population.truth).mean())
    figures = DawidSkeneFigures(
        labels=int(labels.size),
        seconds=seconds,
        iterations=result.iterations,
        converged=result.converged,
        forced_seconds=forced_seconds,
        forced_iterations=forced.iterations,
        accuracy=accuracy,
        majority_accuracy=majority,
    )
    print(
        f"  to convergence: {seconds:.2f} s, {result.iterations} iterations"
        f" ({'converged' if result.converged else 'not converged'}),"
        f" {seconds / result.iterations * 1000:.0f} ms per iteration"
    )
    print(f"  forced to {forced.iterations} iterations (tol=0): {forced_seconds:.2f} s")
    print(
        f"  accuracy against the simulated truth: Dawid-Skene {accuracy:.2%},"
        f" majority vote {majority:.2%} (ties broken at random)",
        flush=True,
    )
    return figures


@dataclass
class OverlapFigures:
    fixed_labels: float
    fixed_accuracy: float
    fixed_weighted_accuracy: float
    dynamic_labels: float
    dynamic_accuracy: float
    final_accuracy: float
    review_share: float
    stopped_at: Counter[int]


def overlap_bench(n_tasks: int, seed: int) -> OverlapFigures:
    """Compare fixed overlap 5 by majority vote with dynamic overlap on the same people and labels."""
    classes = [f"class{k}" for k in range(N_CLASSES)]
    population = simulate_population(
        WARMUP_TASKS + n_tasks, OVERLAP_PEOPLE, N_CLASSES, shares=SHARES, seed=seed + 1
    )
    rng = np.random.default_rng(seed + 1)
    # Each task's people in the order they would come; a person's label for a task is drawn once,
    # so both policies see the same answers and differ only in how many they ask for.
    people, labels = labels_draw(population, MAX_OVERLAP, rng)
    kinds = Counter(population.kinds)
    print(
        f"  {OVERLAP_PEOPLE} people ({kinds['honest']} honest, {kinds['weak']} weak,"
        f" {kinds['spammer']} spammers), {N_CLASSES} classes; each new label on a task comes"
        " from a random person who has not labeled it yet"
    )

    warm = slice(0, WARMUP_TASKS)
    warm_tasks = np.repeat(np.arange(WARMUP_TASKS), FIXED_OVERLAP)
    estimate = dawid_skene(
        warm_tasks,
        people[warm, :FIXED_OVERLAP].ravel(),
        labels[warm, :FIXED_OVERLAP].ravel(),
        WARMUP_TASKS,
        OVERLAP_PEOPLE,
        N_CLASSES,
    )
    seen = np.bincount(people[warm, :FIXED_OVERLAP].ravel(), minlength=OVERLAP_PEOPLE)
    confusions = {w: estimate.confusions[w] if seen[w] else None for w in range(OVERLAP_PEOPLE)}
    print(
        f"  confusions from Dawid-Skene on a warm-up batch of {WARMUP_TASKS:,} tasks x"
        f" {FIXED_OVERLAP} ({seen.min()}..{seen.max()} labels per person, {estimate.iterations}"
        " iterations); the warm-up labels are not counted below",
        flush=True,
    )

    fixed_correct = weighted_correct = dynamic_correct = final_correct = finals = reviews = 0
    dynamic_labels = 0
    stopped_at: Counter[int] = Counter()
    started = time.perf_counter()
    for row in range(WARMUP_TASKS, WARMUP_TASKS + n_tasks):
        true = classes[population.truth[row]]
        answers = [(int(people[row, j]), classes[labels[row, j]]) for j in range(MAX_OVERLAP)]

        vote = majority_single([{"label": label} for _, label in answers[:FIXED_OVERLAP]])
        fixed = vote.tied[rng.integers(len(vote.tied))] if vote.is_tie else vote.result["label"]  # type: ignore[index]  # a vote over labels has a result
        fixed_correct += fixed == true
        weighted = task_posterior(answers[:FIXED_OVERLAP], confusions, estimate.priors, classes)
        weighted_correct += map_label(weighted.probabilities, rng) == true

        for n in range(1, MAX_OVERLAP + 1):
            posterior = task_posterior(answers[:n], confusions, estimate.priors, classes)
            decision = overlap_decision(
                posterior,
                n_labels=n,
                min_overlap=MIN_OVERLAP,
                max_overlap=MAX_OVERLAP,
                threshold=THRESHOLD,
            )
            if decision != Decision.MORE:
                break
        dynamic_labels += n
        stopped_at[n] += 1
        correct = map_label(posterior.probabilities, rng) == true
        dynamic_correct += correct
        if decision == Decision.FINAL:
            finals += 1
            final_correct += correct
        else:
            reviews += 1
    elapsed = time.perf_counter() - started

    figures = OverlapFigures(
        fixed_labels=float(FIXED_OVERLAP),
        fixed_accuracy=fixed_correct / n_tasks,
        fixed_weighted_accuracy=weighted_correct / n_tasks,
        dynamic_labels=dynamic_labels / n_tasks,
        dynamic_accuracy=dynamic_correct / n_tasks,
        final_accuracy=final_correct / finals if finals else 0.0,
        review_share=reviews / n_tasks,
        stopped_at=stopped_at,
    )
    print(f"  {n_tasks:,} tasks simulated in {elapsed:.1f} s")
    print(
        f"  (a) fixed overlap {FIXED_OVERLAP}, majority vote:    {figures.fixed_labels:.2f} labels"
        f" per task, accuracy {figures.fixed_accuracy:.2%} (ties broken at random)"
    )
    print(
        f"      fixed overlap {FIXED_OVERLAP}, confusion posterior: {figures.fixed_labels:.2f} labels"
        f" per task, accuracy {figures.fixed_weighted_accuracy:.2%} (for comparison, no budget)"
    )
    print(
        f"  (b) dynamic overlap {MIN_OVERLAP}..{MAX_OVERLAP}, threshold {THRESHOLD}:"
        f" {figures.dynamic_labels:.2f} labels per task, accuracy {figures.dynamic_accuracy:.2%}"
    )
    spread = ", ".join(f"{n}: {stopped_at[n] / n_tasks:.1%}" for n in sorted(stopped_at))
    print(f"      stopped after n labels: {spread}")
    print(
        f"      final by threshold: {finals / n_tasks:.1%} of tasks, accuracy"
        f" {figures.final_accuracy:.2%}; below threshold at {MAX_OVERLAP} labels:"
        f" {figures.review_share:.1%}, which go to review in the product and are counted here"
        " with their most probable label",
        flush=True,
    )
    return figures


def map_label(probabilities: dict[str, float], rng: np.random.Generator) -> str:
    """The most probable label, a tie broken at random."""
    top = max(probabilities.values())
    tied = [label for label, p in probabilities.items() if p == top]
    return tied[rng.integers(len(tied))] if len(tied) > 1 else tied[0]


def budgets_of(ds: DawidSkeneFigures, overlap: OverlapFigures) -> list[Budget]:
    """Compare the figures with the budgets."""
    saving = 100 * (1 - overlap.dynamic_labels / overlap.fixed_labels)
    size = f"{ds.labels / 1e6:g}M" if ds.labels >= 1_000_000 else f"{ds.labels:,}"
    return [
        at_most(
            f"dawid-skene, {size} labels: seconds to convergence",
            ds.seconds,
            BUDGET_DAWID_SKENE_SECONDS,
            "s",
            2,
        ),
        at_most(
            f"dawid-skene, {size} labels: seconds for 50 iterations",
            ds.forced_seconds,
            BUDGET_DAWID_SKENE_SECONDS,
            "s",
            2,
        ),
        at_least(
            "dynamic overlap: fewer labels than fixed 5",
            saving,
            BUDGET_LABEL_SAVING_PERCENT,
            "%",
            1,
        ),
        at_least(
            "dynamic overlap: accuracy vs fixed-5 majority",
            100 * overlap.dynamic_accuracy,
            100 * overlap.fixed_accuracy,
            "%",
            2,
        ),
    ]


def main(argv: list[str]) -> int:
    """Run both benchmarks; return the exit status."""
    args = parse_args(argv)
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu
        )
    print("bench/consensus.py: Dawid-Skene and dynamic overlap on simulated annotators")
    print(
        f"cores: {os.cpu_count()} ({cpu}); Python {platform.python_version()}, numpy"
        f" {np.__version__}; load {load_average()} (1/5/15 min); seed {args.seed}"
    )

    print(f"\nDawid-Skene on {args.ds_tasks * 5:,} labels")
    ds = dawid_skene_bench(args.ds_tasks, args.seed)

    print(f"\ndynamic overlap on {args.tasks:,} tasks")
    overlap = overlap_bench(args.tasks, args.seed)

    met = budgets_print("budgets:", budgets_of(ds, overlap))
    return 0 if met or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
