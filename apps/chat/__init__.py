"""Chat threads, ordered messages, realtime streams and attachments."""
