"""Shared foundations: the SurrealDB data layer, API conventions, health and metrics."""
