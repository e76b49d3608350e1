"""The rules of a node change, for the CLI and the window alike.

A node's TLS key passphrase lives in the OS keyring under the node's name
(:func:`~pacsadmin.core.secrets.tls_passphrase_key`), so the directory and the keyring
change together: a rename moves the stored passphrase to the new name, a delete removes
it.  Every change (add, edit, remove, import) is written to the audit log with who made it
and through what (``via``: "cli" or "gui").  :func:`passphrase_for` is the one place that
decides whether a use of a node needs its passphrase, and looks it up once.

The service does file, keyring and SQLite work: the window calls it from a background job.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from pacsadmin.core.audit import AuditLog
from pacsadmin.core.errors import PacsAdminError
from pacsadmin.core.node_exchange import parse_node_list
from pacsadmin.core.nodes import DicomNode, ImportReport, NodeDirectory
from pacsadmin.core.secrets import SecretStore, tls_passphrase_key

# the audit log's actions for the node directory
ADD, EDIT, REMOVE, IMPORT = "node-add", "node-edit", "node-remove", "node-import"


def passphrase_for(
    secrets: SecretStore,
    node: DicomNode,
    *,
    typed: str | None = None,
    stored_as: str | None = None,
) -> str | None:
    """The TLS key passphrase to use for one association (or one series of them) with
    ``node``: ``typed`` when the user just entered one, else the stored one, looked up only
    when the node uses a client key.  ``stored_as``: the name it is stored under when the
    node is being edited (its saved name)."""
    if typed:
        return typed
    if not (node.tls.enabled and node.tls.client_key):
        return None
    return secrets.get(tls_passphrase_key(stored_as or node.name))


@dataclass(frozen=True)
class Saved:
    node: DicomNode
    secret_problem: str | None = None  # why the passphrase is kept for this session only


def _changed_fields(old: DicomNode, new: DicomNode) -> list[str]:
    a, b = old.to_json(), new.to_json()
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


class NodeService:
    """Add, edit, remove and import nodes with their secrets and audit records."""

    def __init__(
        self,
        directory: NodeDirectory,
        secrets: SecretStore,
        audit: AuditLog | None,
        *,
        via: str,
    ) -> None:
        self.directory, self.secrets, self.audit, self.via = directory, secrets, audit, via

    # ------------------------------------------------------------------ changes
    def add(self, node: DicomNode, passphrase: str | None = None) -> Saved:
        node = self.directory.add(node)
        problem = self._store(node.name, passphrase) if passphrase else None
        self._record(ADD, node, f"Added {node.name} ({node.address})", {})
        return Saved(node, problem)

    def update(self, old_name: str, node: DicomNode, passphrase: str | None = None) -> Saved:
        """Edit (and perhaps rename) ``old_name``; the stored passphrase follows a rename."""
        old = self.directory.get(old_name)
        node = self.directory.update(old.name, node)
        renamed = node.name != old.name
        problem = None
        if passphrase:
            problem = self._store(node.name, passphrase)
            if renamed and problem is None:
                self.secrets.delete(tls_passphrase_key(old.name))
        elif renamed:
            problem = self._move_secret(old.name, node.name)
        changed = _changed_fields(old, node)
        if passphrase:
            changed.append("tls_passphrase")
        if changed:
            details: dict[str, Any] = {"changed": changed}
            if renamed:
                details["renamed_from"] = old.name
            summary = f"Edited {node.name} ({', '.join(changed)})"
            self._record(EDIT, node, summary, details)
        return Saved(node, problem)

    def remove(self, name: str) -> DicomNode:
        node = self.directory.remove(name)
        self.secrets.delete(tls_passphrase_key(node.name))
        self._record(REMOVE, node, f"Removed {node.name} ({node.address})", {})
        return node

    def import_text(
        self, text: str, fmt: str, *, replace_existing: bool, source: str
    ) -> ImportReport:
        """Import a JSON or CSV node list (``source``: the file's name, for the audit log)."""
        parsed = parse_node_list(text, fmt)  # not a node list at all: PacsAdminError
        rep = self.directory.import_nodes(parsed, replace_existing=replace_existing)
        if rep.added or rep.replaced:
            self._audit(
                IMPORT,
                "success",
                None,
                source,
                f"Imported {len(rep.added)} added, {len(rep.replaced)} replaced from {source}",
                {
                    "added": list(rep.added),
                    "replaced": list(rep.replaced),
                    "skipped": len(rep.skipped),
                    "errors": len(rep.errors),
                },
            )
        return rep

    # ------------------------------------------------------------------ secrets
    def passphrase(
        self, node: DicomNode, *, typed: str | None = None, stored_as: str | None = None
    ) -> str | None:
        return passphrase_for(self.secrets, node, typed=typed, stored_as=stored_as)

    def _store(self, name: str, passphrase: str) -> str | None:
        return self.secrets.set(tls_passphrase_key(name), passphrase)

    def _move_secret(self, old: str, new: str) -> str | None:
        secret = self.secrets.get(tls_passphrase_key(old))
        if secret is None:
            return None
        problem = self._store(new, secret)
        if problem is None:  # only once the keyring holds it under the new name
            self.secrets.delete(tls_passphrase_key(old))
        return problem

    # ------------------------------------------------------------------ audit
    def _record(self, action: str, node: DicomNode, summary: str, details: dict[str, Any]) -> None:
        self._audit(action, "success", node.name, node.address, summary, details)

    def _audit(
        self,
        action: str,
        outcome: str,
        node: str | None,
        target: str | None,
        summary: str,
        details: dict[str, Any],
    ) -> None:
        if self.audit is None:
            return
        try:
            self.audit.record(
                action,
                outcome,
                node=node,
                target=target,
                summary=summary,
                details={"via": self.via, **details},
            )
        except sqlite3.Error as exc:
            raise PacsAdminError(
                f"The node directory was changed, but the audit log could not record it: {exc}"
            ) from exc
