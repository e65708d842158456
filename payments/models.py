"""Money: rate cards, the ledger, payout accounts and runs (see DESIGN.md, "Money")."""
