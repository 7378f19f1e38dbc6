"""Jobs: service tasks run by workers, incidents, and periodic jobs.

Service tasks
    Each STARTED service task of an instance becomes a ``job`` row (``services.sync_jobs``) with
    an idempotency key ``<instance id>:<engine task id>``. ``flask worker`` claims due jobs in
    batches (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), runs remote
    operations in a pool of ``WORKER_CONCURRENCY`` threads and applies each result in its own
    transaction on its own thread (a 409 from the instance's lock re-applies; the call is never
    repeated). Technical failures retry with exponential backoff, then open an ``incident``.
    Results that finish together are applied in one transaction, a savepoint each
    (``services.finish_batch``), with their audit events appended just before the commit.
    On PostgreSQL, queueing a job sends ``NOTIFY dealerflow_jobs`` at commit and ``flask
    worker`` LISTENs, so it polls at once instead of at its next interval (``app.jobs.wakeup``).

Standalone calls
    Platform code queues a connector call that no BPMN task waits for with
    ``services.enqueue(operation, params, idempotency_key=…, instance_id=None)`` in its own
    transaction (e.g. ``notify.deliver`` for each outbox message). The worker runs it with the
    same retries, backoff and incidents; ``services.call_completion_hooks[operation]`` receives
    ``(job, result)`` in the transaction that completes it.

Periodic jobs (``app.jobs.periodic``)
    Register a function once, at import time of a module ``create_app`` imports::

        from datetime import timedelta
        from app.jobs.periodic import register_periodic

        register_periodic("erp.delivery_poll", every=timedelta(minutes=5), func=poll_deliveries,
                          description="Pull deliveries changed since the last poll")

    Every worker schedules it at the slot starts (slots of ``every``, aligned on the epoch); a
    unique ``periodic_run (name, slot_start)`` row lets exactly one worker run each slot,
    whatever the number of workers, on PostgreSQL and SQLite. ``func()`` runs in an app context
    and may use ``db.session``; its writes commit with the run's outcome, an exception rolls
    them back and is kept as the run's ``last_error``. Admins see every job's last run, last
    failure and next slot in ``GET /api/v1/jobs/periodic`` and ``flask jobs periodic``;
    ``flask jobs run-periodic NAME`` or ``POST /api/v1/jobs/periodic/NAME/run`` runs one now.
"""
