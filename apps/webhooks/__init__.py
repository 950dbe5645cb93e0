"""Outbound webhooks to the reputation engine: the transactional outbox and its delivery."""
