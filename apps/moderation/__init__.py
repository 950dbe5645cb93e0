"""Moderation: decisions, content states, reports, appeals, the hash-chained ledger, the admin site."""
