"""Benchmark consensus as projects run it: dynamic overlap against fixed-5 Dawid-Skene, through
the product's own services on a real database, and Dawid-Skene's time on a million labels.

Steps, each printing what it measured:

1. A realistic simulated crowd: heavy-tailed activity (a few people do most of the work), 75%
   honest, 10% weak and 15% spammers, skewed class priors, a fixed seed.
2. Two consensus projects on a throwaway database (BENCH_DATABASE_URL for PostgreSQL, else a
   temporary SQLite file), made with `project_create` and `tasks_create`: fixed overlap 5 with
   Dawid-Skene, and dynamic overlap (2..7 labels, threshold 0.97) with Dawid-Skene. People claim
   with `slot_claim_next` and answer with `lease_submit`, the same calls the API makes; each
   person's answer to an item is drawn once, so both projects see the same answers. The
   estimates are refreshed with `consensus_confusions_estimate` (what the periodic job runs)
   after a warm-up batch and then after every tenth of the measured work. Printed for the
   measured batch: labels per task, accuracy against the simulated truth, the ECE of the stored
   confidence (`kit.calibration`), and for reference majority vote over the same five labels.
   With --uncertain-first the dynamic project runs a second time with the `uncertain_first`
   queue order (the least certain started task first), on the same answers, and is compared.
3. Dawid-Skene (`kit.consensus.dawid_skene`, which the estimates job runs) on --ds-tasks x 5
   labels of the same kind of crowd: seconds and iterations to convergence, and forced to 50.
4. The budgets: exit 1 when one is missed (always 0 with --report-only).

`.venv/bin/python bench/consensus.py` runs a quick size (about two minutes on SQLite);
`--full` runs 3,000 measured tasks and 1,000,000 labels for Dawid-Skene (about 15 minutes).
The same seed gives the same figures apart from the timings.
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
import logging
import os
import platform
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench._support import (
    Budget,
    at_least,
    at_most,
    budgets_print,
    database_drop,
    database_recreate,
    load_average,
)
from kit.aggregation import majority_single
from kit.calibration import expected_calibration_error
from kit.consensus import Population, dawid_skene, simulate_population

BUDGET_DAWID_SKENE_SECONDS = 10.0
BUDGET_LABEL_SAVING_PERCENT = 30.0
BUDGET_ACCURACY_LOSS_POINTS = 0.5
BUDGET_ECE = 0.01
FIXED_OVERLAP = 5
TASKS_PER_CALL = 1_000  # what `tasks_create` takes at once
MIN_OVERLAP = 2
MAX_OVERLAP = 7
THRESHOLD = 0.97
CLASSES = ["common", "usual", "rare", "scarce"]
CLASS_PRIORS = [0.5, 0.25, 0.15, 0.10]
SHARES = {"honest": 0.75, "weak": 0.10, "spammer": 0.15}
# Pareto activity: the busiest tenth of the crowd does about half of the work.
ACTIVITY_SHAPE = 1.2


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the full size (see the docstring)")
    parser.add_argument("--tasks", type=int, help="measured tasks per project (600; full 3,000)")
    parser.add_argument("--warmup", type=int, help="warm-up tasks per project (300; full 1,000)")
    parser.add_argument("--people", type=int, help="people in the crowd (80; full 200)")
    parser.add_argument(
        "--ds-tasks",
        type=int,
        help="tasks of the Dawid-Skene timing, 5 labels each (20,000; full 200,000)",
    )
    parser.add_argument("--seed", type=int, default=2024, help="seed of every simulation")
    parser.add_argument(
        "--uncertain-first",
        action="store_true",
        help="also run the dynamic project with the uncertain_first queue order, and compare",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="print the budgets but always exit 0"
    )
    args = parser.parse_args(argv)
    defaults = (3_000, 1_000, 200, 200_000) if args.full else (600, 300, 80, 20_000)
    for name, default in zip(("tasks", "warmup", "people", "ds_tasks"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    return args


# --- The crowd ---------------------------------------------------------------------------------


@dataclass
class Crowd:
    population: Population
    activity: np.ndarray
    rng: np.random.Generator
    answers: dict[tuple[int, int], int]

    def answer(self, person: int, item: int) -> int:
        """The class `person` gives `item`, drawn once (both projects see the same answer)."""
        key = (person, item)
        if key not in self.answers:
            row = self.population.confusions[person, self.population.truth[item]]
            self.answers[key] = int(self.rng.choice(len(row), p=row))
        return self.answers[key]


def crowd_make(n_items: int, n_people: int, seed: int) -> Crowd:
    population = simulate_population(
        n_items, n_people, len(CLASSES), shares=SHARES, seed=seed, class_priors=CLASS_PRIORS
    )
    rng = np.random.default_rng(seed + 7)
    activity = rng.pareto(ACTIVITY_SHAPE, n_people) + 1
    return Crowd(population, activity / activity.sum(), np.random.default_rng(seed + 11), {})


# --- The product's path ------------------------------------------------------------------------


def django_setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.pop("REDIS_URL", None)  # estimates and events run in process, as embedded
    # The people made by the services are sent account e-mails: drop them (as bench/queue.py).
    os.environ["EMAIL_URL"] = "dummymail://"
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings

    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)  # one line per in-process job otherwise
    # Throwaway accounts: hashing hundreds of passwords properly would dominate the set-up.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def people_make(n_people: int) -> list[Any]:
    from accounts.services import user_create
    from workforce.models import AnnotatorProfile, AnnotatorStatus
    from workforce.selectors.people import terms_current
    from workforce.services.people import (
        annotator_signup_complete,
        annotator_status_set,
        terms_publish,
    )

    terms = terms_current() or terms_publish(
        version="bench", title="Terms", body="Terms.", actor=None
    )
    people = []
    for n in range(n_people):
        user = user_create(
            email=f"bench{n}@example.test", password=None, email_verified=True, roles=()
        )
        annotator_signup_complete(
            user=user, country="KE", time_zone="Africa/Nairobi", languages=["en"],
            terms_version=terms.version,
        )  # fmt: skip
        profile = AnnotatorProfile.objects.get(user=user)
        annotator_status_set(profile=profile, status=AnnotatorStatus.ACTIVE, actor=None)
        people.append(user)
    return people


@dataclass
class ProjectRun:
    name: str
    labels_per_task: float
    accuracy: float
    ece: float
    in_review: int
    tied: int
    tasks: int
    refits: int
    seconds: float
    cycles: int
    majority_accuracy: float | None = None
    majority_ece: float | None = None
    project_id: int = 0


def project_run(
    name: str, settings: dict[str, Any], crowd: Crowd, people: list[Any], warmup: int, tasks: int
) -> ProjectRun:
    """Run one project through claims and submissions; measure its last `tasks` tasks."""
    from labeling.errors import NotQualified, NoWorkAvailable
    from labeling.models import Annotation, Task
    from labeling.services.claim import slot_claim_next
    from labeling.services.consensus import consensus_confusions_estimate
    from labeling.services.imports.batches import tasks_create
    from labeling.services.projects import customer_create, project_create
    from labeling.services.submit import lease_submit

    customer = customer_create(name=f"Bench {name}", actor=None)
    project = project_create(
        customer=customer,
        name=name,
        actor=None,
        status="active",
        task_type="single_label",
        labels=CLASSES,
        pipeline="consensus",
        gold_warmup=0,
        aggregation_method="dawid_skene",
        **settings,
    )
    item_of: dict[int, int] = {}
    started = time.perf_counter()
    cycles = refits = 0

    def batch(first: int, count: int) -> list[int]:
        before = set(Task.objects.filter(project=project).values_list("pk", flat=True))
        for start in range(0, count, TASKS_PER_CALL):
            tasks_create(
                project=project,
                tasks=[
                    {"text": f"Item {first + i}"}
                    for i in range(start, min(count, start + TASKS_PER_CALL))
                ],
                actor=None,
            )
        new = sorted(
            set(Task.objects.filter(project=project).values_list("pk", flat=True)) - before
        )
        item_of.update({pk: first + i for i, pk in enumerate(new)})
        return new

    def work(refit_every: int | None) -> None:
        nonlocal cycles, refits
        idle: set[int] = set()
        since_refit = 0
        while len(idle) < len(people):
            person = int(crowd.rng.choice(len(people), p=crowd.activity))
            if person in idle:
                continue
            try:
                lease = slot_claim_next(project=project, user=people[person]).lease
            except (NoWorkAvailable, NotQualified):
                idle.add(person)
                continue
            label = CLASSES[crowd.answer(person, item_of[lease.task_id])]
            lease_submit(lease_id=lease.pk, user=people[person], result={"label": label})
            cycles += 1
            idle.clear()
            since_refit += 1
            if refit_every and since_refit >= refit_every:
                consensus_confusions_estimate(project=project)
                refits += 1
                since_refit = 0

    batch(0, warmup)
    work(None)
    consensus_confusions_estimate(project=project)
    refits += 1
    expected_labels = tasks * settings["overlap"]
    measured = batch(warmup, tasks)
    work(max(1, expected_labels // 10))
    seconds = time.perf_counter() - started

    rows = Task.objects.filter(pk__in=measured).values_list("pk", "status", "result", "confidence")
    truth = crowd.population.truth
    correct, confidence = [], []
    in_review = tied = 0
    for pk, status, result, conf in rows:
        label = (result or {}).get("label")
        tied += label is None
        in_review += status == "in_review"
        correct.append(label == CLASSES[truth[item_of[pk]]])
        confidence.append(conf or 0.0)
    labels = Annotation.objects.filter(task_id__in=measured).count()
    run = ProjectRun(
        name=name,
        labels_per_task=labels / tasks,
        accuracy=float(np.mean(correct)),
        ece=expected_calibration_error(confidence, correct),
        in_review=in_review,
        tied=tied,
        tasks=tasks,
        refits=refits,
        seconds=seconds,
        cycles=cycles,
        project_id=project.pk,
    )
    if settings["overlap"] == FIXED_OVERLAP:
        votes: dict[int, list[dict[str, str]]] = {}
        for task_id, result in Annotation.objects.filter(task_id__in=measured).values_list(
            "task_id", "result"
        ):
            votes.setdefault(task_id, []).append(result)
        shares, right = [], []
        for task_id, results in votes.items():
            vote = majority_single(results)
            label = None if vote.is_tie or vote.result is None else vote.result["label"]
            shares.append(vote.agreement)
            right.append(label == CLASSES[truth[item_of[task_id]]])
        run.majority_accuracy = float(np.mean(right))
        run.majority_ece = expected_calibration_error(shares, right)
    return run


def run_print(run: ProjectRun) -> None:
    print(
        f"  {run.name}: {run.labels_per_task:.2f} labels per task, accuracy {run.accuracy:.2%},"
        f" ECE {run.ece:.4f}; {run.in_review} of {run.tasks} to review at the maximum,"
        f" {run.tied} tied; {run.refits} estimate refreshes; {run.cycles:,} claim+submit cycles"
        f" in {run.seconds:.0f} s",
        flush=True,
    )
    if run.majority_accuracy is not None and run.majority_ece is not None:
        print(
            f"    for reference, majority vote over the same five labels: accuracy"
            f" {run.majority_accuracy:.2%} (ties count as wrong), vote share as a confidence:"
            f" ECE {run.majority_ece:.4f}"
        )


def spam_rules_print(run: ProjectRun, crowd: Crowd, people: list[Any]) -> None:
    """Print each default quality rule's precision and recall on the crowd's spammers: the people
    it acted on during the run (rules are evaluated after each scored event, as in production)
    and those a dry run (`rule_dry_run`) on the project's latest estimates would still hit."""
    from labeling.models import Project
    from labeling.services.consensus import consensus_confusions_estimate
    from quality.models import QualityRule, RuleAction
    from quality.services.evaluation import rule_dry_run

    project = Project.objects.get(pk=run.project_id)
    consensus_confusions_estimate(project=project)
    kind_of = {person.pk: kind for person, kind in zip(people, crowd.population.kinds, strict=True)}
    spammers = {pk for pk, kind in kind_of.items() if kind == "spammer"}
    print(f"  default rules of {run.name} (the product's evaluation, a dry run):")
    for rule in QualityRule.objects.filter(project=project).order_by("pk"):
        hits = rule_dry_run(rule=rule)
        acted = set(RuleAction.objects.filter(rule=rule).values_list("user_id", flat=True))
        flagged = acted | {hit.person.pk for hit in hits if hit.would_fire}
        judged = acted | {hit.person.pk for hit in hits if hit.sample >= rule.min_sample}
        caught = len(flagged & spammers)
        weak = sum(1 for pk in flagged if kind_of.get(pk) == "weak")
        precision = f"{caught / len(flagged):.0%}" if flagged else "n/a (nobody flagged)"
        recall = f"{caught / len(spammers & judged):.0%}" if spammers & judged else "n/a"
        print(
            f"    {rule.name}: flags {len(flagged)} ({len(acted)} during the run; {caught} spammers,"
            f" {weak} weak but honest);"
            f" precision {precision}, recall {recall} of the {len(spammers & judged)} spammers"
            f" with at least {rule.min_sample} items"
        )


