"""Benchmarks: scripts that print figures and compare them with budgets (see README.md).

This file makes `bench` a package, so that `bench/queue.py` is the module `bench.queue` to type
checkers rather than a second, top-level `queue` that would shadow the standard library's.
"""
