"""The return-path test of the Connectivity Doctor: can the PACS open an association back?

"Echo and find work, but the move fails" is the most common retrieve complaint: a C-MOVE
needs the PACS to connect to *us*, with the AE title, address and port it has on file
for us.  :func:`return_path` checks exactly that: the local SCP listens (a receiver is
started for the test when none runs), one object is found by a quick query (the first
match at each level, the query then cancelled) unless one is given, and a C-MOVE of it
to our AE title is sent.  The verdicts:

- ``ok``: an inbound association came, from the node's address; the time from the
  C-MOVE-RQ to it is measured;
- ``nat``: it came from another address (NAT, a second interface): which one it used,
  and the address and port the PACS must have for us;
- ``unknown_ae``: the PACS does not know our AE title (0xA801; 0xC000 at Orthanc, which
  also closes the association on a calling AE title it does not know);
- ``no_inbound``: the PACS accepted the move but nothing reached us before the timeout:
  a wrong address or port for our AE title there, or a firewall in the way;
- ``failed``: the test could not be run (no association, nothing to move, no listener).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

from pacsadmin.core.dimse.association import LocalAE, calling_ae
from pacsadmin.core.dimse.retrieve_explain import register_advice
from pacsadmin.core.dimse.retrieve_model import Item, Receiver
from pacsadmin.core.jobs import CancelToken, JobContext
from pacsadmin.core.nodes import DicomNode

WAIT = 10.0  # seconds to wait for the inbound association


@dataclass(frozen=True)
class ReturnPathResult:
    verdict: str  # ok, nat, unknown_ae, no_inbound, failed
    sentence: str
    advice: str = ""
    instance: str = ""
    status: int | None = None
    first_inbound_ms: float | None = None  # from the C-MOVE-RQ to the inbound association
    inbound_address: str = ""
    node_address: str = ""
    local_address: str = ""  # this computer's address as the PACS sees it
    port: int = 0
    receiver: Receiver | None = None

    @property
    def ok(self) -> bool:
        return self.verdict in ("ok", "nat")

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "verdict": self.verdict,
            "sentence": self.sentence,
            "advice": self.advice,
            "instance": self.instance,
            "status": self.status,
            "first_inbound_ms": None
            if self.first_inbound_ms is None
            else round(self.first_inbound_ms, 1),
            "inbound_address": self.inbound_address,
            "node_address": self.node_address,
            "local_address": self.local_address,
            "port": self.port,
            "receiver": None if self.receiver is None else self.receiver.detail,
        }


def _first(
    local: LocalAE,
    node: DicomNode,
    ctx: JobContext,
    level: str,
    keys: dict[str, str],
    passphrase: str | None,
    timeout: float | None,
) -> tuple[dict[str, Any] | None, Any]:
    """The first match of a C-FIND, the query then cancelled (a PACS may hold millions),
    and the query's result."""
    from pacsadmin.core.dimse.find import find
    from pacsadmin.core.dimse.find_query import FindQuery

    token = CancelToken()
    unhook = ctx.token.on_cancel(token.cancel)
    first: list[dict[str, Any]] = []

    def emit(event: Any) -> None:
        item = getattr(event, "item", None)
        if item is not None and not getattr(item, "unreadable", "") and not first:
            first.append(dict(item.values))
            token.cancel()

    try:
        q = FindQuery(model="study", level=level, keys=tuple(keys.items()), defaults=False)
        result = find(
            local,
            node,
            q,
            ctx=JobContext(ctx.job_id, token, emit),
            passphrase=passphrase,
            timeout=timeout,
            cancel_grace=2.0,
        )
    finally:
        unhook()
    return (first[0] if first else None), result


def find_one(
    local: LocalAE,
    node: DicomNode,
    ctx: JobContext,
    passphrase: str | None = None,
    timeout: float | None = None,
) -> tuple[Item | None, Any]:
    """One instance the PACS holds (the first at each level), or None; and the first
    query's result (why nothing was found)."""
    st, first = _first(local, node, ctx, "STUDY", {"StudyInstanceUID": ""}, passphrase, timeout)
    if not st or not st.get("StudyInstanceUID"):
        return None, first
    study = str(st["StudyInstanceUID"])
    se, _ = _first(
        local,
        node,
        ctx,
        "SERIES",
        {"StudyInstanceUID": study, "SeriesInstanceUID": ""},
        passphrase,
        timeout,
    )
    if not se or not se.get("SeriesInstanceUID"):
        return None, first
    series = str(se["SeriesInstanceUID"])
    im, _ = _first(
        local,
        node,
        ctx,
        "IMAGE",
        {"StudyInstanceUID": study, "SeriesInstanceUID": series, "SOPInstanceUID": ""},
        passphrase,
        timeout,
    )
    if not im or not im.get("SOPInstanceUID"):
        return None, first
    return Item("IMAGE", study, series, str(im["SOPInstanceUID"])), first


