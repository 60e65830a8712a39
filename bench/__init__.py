"""Benchmarks of websockets-routes against baselines measured in the same run.

Run them with ``python -m bench`` (or ``make bench``); ``python -m bench --help``
lists the options. Each section prints one table; see ``docs/performance.md``.
Focused benchmarks run on their own: ``python -m bench.broadcast``,
``python -m bench.messages`` and ``python -m bench.redos``.
"""