# --- Dawid-Skene's time ------------------------------------------------------------------------


@dataclass
class DawidSkeneFigures:
    labels: int
    seconds: float
    iterations: int
    converged: bool
    forced_seconds: float
    forced_iterations: int
    accuracy: float


def dawid_skene_bench(n_tasks: int, seed: int) -> DawidSkeneFigures:
    """Simulate 5 labels per task from 2,000 people of the same crowd and time Dawid-Skene."""
    people, per_task = 2_000, 5
    population = simulate_population(
        n_tasks, people, len(CLASSES), shares=SHARES, seed=seed, class_priors=CLASS_PRIORS
    )
    rng = np.random.default_rng(seed)
    workers = population.assign(rng, per_task)
    tasks = np.repeat(np.arange(n_tasks), per_task)
    labels = population.label(rng, tasks, workers.ravel())
    args = (tasks, workers.ravel(), labels, n_tasks, people, len(CLASSES))
    started = time.perf_counter()
    result = dawid_skene(*args)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    forced = dawid_skene(*args, max_iter=50, tol=0.0)
    forced_seconds = time.perf_counter() - started
    figures = DawidSkeneFigures(
        labels=int(labels.size),
        seconds=seconds,
        iterations=result.iterations,
        converged=result.converged,
        forced_seconds=forced_seconds,
        forced_iterations=forced.iterations,
        accuracy=float((result.posteriors.argmax(axis=1) == population.truth).mean()),
    )
    print(
        f"  to convergence: {seconds:.2f} s, {result.iterations} iterations"
        f" ({'converged' if result.converged else 'not converged'}),"
        f" {seconds / result.iterations * 1000:.0f} ms per iteration; accuracy {figures.accuracy:.2%}"
    )
    print(
        f"  forced to {forced.iterations} iterations (tol=0): {forced_seconds:.2f} s,"
        f" {forced_seconds / forced.iterations * 1000:.0f} ms per iteration",
        flush=True,
    )
    return figures


