"""SQLite WAL checkpoints run in a background thread, not inside a request's commit."""

import time

from sqlalchemy import text

from app import create_app
from app.core.web import WAL_SAFETY_PAGES, WalCheckpointer
from app.extensions import db


def _app(path, seconds):
    return create_app({"DATABASE_URL": f"sqlite:///{path}", "TESTING": True,
                       "SECRET_KEY": "t", "DEPLOY_ON_STARTUP": False,
                       "SQLITE_CHECKPOINT_SECONDS": seconds})


def _write_megabytes(app, megabytes: int) -> None:
    with app.app_context():
        db.session.execute(text("CREATE TABLE IF NOT EXISTS blob_probe "
                                "(id INTEGER PRIMARY KEY, b TEXT)"))
        db.session.commit()
        for i in range(megabytes * 4):
            db.session.execute(text("INSERT INTO blob_probe (b) VALUES (:b)"),
                               {"b": f"{i:08d}" * 32_000})
            db.session.commit()
        db.session.remove()


def test_commits_leave_checkpoints_to_the_background_thread(tmp_path):
    path = tmp_path / "wal.db"
    app = _app(path, 0.05)
    with app.app_context():
        assert db.session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == WAL_SAFETY_PAGES
        db.session.remove()
    _write_megabytes(app, 3)
    checkpointer = WalCheckpointer.for_path(str(path))
    assert checkpointer is not None and checkpointer.thread.is_alive()
    deadline = time.monotonic() + 10
    start = checkpointer.checkpoints
    while checkpointer.checkpoints < start + 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    # The rows reached the database file itself (the checkpoint copied them from the WAL),
    # though no commit crossed SQLite's own threshold.
    assert path.stat().st_size > 3_000_000  # 12 rows of 256 kB, fewer than 1,000 pages
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM blob_probe")).scalar() == 12
        db.session.remove()
    checkpointer.stop()
    checkpointer.thread.join(timeout=5)
    assert not checkpointer.thread.is_alive()


def test_without_the_thread_sqlite_checkpoints_in_commits(tmp_path):
    path = tmp_path / "plain.db"
    app = _app(path, 0)
    with app.app_context():
        assert db.session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
        db.session.remove()
    assert WalCheckpointer.for_path(str(path)) is None
