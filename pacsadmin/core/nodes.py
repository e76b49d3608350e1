"""DICOM nodes and the node directory.

A :class:`DicomNode` is a frozen description of a remote application entity (PS3.8
section 7: AE title, host, port) plus what an administrator needs around it: site and
tags, TLS, per-node timeouts, max PDU, the preferred retrieve method and the query
character set.  Secrets (the TLS key passphrase) never live here: see
:mod:`pacsadmin.core.secrets`.

Around it: :mod:`~pacsadmin.core.node_validation` (the rules of each field),
:mod:`~pacsadmin.core.node_file` (the file shared by processes: lock, atomic replace,
damage reports), :mod:`~pacsadmin.core.node_exchange` (JSON and CSV lists) and
:mod:`~pacsadmin.core.node_service` (changes with their secrets and audit records, for the
CLI and the window).
"""

from __future__ import annotations

import builtins
import contextlib
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pacsadmin.core.errors import DuplicateNode, NodeNotFound, ValidationError
from pacsadmin.core.node_file import NodeFile
from pacsadmin.core.node_file import NodeFileDamaged as NodeFileDamaged
from pacsadmin.core.node_validation import opt_timeout
from pacsadmin.core.node_validation import validate_ae_title as validate_ae_title
from pacsadmin.core.node_validation import validate_host as validate_host
from pacsadmin.core.node_validation import validate_name as validate_name
from pacsadmin.core.node_validation import validate_port as validate_port

NODES_SCHEMA_VERSION = 1
RETRIEVE_METHODS = ("C-MOVE", "C-GET")
# Specific Character Set values offered for queries (PS3.3 C.12.1.1.2); "" = default repertoire
QUERY_CHARSETS = (
    "",
    "ISO_IR 100",
    "ISO_IR 192",
    "ISO_IR 101",
    "ISO_IR 144",
    "ISO_IR 126",
    "ISO_IR 127",
    "ISO_IR 138",
    "ISO_IR 148",
    "ISO_IR 13",
    "ISO 2022 IR 87",
    "GB18030",
    "GBK",
)


# ---------------------------------------------------------------------------- the node
@dataclass(frozen=True)
class TlsSettings:
    enabled: bool = False
    ca_bundle: str = ""  # PEM file; empty: the system's trust store
    client_cert: str = ""  # PEM file for mutual TLS
    client_key: str = ""  # PEM file; its passphrase lives in the keyring
    verify_hostname: bool = True  # BCP 195: on by default


@dataclass(frozen=True)
class NodeTimeouts:
    """Per-node overrides of the settings' timeouts; ``None``: use the setting."""

    connect: float | None = None
    acse: float | None = None
    dimse: float | None = None
    network: float | None = None


@dataclass(frozen=True)
class DicomNode:
    name: str
    ae_title: str
    host: str
    port: int
    description: str = ""
    site: str = ""
    tags: tuple[str, ...] = ()
    calling_ae_title: str = ""  # overrides the local AE title for this node
    tls: TlsSettings = field(default_factory=TlsSettings)
    timeouts: NodeTimeouts = field(default_factory=NodeTimeouts)
    max_pdu: int | None = None
    retrieve_method: str = "C-MOVE"
    query_charset: str = ""

    def validated(self) -> DicomNode:
        """Return a normalised copy, or raise :class:`ValidationError` naming the field."""
        name = validate_name(self.name)
        ae = validate_ae_title(self.ae_title)
        host = validate_host(self.host)
        port = validate_port(self.port)
        calling = (
            validate_ae_title(self.calling_ae_title, "calling_ae_title")
            if self.calling_ae_title.strip()
            else ""
        )
        if self.retrieve_method not in RETRIEVE_METHODS:
            raise ValidationError("retrieve_method", "Retrieve method must be C-MOVE or C-GET.")
        if self.query_charset not in QUERY_CHARSETS:
            raise ValidationError(
                "query_charset", f"Unknown query character set {self.query_charset!r}."
            )
        if self.max_pdu is not None and not (self.max_pdu == 0 or 4096 <= self.max_pdu < 2**32):
            raise ValidationError("max_pdu", "Max PDU must be 0 (unlimited) or 4096 or more.")
        t = NodeTimeouts(
            **{
                f.name: opt_timeout(getattr(self.timeouts, f.name), f"timeout_{f.name}")
                for f in fields(NodeTimeouts)
            }
        )
        if self.tls.client_key and not self.tls.client_cert:
            raise ValidationError("tls_client_cert", "A client key needs its client certificate.")
        tags = tuple(sorted({t.strip() for t in self.tags if t.strip()}))
        return replace(
            self,
            name=name,
            ae_title=ae,
            host=host,
            port=port,
            calling_ae_title=calling,
            timeouts=t,
            tags=tags,
            description=self.description.strip(),
            site=self.site.strip(),
        )

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.ae_title}@{host}:{self.port}"

    # ------------------------------------------------------------------ serialisation
    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["tags"] = list(self.tags)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DicomNode:
        if not isinstance(d, dict):
            raise ValidationError("node", "A node must be a JSON object.")
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        for required in ("name", "ae_title", "host", "port"):
            if required not in kw:
                raise ValidationError(required, f"The node has no {required!r}.")
        tls = kw.pop("tls", None) or {}
        to = kw.pop("timeouts", None) or {}
        kw["tags"] = tuple(kw.get("tags") or ())
        return cls(
            tls=TlsSettings(
                **{k: v for k, v in tls.items() if k in {f.name for f in fields(TlsSettings)}}
            ),
            timeouts=NodeTimeouts(
                **{k: v for k, v in to.items() if k in {f.name for f in fields(NodeTimeouts)}}
            ),
            **kw,
        ).validated()