def budgets_of(ds: DawidSkeneFigures, fixed: ProjectRun, dynamic: ProjectRun) -> list[Budget]:
    """Compare the figures with the budgets (the time budget is for 1,000,000 labels)."""
    saving = 100 * (1 - dynamic.labels_per_task / fixed.labels_per_task)
    full = ds.labels >= 1_000_000
    per_iteration_1m = ds.forced_seconds / ds.forced_iterations * 1_000_000 / ds.labels
    return [
        at_least(
            "dynamic overlap: fewer labels than fixed-5 DS",
            saving,
            BUDGET_LABEL_SAVING_PERCENT,
            "%",
            1,
        ),
        at_least(
            "dynamic overlap: accuracy vs fixed-5 DS minus 0.5",
            100 * dynamic.accuracy,
            100 * fixed.accuracy - BUDGET_ACCURACY_LOSS_POINTS,
            "%",
            2,
        ),
        at_most("dynamic overlap: ECE of the stored confidence", dynamic.ece, BUDGET_ECE, "", 4),
        at_most("fixed-5 DS: ECE of the stored confidence", fixed.ece, BUDGET_ECE, "", 4),
        at_most(
            "dawid-skene, 1M labels: seconds to convergence",
            ds.seconds if full else None,
            BUDGET_DAWID_SKENE_SECONDS,
            "s",
            2,
        ),
        at_most(
            "dawid-skene: 50 iterations scaled to 1M labels",
            50 * per_iteration_1m,
            BUDGET_DAWID_SKENE_SECONDS,
            "s",
            2,
        ),
    ]


