"""Demo data for a newcomer: ``manage.py seed_demo`` and ``manage.py serve --demo``."""
