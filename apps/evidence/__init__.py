"""Contributions, Proof-of-Reality evidence (metadata and files) and vouches."""
