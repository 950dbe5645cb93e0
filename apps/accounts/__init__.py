"""Users, roles, tokens, sign-up/sign-in pages and API."""
