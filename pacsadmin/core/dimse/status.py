"""Every status code pacsadmin can meet, with its standard name and what to do about it.

One table for association results (PS3.8 9.3.4, table 9-21), A-ABORT sources and reasons
(PS3.8 9.3.8, table 9-26), presentation-context results (PS3.8 9.3.3.2, table 9-18) and
DIMSE statuses (PS3.7 annex C; service-specific meanings from PS3.4: C-STORE B.2.3,
C-FIND C.4.1.1.4, C-MOVE C.4.2.1.5, C-GET C.4.3.1.4).  Later capabilities use the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    SUCCESS = "success"
    PENDING = "pending"
    WARNING = "warning"
    CANCEL = "cancel"
    FAILURE = "failure"


@dataclass(frozen=True)
class StatusInfo:
    code: int
    outcome: Outcome
    name: str
    advice: str

    @property
    def label(self) -> str:
        """``"0xA801 Move destination unknown"``."""
        return f"0x{self.code:04X} {self.name}"

    def sentence(self) -> str:
        return f"{self.label}: {self.advice}" if self.advice else self.label


_S, _P, _W, _C, _F = (
    Outcome.SUCCESS,
    Outcome.PENDING,
    Outcome.WARNING,
    Outcome.CANCEL,
    Outcome.FAILURE,
)

# code -> (outcome, name, advice); service-specific overrides below.
_GENERAL: dict[int, tuple[Outcome, str, str]] = {
    0x0000: (_S, "Success", ""),
    0x0001: (
        _W,
        "Requested optional attributes are not supported",
        "The peer ignored some optional keys; the answer is still usable.",
    ),
    0x0107: (_W, "Attribute list error", "The peer did not accept some attributes."),
    0x0116: (_W, "Attribute value out of range", "The peer changed or ignored a value."),
    0x0105: (_F, "No such attribute", "The request named an attribute the peer does not know."),
    0x0106: (_F, "Invalid attribute value", "A value in the request is not valid for the peer."),
    0x0110: (
        _F,
        "Processing failure",
        "The peer failed while handling the request; look in its own log for the cause.",
    ),
    0x0111: (
        _F,
        "Duplicate SOP instance",
        "The peer already holds an instance with this SOP Instance UID.",
    ),
    0x0112: (_F, "No such SOP instance", "The peer does not hold the requested instance."),
    0x0117: (_F, "Invalid object instance", "The peer judged the instance UID invalid."),
    0x0118: (_F, "No such SOP class", "The peer does not know this SOP class."),
    0x0119: (_F, "Class-instance conflict", "The instance does not belong to the SOP class."),
    0x0120: (_F, "Missing attribute", "The request lacks an attribute the peer requires."),
    0x0121: (_F, "Missing attribute value", "A required attribute in the request is empty."),
    0x0122: (
        _F,
        "Refused: SOP class not supported",
        "The peer does not support this SOP class; enable it in the peer's configuration.",
    ),
    0x0123: (_F, "No such action type", "The peer does not know this action."),
    0x0124: (
        _F,
        "Refused: not authorized",
        "The peer refuses this AE title or user; ask its administrator for access.",
    ),
    0x0210: (_F, "Duplicate invocation", "A message ID was reused; retry the operation."),
    0x0211: (_F, "Unrecognized operation", "The peer did not recognise the DIMSE command."),
    0x0212: (_F, "Mistyped argument", "The peer found an argument of the wrong type."),
    0x0213: (_F, "Resource limitation", "The peer is out of resources; retry later."),
    0xA700: (
        _F,
        "Refused: out of resources",
        "The peer has no room (disk full, too many operations); free space or retry later.",
    ),
    0xA701: (
        _F,
        "Refused: out of resources - unable to calculate number of matches",
        "The query matches too much for the peer; narrow it (date range, patient ID).",
    ),
    0xA702: (
        _F,
        "Refused: out of resources - unable to perform sub-operations",
        "The peer cannot start the transfers now; retry later or retrieve less at once.",
    ),
    0xA801: (
        _F,
        "Refused: move destination unknown",
        "The peer does not know the destination AE title; register it there with its "
        "host and port, exactly as configured here.",
    ),
    0xA900: (
        _F,
        "Error: identifier does not match SOP class",
        "The query keys do not fit the query model or level; check the level and keys.",
    ),
    0xAA00: (_F, "None of the frames requested were found", ""),
    0xAA01: (_F, "Unable to create new object for this SOP class", ""),
    0xAA02: (_F, "Unable to extract frames", ""),
    0xAA03: (_F, "Time-based request received for a non-time-based original SOP instance", ""),
    0xAA04: (_F, "Invalid request", ""),
    0xB000: (_W, "Warning", "The peer completed the request with a warning."),
    0xB006: (_W, "Elements discarded", "The peer stored the instance but dropped some elements."),
    0xB007: (
        _W,
        "Data set does not match SOP class",
        "The peer stored the instance although it does not fit its SOP class.",
    ),
    0xFE00: (_C, "Cancel", "The operation was cancelled (C-CANCEL) before it finished."),
    0xFF00: (_P, "Pending", ""),
    0xFF01: (
        _P,
        "Pending: optional keys not supported",
        "Matches continue; the peer ignores some optional keys.",
    ),
}

_SERVICE: dict[tuple[str, int], tuple[Outcome, str, str]] = {
    ("C-STORE", 0xB000): (
        _W,
        "Coercion of data elements",
        "The peer stored the instance but changed some values.",
    ),
    ("C-MOVE", 0xB000): (
        _W,
        "Sub-operations complete - one or more failures or warnings",
        "Some instances did not arrive; see the failed count and the destination's log.",
    ),
    ("C-GET", 0xB000): (
        _W,
        "Sub-operations complete - one or more failures or warnings",
        "Some instances did not arrive; see the failed count.",
    ),
}


def _range_info(code: int) -> tuple[Outcome, str, str] | None:
    if 0xA700 <= code <= 0xA7FF:
        return (
            _F,
            "Refused: out of resources",
            "The peer has no room or capacity; free space or retry later.",
        )
    if 0xA900 <= code <= 0xA9FF:
        return (
            _F,
            "Error: data set does not match SOP class",
            "The peer found the data set inconsistent with its SOP class.",
        )
    if 0xC000 <= code <= 0xCFFF:
        return (
            _F,
            "Failed: unable to process (cannot understand)",
            "The peer could not process the request; its own log says why. For C-MOVE "
            "some PACS (Orthanc among them) answer this when the destination AE is "
            "unknown: check that it is registered there.",
        )
    return None


def status_info(code: int, service: str | None = None) -> StatusInfo:
    """Look up a DIMSE status (PS3.7 C) in the context of a service ("C-MOVE"...)."""
    entry = (_SERVICE.get((service, code)) if service else None) or _GENERAL.get(code)
    if entry is None:
        entry = _range_info(code)
    if entry is None:
        if 0xB000 <= code <= 0xBFFF:
            entry = (_W, "Warning", "The peer reported a warning with a private code.")
        else:
            entry = (
                _F,
                "Unknown status",
                "A status the DICOM standard does not define; see the peer's manual.",
            )
    return StatusInfo(code, *entry)


def describe_status(code: int, service: str | None = None) -> str:
    return status_info(code, service).sentence()


# ------------------------------------------------------------------ association level
ASSOC_RESULT = {1: "rejected permanently", 2: "rejected transiently"}
ASSOC_SOURCE = {
    1: "by the service user",
    2: "by the service provider (ACSE)",
    3: "by the service provider (presentation layer)",
}
# (source, reason) -> (name, advice); PS3.8 table 9-21
ASSOC_REASON: dict[tuple[int, int], tuple[str, str]] = {
    (1, 1): (
        "no reason given",
        "The peer refused without saying why; look in its log, and check that it knows "
        "this AE title and address.",
    ),
    (1, 2): (
        "application context name not supported",
        "The peer does not speak the DICOM application context; it may not be a DICOM node at all.",
    ),
    (1, 3): (
        "calling AE title not recognized",
        "The remote does not accept the calling AE title {calling!r}; register it at the "
        "remote (with this computer's address) or use the calling AE title it expects.",
    ),
    (1, 7): (
        "called AE title not recognized",
        "The remote does not answer to AE {called!r}; check the AE title it is configured with.",
    ),
    (2, 1): ("no reason given", "The peer's DICOM layer refused; look in its log."),
    (2, 2): (
        "protocol version not supported",
        "The peer does not support DICOM upper layer protocol version 1.",
    ),
    (3, 0): ("reserved", ""),
    (3, 1): (
        "temporary congestion",
        "The peer is busy (too many associations); retry in a moment.",
    ),
    (3, 2): (
        "local limit exceeded",
        "The peer has reached its limit of associations; retry later or raise the limit there.",
    ),
}


def describe_rejection(
    result: int, source: int, reason: int, *, called: str = "", calling: str = ""
) -> tuple[str, str]:
    """Return (sentence, advice) for an A-ASSOCIATE-RJ."""
    res = ASSOC_RESULT.get(result, f"rejected (result {result})")
    src = ASSOC_SOURCE.get(source, f"by source {source}")
    name, advice = ASSOC_REASON.get((source, reason), (f"reason {reason}", ""))
    advice = advice.format(called=called, calling=calling)
    return f"Association {res} {src}: {name}", advice


ABORT_SOURCE = {
    0: "the peer (service user)",
    1: "reserved source",
    2: "the peer's DICOM layer (service provider)",
}
# the same sources when the A-ABORT is ours (sent by this program)
OWN_ABORT_SOURCE = {
    0: "us (service user)",
    1: "us (reserved source)",
    2: "our DICOM layer (service provider)",
}
ABORT_REASON = {
    0: "reason not specified",
    1: "unrecognized PDU",
    2: "unexpected PDU",
    4: "unrecognized PDU parameter",
    5: "unexpected PDU parameter",
    6: "invalid PDU parameter value",
}


def describe_abort(source: int, reason: int, *, ours: bool = False) -> str:
    """One sentence for an A-ABORT; ``ours``: this program sent it (not the peer)."""
    src = (OWN_ABORT_SOURCE if ours else ABORT_SOURCE).get(source, f"source {source}")
    if source == 2:
        return f"Association aborted by {src}: {ABORT_REASON.get(reason, f'reason {reason}')}"
    return f"Association aborted by {src}"


# Presentation context results, PS3.8 table 9-18
CONTEXT_RESULT = {
    0: "accepted",
    1: "rejected by the user",
    2: "rejected: no reason (provider)",
    3: "rejected: abstract syntax not supported",
    4: "rejected: transfer syntaxes not supported",
}
