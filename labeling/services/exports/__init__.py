"""Exports of a project's labels: filters, Python rows, PostgreSQL JSON Lines, streams and jobs.

Each module holds one of those; callers import from the module itself, not from this package.
"""