def source_address(host: str, port: int) -> str:
    """The address this computer sends from to ``host`` (the routing table's answer, via
    a UDP socket's connect: no packet is sent); "" when it cannot be told."""
    import socket

    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        return str(s.getsockname()[0])
    return ""


def _resolve(host: str) -> set[str]:
    import socket

    with contextlib.suppress(OSError):
        return {str(a[4][0]) for a in socket.getaddrinfo(host, None)}
    return {host}


def return_path(
    local: LocalAE,
    node: DicomNode,
    *,
    archive: Any,
    ctx: JobContext,
    instance: str | None = None,
    wait: float = WAIT,
    bind: str = "",
    passphrase: str | None = None,
    timeout: float | None = None,
) -> ReturnPathResult:
    """Run the return-path test (see the module's docstring).  Never raises for what the
    network or the PACS does."""
    from pacsadmin.core.dimse import retrieve_account, retrieve_run
    from pacsadmin.core.dimse.retrieve_listener import ListenerError, local_receiver
    from pacsadmin.core.dimse.retrieve_model import Selection

    if instance:
        exp = retrieve_account.learn_expected(
            local,
            node,
            Selection.of(instances=[instance]),
            ctx=ctx,
            passphrase=passphrase,
            timeout=timeout,
        )
        item = exp.items[0]
        if not item.complete:
            return ReturnPathResult(
                "failed",
                f"The PACS does not list the instance {instance} (a C-FIND found no "
                "study and series for it).",
                "Pick an instance the PACS holds, or leave --instance out.",
                instance=instance,
            )
    else:
        found, query = find_one(local, node, ctx, passphrase, timeout)
        if found is None:
            refused = query.status is not None or any(
                w in query.sentence for w in ("calling AE", "aborted by")
            )
            if not query.ok and refused:
                # the PACS refused our query: at a PACS that answers only AE titles it
                # knows (Orthanc: those in its DicomModalities) our AE title is unknown
                return ReturnPathResult(
                    "unknown_ae",
                    f"The PACS refused a query from this computer's AE title "
                    f"{local.ae_title} ({query.sentence}); likely it does not know this "
                    "AE title (Orthanc refuses requests from AE titles it does not know), "
                    "and a move to it would fail too.",
                    register_advice(
                        local.ae_title, source_address(node.host, node.port), local.port
                    ),
                    port=local.port,
                )
            return ReturnPathResult(
                "failed",
                "No object to move: a quick query found no instance at the PACS"
                + ("." if query.ok else f" (the query failed: {query.sentence})."),
                "Run 'pacsadmin find' against the node, or pass an instance UID.",
            )
        item = found
    inbound = threading.Event()
    seen: dict[str, Any] = {}

    def on_association(kind: str, rec: Any) -> None:
        if kind == "open" and not inbound.is_set():
            seen["t"] = time.perf_counter()
            seen["address"] = rec.address
            inbound.set()

    since, p0 = time.time(), time.perf_counter()
    try:
        with local_receiver(local, archive, bind=bind, on_association=on_association) as (
            receiver,
            _,
        ):
            raw = retrieve_run.run(
                "C-MOVE",
                local,
                node,
                (item,),
                ctx=ctx,
                dest_ae=local.ae_title,
                passphrase=passphrase,
                timeout=min(timeout or wait, wait) if timeout or wait else None,
                cancel_grace=2.0,
            )
            t_req = raw.t_request
            if receiver.started and raw.refused is None and raw.final not in (0xA801,):
                remaining = wait - (time.perf_counter() - (t_req or time.perf_counter()))
                inbound.wait(max(0.0, remaining))
            arrived, _old = retrieve_account.present(archive, [item.instance], since)
            if not receiver.started and item.instance in arrived and t_req is not None:
                # the SCP running in another process saw the association; the index
                # says when the object was stored: an upper bound of the inbound time
                row = (
                    archive.reader()
                    .execute(
                        "SELECT received_at FROM instances WHERE sop_uid = ?", (item.instance,)
                    )
                    .fetchone()
                )
                if row is not None and row[0] >= since:  # not a copy it had before
                    seen["stored_ms"] = (row[0] - (since + (t_req - p0))) * 1000
    except ListenerError as exc:
        return ReturnPathResult(
            "failed", f"No listener for the test: {exc}", instance=item.instance
        )
    return _verdict(local, node, item, raw, receiver, seen, arrived, t_req)


