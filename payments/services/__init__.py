"""Every write of payments, one module per topic (import from the module: `payments.services.ledger`)."""
