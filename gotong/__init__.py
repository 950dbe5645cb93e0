"""Gotong Royong project package: settings, URLs and the ASGI application."""