# ---------------------------------------------------------------------------- targets
_TARGET_RE = re.compile(r"^(?P<aet>[^@]{1,16})@(?P<host>\[[^\]]+\]|[^:\[\]]+):(?P<port>\d{1,5})$")


def parse_target(text: str) -> DicomNode | None:
    """Parse an ad-hoc ``AET@HOST:PORT`` (IPv6 as ``AET@[::1]:104``); ``None`` if not one."""
    m = _TARGET_RE.match(text.strip())
    if not m:
        return None
    node = DicomNode(
        name="ad-hoc", ae_title=m["aet"], host=m["host"].strip("[]"), port=int(m["port"])
    ).validated()
    return replace(node, name=node.address)  # ad-hoc nodes are named by their address


# ---------------------------------------------------------------------------- directory
@dataclass(frozen=True)
class ImportReport:
    added: tuple[str, ...]
    replaced: tuple[str, ...]
    skipped: tuple[str, ...]  # name already present and replace=False
    errors: tuple[str, ...]  # "row 3: The port must be ..."


class NodeDirectory:
    """The node directory, kept in ``nodes.json`` and shared with other processes.

    Thread-safe.  Every change (:meth:`add`, :meth:`update`, :meth:`remove`,
    :meth:`import_text`) is a read-modify-write under the file lock: the file is re-read
    first when another process changed it, so a node added by ``pacsadmin nodes add`` while
    the window is open survives the window's next save.  Readers call
    :meth:`reload_if_changed` (the window does it on a timer, off the GUI thread).

    A damaged file raises :class:`NodeFileDamaged` (with its line and column) from the
    constructor, unless ``damaged_ok``: then :attr:`problem` says what is wrong, the
    directory is empty, and every change is refused until the file is fixed or moved.
    """

    def __init__(self, path: Path, *, damaged_ok: bool = False) -> None:
        self.path = Path(path)
        self._file = NodeFile(self.path)
        self._lock = threading.RLock()
        self._nodes: dict[str, DicomNode] = {}
        self._digest = ""  # of the bytes _nodes came from ("": no file)
        self._stat: tuple[int, int, int] | None = None
        self.problem: NodeFileDamaged | None = None
        try:
            self.load()
        except NodeFileDamaged:
            if not damaged_ok:
                raise

    # ------------------------------------------------------------------ persistence
    def load(self) -> None:
        """Read the file now.  When it is damaged, keep the nodes last read, remember the
        problem in :attr:`problem` and raise :class:`NodeFileDamaged`."""
        self._take(self._file.stat_signature())

    def reload_if_changed(self) -> bool:
        """Re-read the file when it changed on disk (a cheap ``stat`` first).  Return True
        when the nodes or :attr:`problem` changed.  Never raises for a damaged file: see
        :attr:`problem`."""
        stat = self._file.stat_signature()
        if stat == self._stat:
            return False
        before = (self._digest, str(self.problem or ""))
        with contextlib.suppress(NodeFileDamaged):
            self._take(stat)
        return (self._digest, str(self.problem or "")) != before

    def _take(self, stat: tuple[int, int, int] | None) -> dict[str, DicomNode]:
        """Adopt the file's content when its bytes differ from what we hold, and return a
        copy of the nodes those bytes hold.  The file is read and parsed outside the
        thread lock (readers of the list never wait for it); the digest check and the
        swap hold it, so the nodes returned always match the bytes just read."""
        try:
            raw = self._file.read_bytes()
            digest = self._file.digest_of(raw)
            with self._lock:
                if digest == self._digest and self.problem is None:
                    self._stat = stat
                    return dict(self._nodes)
            nodes = self._parse(raw)
        except NodeFileDamaged as exc:
            with self._lock:
                self._stat, self.problem = stat, exc
            raise
        with self._lock:
            self._nodes, self._digest, self._stat, self.problem = nodes, digest, stat, None
        return dict(nodes)

    def _parse(self, raw: bytes | None) -> dict[str, DicomNode]:
        data = self._file.parse(raw).data
        if data is None:
            return {}
        items = data.get("nodes", [])
        if not isinstance(items, builtins.list):
            raise NodeFileDamaged(self.path, '"nodes" is not a list')
        nodes: dict[str, DicomNode] = {}
        for i, d in enumerate(items, 1):
            try:
                node = DicomNode.from_json(d)
            except (ValidationError, TypeError) as exc:
                name = d.get("name") if isinstance(d, dict) else None
                which = f"node {i}" + (f" ({name!r})" if isinstance(name, str) else "")
                raise NodeFileDamaged(self.path, f"{which}: {exc}") from None
            nodes[node.name.casefold()] = node
        return nodes

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, DicomNode]]:
        """Yield a copy of the nodes as the file holds them now (re-read under the file
        lock, which excludes other processes and other threads alike); write it back
        atomically when the block ends without an exception and changed it.  The thread
        lock is held only for the swaps, so readers never wait for the file lock."""
        with self._file.locked():
            base = self._take(self._file.stat_signature())  # damaged: refused (raises)
            nodes = dict(base)
            yield nodes
            if nodes == base:
                return
            ordered = sorted(nodes.values(), key=lambda n: (n.site.casefold(), n.name.casefold()))
            payload = {
                "schema_version": NODES_SCHEMA_VERSION,
                "nodes": [n.to_json() for n in ordered],
            }
            digest = self._file.write(payload)
            with self._lock:
                self._nodes, self._digest = nodes, digest
                self._stat = self._file.stat_signature()

    # ------------------------------------------------------------------ access
    def list(self) -> list[DicomNode]:
        with self._lock:
            return sorted(
                self._nodes.values(), key=lambda n: (n.site.casefold(), n.name.casefold())
            )

    def __iter__(self) -> Iterator[DicomNode]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, name: str) -> DicomNode:
        with self._lock:
            try:
                return self._nodes[name.strip().casefold()]
            except KeyError:
                raise NodeNotFound(name) from None

    def find(self, name: str) -> DicomNode | None:
        try:
            return self.get(name)
        except NodeNotFound:
            return None

    def find_by_ae_title(self, ae_title: str) -> builtins.list[DicomNode]:
        return [n for n in self.list() if n.ae_title == ae_title.strip()]

    # ------------------------------------------------------------------ changes
    def add(self, node: DicomNode) -> DicomNode:
        node = node.validated()
        with self._changing() as nodes:
            if node.name.casefold() in nodes:
                raise DuplicateNode(f"A node named {node.name!r} already exists.")
            nodes[node.name.casefold()] = node
        return node

    def update(self, old_name: str, node: DicomNode) -> DicomNode:
        """Replace ``old_name`` (a rename when ``node.name`` differs)."""
        node = node.validated()
        with self._changing() as nodes:
            old = nodes.get(old_name.strip().casefold())
            if old is None:
                raise NodeNotFound(old_name)
            if node.name.casefold() != old.name.casefold() and node.name.casefold() in nodes:
                raise DuplicateNode(f"A node named {node.name!r} already exists.")
            del nodes[old.name.casefold()]
            nodes[node.name.casefold()] = node
        return node

    def remove(self, name: str) -> DicomNode:
        with self._changing() as nodes:
            node = nodes.pop(name.strip().casefold(), None)
            if node is None:
                raise NodeNotFound(name)
        return node

    def unique_name(self, base: str) -> str:
        """``"PACS (copy)"``, ``"PACS (copy 2)"``... for Duplicate."""
        with self._lock:
            candidate = f"{base} (copy)"
            i = 2
            while candidate.casefold() in self._nodes:
                candidate = f"{base} (copy {i})"
                i += 1
            return candidate

    # ------------------------------------------------------------------ import
    def import_nodes(
        self, parsed: Iterable[tuple[str, DicomNode | str]], *, replace_existing: bool = False
    ) -> ImportReport:
        """Add the nodes of an imported list in one change; ``parsed`` holds (where, node)
        or (where, the reason the entry is unusable), see
        :func:`pacsadmin.core.node_exchange.parse_node_list`.  Bad entries are reported;
        good ones land."""
        added, replaced, skipped, errors = [], [], [], []
        with self._changing() as nodes:
            for where, item in parsed:
                if isinstance(item, str):
                    errors.append(f"{where}: {item}")
                    continue
                key = item.name.casefold()
                if key in nodes:
                    if not replace_existing:
                        skipped.append(item.name)
                        continue
                    replaced.append(item.name)
                else:
                    added.append(item.name)
                nodes[key] = item
        return ImportReport(tuple(added), tuple(replaced), tuple(skipped), tuple(errors))
