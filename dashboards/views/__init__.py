"""The dashboards' portal pages, one module per audience, each with its own URL patterns."""
