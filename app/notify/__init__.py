"""Notifications: the in-app inbox, SMS / WeCom / e-signature outbox, and who to tell.

Other packages call the service API (``app.notify.services``), always inside their own
transaction — the notification is written, or rolled back, with the change it reports::

    from app.notify.services import notify, notify_task_candidates

    notify(["mgr_east", user], kind="urge", title="请尽快审批 Please review",
           body="…", link="/tasks/12", instance_id=3, task_id=12,
           channels=("inbox", "sms"))          # "inbox" | "sms" | "wecom"
    notify_task_candidates(task, "cc", "抄送 CC", channels=("inbox", "wecom"))

``recipients`` are usernames or ``User`` objects (inactive users are skipped); ``inbox``
writes one ``notification`` row per user, ``sms`` queues an outbox message to the user's
mobile (``user.phone``; users without one get none), ``wecom`` one to the WeCom user id (the
username). ``notify_task_candidates`` resolves who may act on a human task exactly as the
inbox does: its assignee, else its candidate users and the users of its candidate roles within
the task's region scope. ``queue_message(channel, recipient, payload)`` queues a raw outbox
message (``sms`` / ``wecom`` / ``esign``).

Each queued message gets a ``notify.deliver`` job (``app.jobs.services.enqueue``), which the
worker runs like an ERP call: through the HTTP adapters in ``connectors.notify`` when
``DEALERFLOW_SMS_URL`` / ``_WECOM_URL`` / ``_ESIGN_URL`` are set, otherwise the outbox itself is
the destination (the embedded default, visible to admins under Admin → Outbox and
``GET /api/v1/outbox``). Failed sends retry with the jobs' exponential backoff
(``JOB_BACKOFF_SECONDS``); after ``JOB_MAX_ATTEMPTS`` the job is an incident (the message shows
``failed``) that an admin retries from Admin → Incidents, the incidents API or the outbox. The embedded
e-signature service signs ``ESIGN_SIGN_DELAY_SECONDS`` after sending and delivers message
``esign_signed`` (payload ``{contract_id, signer, signed_at, envelope_id}``, stored in the
catch event's ``messageVariable``) to the instance whose ``contract_id`` matches.

BPMN service tasks reach the same code through the registry operations in
``app.notify.operations`` (``notify.remind_task``, ``notify.users``, ``sms.send``,
``esign.send_contract``).
"""
