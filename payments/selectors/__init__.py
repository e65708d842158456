"""Every reused or scoped read of payments, one module per topic."""
