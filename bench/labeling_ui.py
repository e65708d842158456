"""Benchmark the labeling page in a real browser: submit-to-next-task time on the local server.

Steps, each printing what it did:

1. Make a database of its own and seed the demo with `seed_demo` (DEBUG=true): a SQLite file in a
   temporary directory, or the PostgreSQL database named by --database-url (dropped and made anew).
2. Serve the app with `runserver --noreload` on a free local port.
3. Drive Debian's Chromium (headless, through Playwright): sign in as the demo annotator, open
   "Product review sentiment" from the work home, and label --tasks tasks by keyboard (a label's
   key, then Enter). Before each Enter the page has reserved the next task, as it has for a person
   who reads the text first.
4. Leave out the first --warmup submissions, read the page's own timings (`window.quorumTimings`: performance.now() from the Enter key to the
   next task drawn, measured in the browser), print p50 and p95 and compare p95 with the 150 ms
   budget: exit 1 when it is missed (always 0 with --report-only).

Run it as a script: `.venv/bin/python bench/labeling_ui.py [--report-only] [--tasks N]
[--database-url postgres://...] [--keep-db]`. It is not part of the test suite; `make bench` runs
it with the other bench/*.py scripts.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import os
import subprocess
import tempfile
import time

from bench._support import (
    ROOT,
    at_most,
    budgets_print,
    database_drop,
    database_recreate,
    free_port,
    percentile,
    wait_http_ok,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BUDGET_MS = 150.0
ANNOTATOR = ("annotator@demo.quorum", "demo-annotator-pass")
PROJECT = "Product review sentiment"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--report-only", action="store_true", help="print the budget but always exit 0"
    )
    parser.add_argument(
        "--tasks", type=int, default=30, help="tasks to label (the demo has 36; default 30)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_UI_DATABASE_URL", ""),
        help="a PostgreSQL URL to recreate and use (default: a SQLite file in a temporary directory)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=3,
        help="first submissions left out of the figures (cold server code paths; default 3)",
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the PostgreSQL database afterwards"
    )
    parser.add_argument("--headed", action="store_true", help="show the browser window")
    return parser.parse_args(argv)


def server_env(database_url: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DEBUG": "true",
            "DATABASE_URL": database_url,
            "SITE_URL": f"http://127.0.0.1:{port}",
            "SECRET_KEY": env.get(
                "SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnop"
            ),
            "LOG_LEVEL": "WARNING",
        }
    )
    env.pop("REDIS_URL", None)
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(  # our own manage.py with fixed arguments
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def label_tasks(base_url: str, count: int, *, headed: bool) -> tuple[list[float], int]:
    """Label `count` tasks by keyboard; return the page's timings and the console errors seen."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=not headed, args=CHROMIUM_ARGS
        )
        page = browser.new_context(base_url=base_url).new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto("/accounts/login/")
        page.fill("input[name=login]", ANNOTATOR[0])
        page.fill("input[name=password]", ANNOTATOR[1])
        page.click("form button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        page.goto("/work/")
        page.get_by_role("link", name=f"Start {PROJECT}").click()
        page.wait_for_selector("#task:not([hidden])")
        for i in range(count):
            page.wait_for_function(
                "() => ['ready', 'none'].includes(document.getElementById('task').dataset.ahead)"
            )
            current = page.get_attribute("#task", "data-task-id")
            page.keyboard.press("123"[i % 3])
            page.keyboard.press("Enter")
            page.wait_for_function(
                "prev => { const t = document.getElementById('task');"
                " return t.hidden || t.dataset.taskId !== prev; }",
                arg=current,
            )
            if page.is_hidden("#task"):
                print(f"  the queue ran out after {i + 1} tasks")
                break
        timings = [float(t) for t in page.evaluate("window.quorumTimings")]
        browser.close()
    return timings, len(errors)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="quorum-bench-ui-") as tmp:
        database_url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        if database_url.startswith("postgres"):
            database_recreate(database_url)
        port = free_port()
        env = server_env(database_url, port)
        print(f"database: {database_url.split('@')[-1]}")
        started = time.monotonic()
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo")
        print(f"migrated and seeded in {time.monotonic() - started:.1f} s")
        log = (Path(tmp) / "server.log").open("w")
        server = subprocess.Popen(  # our own manage.py with fixed arguments
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "runserver",
                "--noreload",
                f"127.0.0.1:{port}",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_http_ok(f"{base_url}/healthz", timeout=30, alive=lambda: server.poll() is None)
            print(f"server: runserver on {base_url}; labeling {args.tasks} tasks by keyboard")
            timings, errors = label_tasks(base_url, args.tasks, headed=args.headed)
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()
            if database_url.startswith("postgres") and not args.keep_db:
                database_drop(database_url)
    warm, timings = timings[: args.warmup], timings[args.warmup :]
    p50, p95 = percentile(timings, 50), percentile(timings, 95)
    print(
        f"submit-to-next-task samples: {len(timings)} (after {len(warm)} warm-up: "
        f"{', '.join(f'{t:.0f}' for t in warm)} ms); console errors: {errors}"
    )
    if timings:
        print(f"  min {min(timings):.1f} ms, max {max(timings):.1f} ms")
    met = budgets_print(
        "budgets:",
        [
            at_most("submit-to-next-task p50", p50, BUDGET_MS, "ms"),
            at_most("submit-to-next-task p95", p95, BUDGET_MS, "ms"),
        ],
    )
    if errors:
        print("console errors were seen on the labeling page")
        met = False
    return 0 if met or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
