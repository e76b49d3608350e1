"""The audit log: an append-only SQLite record of what the user did.

Echoes now; queries, retrieves, sends and edits add their records later through the same
:meth:`AuditLog.record`.  It is the one place patient values may appear, so the file is
readable by the user only.  UPDATE and DELETE are refused by triggers.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    node TEXT,
    target TEXT,
    outcome TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_node_action ON audit(node, action, id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass(frozen=True)
class AuditEntry:
    id: int
    ts: float
    user: str
    action: str
    node: str | None
    target: str | None
    outcome: str
    summary: str
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.ts)),
            "ts": self.ts,
            "user": self.user,
            "action": self.action,
            "node": self.node,
            "target": self.target,
            "outcome": self.outcome,
            "summary": self.summary,
            "details": self.details,
        }


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with self._connect() as con:
            con.executescript(_SCHEMA)
        if new:
            try:
                os.chmod(self.path, 0o600)
            except OSError:
                pass

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    def record(
        self,
        action: str,
        outcome: str,
        *,
        node: str | None = None,
        target: str | None = None,
        summary: str = "",
        details: dict[str, Any] | None = None,
    ) -> int:
        try:
            user = getpass.getuser()
        except Exception:
            user = "unknown"
        with self._lock:
            con = self._connect()
            try:
                cur = con.execute(
                    "INSERT INTO audit(ts, user, action, node, target, outcome, summary, details)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (
                        time.time(),
                        user,
                        action,
                        node,
                        target,
                        outcome,
                        summary,
                        json.dumps(details or {}, default=str),
                    ),
                )
                return int(cur.lastrowid or 0)
            finally:
                con.close()

    def entries(
        self, *, limit: int = 500, action: str | None = None, node: str | None = None
    ) -> list[AuditEntry]:
        q = "SELECT id, ts, user, action, node, target, outcome, summary, details FROM audit"
        where: list[str] = []
        args: list[str | int] = []
        if action:
            where.append("action = ?")
            args.append(action)
        if node:
            where.append("node = ?")
            args.append(node)
        if where:
            q += " WHERE " + " AND ".join(where)
        q += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        con = self._connect()
        try:
            rows = con.execute(q, args).fetchall()
        finally:
            con.close()
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]))
            for r in rows
        ]

    def last_per_node(self, action: str) -> dict[str, AuditEntry]:
        """The newest entry of ``action`` for each node (the node browser's status light)."""
        con = self._connect()
        try:
            rows = con.execute(
                "SELECT id, ts, user, action, node, target, outcome, summary, details FROM audit"
                " WHERE id IN (SELECT MAX(id) FROM audit WHERE action = ? AND node IS NOT NULL"
                " GROUP BY node)",
                (action,),
            ).fetchall()
        finally:
            con.close()
        return {
            r[4]: AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]))
            for r in rows
        }
