"""Imports of tasks: batches and their jobs, validation of each record, storing in chunks.

Each module holds one of those; callers import from the module itself, not from this package.
"""
