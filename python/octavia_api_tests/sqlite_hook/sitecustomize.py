"""BEGIN IMMEDIATE for Octavia's SQLite file, in the suite's Octavia processes only.

The suite puts this directory on PYTHONPATH of ``octavia-api`` and
``octavia-driver-agent``; nothing else imports it. Both processes write one
SQLite file. oslo.db, which opens Octavia's database, begins each SQLite
transaction itself with a plain (deferred) ``BEGIN``: the write lock is only
taken at the first write, so when both processes read first and then write,
one of them cannot get the lock without the other giving up, and SQLite fails
it at once with "database is locked" (an API 500) instead of waiting. With
``BEGIN IMMEDIATE`` a transaction takes the write lock when it starts, and the
other process waits for it (SQLite's busy timeout) instead.

So the hook turns oslo.db's ``BEGIN`` into ``BEGIN IMMEDIATE`` on engines of
the file named by OCTAVIA_TEST_SQLITE_DB, and lengthens the busy timeout
there. Octavia's noop network driver keeps its own SQLite file and begins its
transactions exclusively already; it is left alone.
"""

import os

#: Seconds a transaction waits for the other process's write lock.
BUSY_TIMEOUT_MS = 30000


def _install(db_path):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    target = os.path.realpath(db_path)

    def ours(engine):
        url = engine.url
        return (url.get_backend_name() == "sqlite" and bool(url.database)
                and os.path.realpath(url.database) == target)

    @event.listens_for(Engine, "before_cursor_execute", retval=True)
    def _immediate(conn, _cursor, statement, params, _context, _many):
        if statement.strip().upper() == "BEGIN" and ours(conn.engine):
            statement = "BEGIN IMMEDIATE"
        return statement, params

    @event.listens_for(Engine, "connect")
    def _busy_timeout(dbapi_conn, _record):
        # The pool's connect event names no engine: ask SQLite for the file.
        try:
            row = dbapi_conn.execute("PRAGMA database_list").fetchone()
        except Exception:  # noqa: BLE001 - not a sqlite3 connection
            return
        if row and row[2] and os.path.realpath(row[2]) == target:
            dbapi_conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


_DB = os.environ.get("OCTAVIA_TEST_SQLITE_DB")
if _DB:
    _install(_DB)
