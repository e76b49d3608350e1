"""Node lists in and out: JSON and CSV (the CLI's and the window's import and export).

Exports carry no secrets: a node's TLS key passphrase stays in the keyring.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from pacsadmin.core.errors import PacsAdminError, ValidationError
from pacsadmin.core.node_validation import opt_timeout, validate_port
from pacsadmin.core.nodes import NODES_SCHEMA_VERSION, DicomNode, NodeTimeouts, TlsSettings

CSV_COLUMNS = (
    "name",
    "ae_title",
    "host",
    "port",
    "description",
    "site",
    "tags",
    "calling_ae_title",
    "tls_enabled",
    "tls_ca_bundle",
    "tls_client_cert",
    "tls_client_key",
    "tls_verify_hostname",
    "timeout_connect",
    "timeout_acse",
    "timeout_dimse",
    "timeout_network",
    "max_pdu",
    "retrieve_method",
    "query_charset",
)


def _bool(text: str, field: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "y", "on"):
        return True
    if t in ("", "0", "false", "no", "n", "off"):
        return False
    raise ValidationError(field, f"{text!r} is not yes/no.")


def node_to_csv_row(n: DicomNode) -> dict[str, str]:
    def s(v: object) -> str:
        return "" if v is None else str(v)

    return {
        "name": n.name,
        "ae_title": n.ae_title,
        "host": n.host,
        "port": str(n.port),
        "description": n.description,
        "site": n.site,
        "tags": ";".join(n.tags),
        "calling_ae_title": n.calling_ae_title,
        "tls_enabled": "yes" if n.tls.enabled else "no",
        "tls_ca_bundle": n.tls.ca_bundle,
        "tls_client_cert": n.tls.client_cert,
        "tls_client_key": n.tls.client_key,
        "tls_verify_hostname": "yes" if n.tls.verify_hostname else "no",
        "timeout_connect": s(n.timeouts.connect),
        "timeout_acse": s(n.timeouts.acse),
        "timeout_dimse": s(n.timeouts.dimse),
        "timeout_network": s(n.timeouts.network),
        "max_pdu": s(n.max_pdu),
        "retrieve_method": n.retrieve_method,
        "query_charset": n.query_charset,
    }


def node_from_csv_row(row: dict[str, str]) -> DicomNode:
    g = {k: (v or "").strip() for k, v in row.items() if k}
    max_pdu = g.get("max_pdu", "")
    if max_pdu and not max_pdu.isdigit():
        raise ValidationError("max_pdu", f"max_pdu {max_pdu!r} is not a whole number.")
    return DicomNode(
        name=g.get("name", ""),
        ae_title=g.get("ae_title", ""),
        host=g.get("host", ""),
        port=validate_port(g.get("port", "")),
        description=g.get("description", ""),
        site=g.get("site", ""),
        tags=tuple(t for t in g.get("tags", "").split(";") if t),
        calling_ae_title=g.get("calling_ae_title", ""),
        tls=TlsSettings(
            enabled=_bool(g.get("tls_enabled", ""), "tls_enabled"),
            ca_bundle=g.get("tls_ca_bundle", ""),
            client_cert=g.get("tls_client_cert", ""),
            client_key=g.get("tls_client_key", ""),
            verify_hostname=_bool(g.get("tls_verify_hostname", "yes"), "tls_verify_hostname"),
        ),
        timeouts=NodeTimeouts(
            *(
                opt_timeout(g.get(f"timeout_{k}"), f"timeout_{k}")
                for k in ("connect", "acse", "dimse", "network")
            )
        ),
        max_pdu=int(max_pdu) if max_pdu else None,
        retrieve_method=g.get("retrieve_method") or "C-MOVE",
        query_charset=g.get("query_charset", ""),
    ).validated()


# ---------------------------------------------------------------------------- lists
def export_json(nodes: Iterable[DicomNode]) -> str:
    payload = {"schema_version": NODES_SCHEMA_VERSION, "nodes": [n.to_json() for n in nodes]}
    return json.dumps(payload, indent=2) + "\n"


def export_csv(nodes: Iterable[DicomNode]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for n in nodes:
        w.writerow(node_to_csv_row(n))
    return buf.getvalue()


def parse_node_list(text: str, fmt: str) -> list[tuple[str, DicomNode | str]]:
    """The entries of a JSON or CSV node list: (where, node) or (where, why it is
    unusable).  A file that is not a node list at all raises :class:`PacsAdminError`."""
    parsed: list[tuple[str, DicomNode | str]] = []
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PacsAdminError(f"The file is not valid JSON: {exc}") from exc
        items = data.get("nodes") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise PacsAdminError('The JSON holds no list of nodes (expected {"nodes": [...]}).')
        for i, d in enumerate(items, 1):
            try:
                parsed.append((f"node {i}", DicomNode.from_json(d)))
            except (ValidationError, TypeError) as exc:
                parsed.append((f"node {i}", str(exc)))
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = {"name", "ae_title", "host", "port"} - set(reader.fieldnames or ())
        if missing:
            raise PacsAdminError(
                f"The CSV lacks the column(s) {', '.join(sorted(missing))}; "
                f"the header must name at least name, ae_title, host, port."
            )
        for i, row in enumerate(reader, 2):
            try:
                parsed.append((f"row {i}", node_from_csv_row(row)))
            except (ValidationError, TypeError) as exc:
                parsed.append((f"row {i}", str(exc)))
    else:
        raise PacsAdminError(f"Unknown format {fmt!r}: use json or csv.")
    return parsed


def format_for_path(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "json"
    raise PacsAdminError(
        f"Cannot tell the format of {path}: name it .json or .csv, or pass --format."
    )