def _verdict(
    local: LocalAE,
    node: DicomNode,
    item: Item,
    raw: Any,
    receiver: Receiver,
    seen: dict[str, Any],
    arrived: set[str],
    t_req: float | None,
) -> ReturnPathResult:
    port = receiver.port
    base: dict[str, Any] = {
        "instance": item.instance,
        "status": raw.final,
        "local_address": raw.local_address,
        "port": port,
        "receiver": receiver,
    }
    register = register_advice(local.ae_title, raw.local_address, port)
    if raw.refused is not None:
        return ReturnPathResult(
            "failed", f"The C-MOVE could not be sent: {raw.refused[0]}", raw.refused[1], **base
        )
    node_addrs = _resolve(node.host)
    base["node_address"] = ", ".join(sorted(node_addrs))
    if "t" in seen:
        ms = (seen["t"] - t_req) * 1000 if t_req is not None else None
        base["first_inbound_ms"] = ms
        base["inbound_address"] = seen["address"]
        took = f" {ms:.0f} ms after the C-MOVE request" if ms is not None else ""
        if seen["address"] not in node_addrs:
            return ReturnPathResult(
                "nat",
                f"The return path works, but the inbound association came from "
                f"{seen['address']}, not from the node's address {base['node_address']} "
                "(NAT or another interface of the PACS).",
                f"The PACS must be configured with {local.ae_title} at {raw.local_address}, "
                f"port {port} (as it is); it connects from {seen['address']}: allow that "
                "address where callers are checked by address, or add it to the node.",
                **base,
            )
        return ReturnPathResult(
            "ok", f"The PACS opened an association back to this computer{took}.", **base
        )
    code = raw.final
    known_caller = calling_ae(local, node) == local.ae_title
    if code is not None and 0xC000 <= code <= 0xCFFF and known_caller:
        # The PACS answered our queries from this very AE title.  Orthanc answers only AE
        # titles in its DicomModalities, and says 0xC000 both for an unknown destination
        # and for one it could not connect to: here the second is the likely one.
        return ReturnPathResult(
            "no_inbound",
            f"The PACS answered 0x{code:04X} and no association reached this computer. "
            f"It accepts queries from {local.ae_title}, so it likely knows this AE title "
            "with a wrong address or port (Orthanc answers only AE titles it knows), or a "
            "firewall is in the way; at a PACS that answers any AE title an unknown "
            "destination is also possible.",
            "Check at the PACS: "
            + register[0].lower()
            + register[1:]
            + f" Check that a firewall lets the PACS reach port {port}.",
            **base,
        )
    if (
        code == 0xA801
        or (code is not None and 0xC000 <= code <= 0xCFFF)
        or (code is None and raw.completed == 0 and raw.abort_received)
    ):
        what = f"0x{code:04X}" if code is not None else "it closed the association"
        return ReturnPathResult(
            "unknown_ae",
            f"The PACS does not know this computer's AE title {local.ae_title} ({what}"
            + ("; Orthanc answers so" if code is not None and code != 0xA801 else "")
            + ").",
            register,
            **base,
        )
    if not receiver.started and item.instance in arrived:
        stored = seen.get("stored_ms")
        when = (
            f", stored {max(0.0, stored):.0f} ms after the C-MOVE request (the inbound "
            "association came before: the local SCP's process saw it)"
            if stored is not None
            else " (the time of the inbound association is not known to this process)"
        )
        return ReturnPathResult(
            "ok",
            "The PACS connected back: the object arrived in the archive through the local "
            f"SCP already running{when}.",
            **base,
        )
    if not receiver.started and raw.completed > 0:
        return ReturnPathResult(
            "ok",
            f"The PACS reports the object delivered to {local.ae_title} (the local SCP "
            "already running received it; it was in the archive before).",
            **base,
        )
    return ReturnPathResult(
        "no_inbound",
        f"The PACS knows {local.ae_title} but no association reached this computer"
        + (f" (the PACS answered 0x{code:04X})" if code is not None else "")
        + ": a wrong address or port for it at the PACS, or a firewall in the way.",
        "Check at the PACS: "
        + register[0].lower()
        + register[1:]
        + f" Check that a firewall lets the PACS reach port {port}.",
        **base,
    )
