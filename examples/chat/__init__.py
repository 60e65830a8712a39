"""A chat app with rooms, typed messages and broadcast: ``make demo`` runs it.

Run it with ``python -m examples.chat`` (one process), or with the CLI and several
workers sharing rooms through Redis::

    websockets-routes serve examples.chat.app:router --workers 2 \\
        --broadcast redis://127.0.0.1:6379/0

Then open http://127.0.0.1:8765/?room=lobby&name=alice in a browser. See
``docs/chat-example.md``.
"""
