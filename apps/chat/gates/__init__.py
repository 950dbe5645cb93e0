"""The four chat release gates of 03-chat.md as plain async functions over HTTP/WS/SSE clients.

Both ``tests/chat/test_release_gates.py`` and ``manage.py release_gates`` call
``runner.run_gates``, so CI and an operator run exactly the same checks.
"""
