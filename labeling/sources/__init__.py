"""Where dataset files come from: uploads, web addresses and cloud objects, read as one stream.

Each module holds one of those; callers import from the module itself, not from this package.
"""
