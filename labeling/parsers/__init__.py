"""Dataset files to task records: each format's reader, the records they make, and the choice.

Each module holds one of those; callers import from the module itself, not from this package.
"""