def main(argv: list[str]) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    print("bench/consensus.py: consensus through the product's services on a simulated crowd")
    print(
        f"cores: {os.cpu_count()}; Python {platform.python_version()}, numpy {np.__version__};"
        f" load {load_average()} (1/5/15 min); seed {args.seed}"
    )
    url = os.environ.get("BENCH_DATABASE_URL")
    scratch = None
    if url:
        database_recreate(url)
    else:
        scratch = tempfile.TemporaryDirectory(prefix="quorum-bench-")
        url = f"sqlite:///{scratch.name}/bench.sqlite3"
    print(f"database: {url.split('://', 1)[0]}; EMAIL_URL=dummymail:// (account e-mails dropped)")
    try:
        started = time.perf_counter()
        django_setup(url)
        crowd = crowd_make(args.warmup + args.tasks, args.people, args.seed)
        people = people_make(args.people)
        kinds = Counter(crowd.population.kinds)
        top = np.sort(crowd.activity)[::-1]
        print(
            f"crowd: {args.people} people ({kinds['honest']} honest, {kinds['weak']} weak,"
            f" {kinds['spammer']} spammers), busiest tenth does"
            f" {top[: max(1, args.people // 10)].sum():.0%} of the claims; classes {CLASSES}"
            f" with priors {CLASS_PRIORS}; {args.warmup:,} warm-up and {args.tasks:,} measured"
            f" tasks per project (set up in {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        print("\nprojects (the measured batch):")
        fixed = project_run(
            "fixed-5 Dawid-Skene",
            {"overlap": FIXED_OVERLAP, "max_overlap": FIXED_OVERLAP, "confidence_threshold": None},
            crowd,
            people,
            args.warmup,
            args.tasks,
        )
        run_print(fixed)
        spam_rules_print(fixed, crowd, people)
        dynamic = project_run(
            f"dynamic overlap {MIN_OVERLAP}..{MAX_OVERLAP} at {THRESHOLD}",
            {
                "overlap": MIN_OVERLAP,
                "max_overlap": MAX_OVERLAP,
                "confidence_threshold": THRESHOLD,
            },
            crowd,
            people,
            args.warmup,
            args.tasks,
        )
        run_print(dynamic)
        if args.uncertain_first:
            uncertain = project_run(
                f"dynamic overlap {MIN_OVERLAP}..{MAX_OVERLAP} at {THRESHOLD}, uncertain first",
                {
                    "overlap": MIN_OVERLAP,
                    "max_overlap": MAX_OVERLAP,
                    "confidence_threshold": THRESHOLD,
                    "queue_order": "uncertain_first",
                },
                crowd,
                people,
                args.warmup,
                args.tasks,
            )
            run_print(uncertain)
            print(
                f"  uncertain first against depth-first: labels per task"
                f" {uncertain.labels_per_task - dynamic.labels_per_task:+.2f}, accuracy"
                f" {100 * (uncertain.accuracy - dynamic.accuracy):+.2f} points, ECE"
                f" {uncertain.ece - dynamic.ece:+.4f}"
            )
    finally:
        if scratch is not None:
            scratch.cleanup()
        elif url:
            from django.db import connections

            connections.close_all()
            database_drop(url)

    print(f"\nDawid-Skene on {args.ds_tasks * 5:,} labels")
    ds = dawid_skene_bench(args.ds_tasks, args.seed)
    print(f"load after the run: {load_average()} (1/5/15 min)")

    met = budgets_print("budgets:", budgets_of(ds, fixed, dynamic))
    return 0 if met or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
