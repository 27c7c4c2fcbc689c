"""The load-and-fault run (``make loadtest``; ``python -m tests.loadtest --help``).

The demo site runs under gunicorn with two workers on a PostgreSQL and a Redis of the
run's own; a mixed load runs while the database restarts, Redis pauses and the policy
file is edited, broken and repaired. Every answer is checked against the policy's own
decision (:mod:`tests.loadtest.oracle`).
"""
