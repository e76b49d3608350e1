"""A retrieve's outcome in plain words: what happened and what to do.

The decoded cases (issue "Query and retrieve", section 2):

- 0xA801: the PACS does not know the destination AE title; say exactly what to register
  there: the AE title, this computer's address as the PACS sees it (the local address of
  the association's socket) and the port.
- a bare 0xC000-0xCFFF on a C-MOVE: "unknown destination" is the likely cause (Orthanc
  answers an unknown destination so), more sure when no sub-operation was attempted.
- 0xB000: sub-operations failed; the Failed SOP Instance UID List is in the result.
- the PACS reports n completed and the archive received 0: the PACS sends somewhere else
  (a wrong host or port for our AE title there) or a firewall blocks it.
"""

from __future__ import annotations

from typing import Any

from pacsadmin.core.dimse.retrieve_model import Expected, Receiver
from pacsadmin.core.dimse.status import Outcome, describe_abort, status_info


def register_advice(dest: str, address: str, port: int | None) -> str:
    where = address or "this computer's address"
    p = f"port {port}" if port else "its port"
    return (
        f"Register the destination at the PACS: AE title {dest}, address {where} (the "
        f"address the PACS sees this computer at), {p}."
    )


def explain(
    method: str,
    raw: Any,
    node: Any,
    local: Any,
    dest: str,
    receiver: Receiver | None,
    exp: Expected,
    received: int | None,
    already: int,
    cancelled: bool,
) -> tuple[Outcome, str, str]:
    """(outcome, sentence, advice) for a finished retrieve."""
    if raw.refused is not None:
        sentence, advice = raw.refused
        return (Outcome.CANCEL if cancelled else Outcome.FAILURE), sentence, advice
    port = receiver.port if receiver is not None else None
    to_local = method == "C-MOVE" and dest == local.ae_title
    code = raw.final
    new = None if received is None else received - already
    if code is None:
        if cancelled:
            if raw.aborted:
                return (
                    Outcome.CANCEL,
                    "Cancelled: the PACS ignored the C-CANCEL, so the association was aborted.",
                    "",
                )
            return Outcome.CANCEL, "Cancelled; the association was closed.", ""
        why = (
            describe_abort(*raw.abort_received)
            if raw.abort_received
            else "The association ended (or no response came within the DIMSE timeout)"
        )
        got = (
            f" {received} of {exp.count} instances are in the archive."
            if received is not None
            else ""
        )
        advice = "Look in the PACS's log for the reason; 'retry missing' asks for the rest."
        if raw.completed == 0 and raw.failed == 0:
            # Orthanc closes the association on a request from a calling AE title that is
            # not in its DicomModalities: the same registration is the likely fix
            advice = (
                "The PACS may not know this calling AE title (Orthanc closes the "
                "association on requests from AE titles it does not know). "
                + (
                    register_advice(dest, raw.local_address, port or local.port)
                    if to_local
                    else f"Register {local.ae_title} at the PACS."
                )
            )
        return Outcome.FAILURE, f"{why} before the {method} finished.{got}", advice
    info = status_info(code, method)
    if code == 0xFE00:
        return Outcome.CANCEL, f"Cancelled: the PACS confirmed ({info.label}).", ""
    if code == 0xA801:
        return (
            Outcome.FAILURE,
            f"The PACS does not know the destination AE title {dest} ({info.label}).",
            register_advice(dest, raw.local_address, port)
            if to_local
            else f"Register {dest} at the PACS with its host and port.",
        )
    if exp.count == 0 and raw.completed == 0 and raw.failed == 0 and not cancelled:
        return (
            Outcome.FAILURE,
            "The PACS holds nothing for this selection (its C-FIND found no instance, and "
            f"it sent none: {info.label}).",
            "Check the UIDs (copy them from a query of this PACS).",
        )
    if method == "C-MOVE" and 0xC000 <= code <= 0xCFFF:
        nothing = raw.completed == 0 and raw.failed == 0 and raw.warning == 0
        sure = (
            "likely (the PACS holds the instances, its C-FIND said, yet it attempted no "
            "sub-operation)"
            if nothing
            else "possible, but some sub-operations ran, so another failure is more likely"
        )
        advice = (
            f"Unknown destination is {sure}: Orthanc answers an unknown move destination "
            "with 0xC000. "
        )
        advice += (
            register_advice(dest, raw.local_address, port)
            if to_local
            else f"Check that {dest} is registered at the PACS with its host and port."
        )
        return (
            Outcome.FAILURE,
            f"The PACS could not process the move (0x{code:04X}, unable to process).",
            advice + " The PACS's log says for certain.",
        )
    if info.outcome is Outcome.FAILURE:
        stored = ""
        if raw.store_errors:
            stored = f" The instances could not be stored here: {raw.store_errors[0]}."
        return (
            Outcome.FAILURE,
            f"The PACS refused the {method}: {info.label}.{stored}",
            info.advice,
        )
    sentence = "Completed" if code == 0 else f"Completed with failures ({info.label})"
    advice = ""
    outcome = Outcome.SUCCESS if code == 0 else Outcome.WARNING
    if raw.failed_uids:
        shown = ", ".join(raw.failed_uids[:5])
        more = f" and {len(raw.failed_uids) - 5} more" if len(raw.failed_uids) > 5 else ""
        sentence += f"; failed instances: {shown}{more}"
        advice = "The destination refused them or the PACS could not read them; see its log."
    if raw.store_errors:
        sentence += f"; {len(raw.store_errors)} could not be stored here ({raw.store_errors[0]})"
    if to_local and raw.completed > 0 and new == 0:
        return (
            Outcome.FAILURE,
            f"The PACS reports {raw.completed} completed, but the archive received 0.",
            "The PACS sends to another address: check the firewall, and the host and port "
            f"registered for {dest} at the PACS (it must be {raw.local_address or 'this computer'}"
            f", port {port if port else local.port}).",
        )
    if received is not None and exp.count is not None and received < exp.count:
        missing = exp.count - received
        sentence += f"; {missing} of {exp.count} instances did not arrive"
        advice = advice or (
            "Retry the missing instances; if they stay missing, look in the PACS's log."
        )
        if outcome is Outcome.SUCCESS:
            outcome = Outcome.WARNING
    return outcome, sentence + ".", advice
