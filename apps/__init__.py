"""Django apps, one per domain."""
