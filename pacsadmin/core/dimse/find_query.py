"""What a C-FIND asks (PS3.4 C.4.1 and K.6.1): the model, the level, the keys.

:class:`FindQuery` is plain data (the GUI's form and the CLI's ``-k`` both build one);
:func:`build_identifier` checks it and turns it into the request identifier.  Every
refusal is a :class:`~pacsadmin.core.errors.ValidationError` naming the key, never a
pydicom traceback.

Matching (PS3.4 C.2.2.2): ``*`` matches any run of characters and ``?`` one character
(wildcard matching); ``20240101-20240131``, ``20240101-`` and ``-20240131`` are ranges of
dates or times; an empty value asks the peer to return the attribute (universal
matching).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pacsadmin.core.errors import ValidationError

MODELS = ("study", "patient", "worklist")
SOP_CLASSES = {
    "study": "1.2.840.10008.5.1.4.1.2.2.1",  # Study Root Q/R Information Model - FIND
    "patient": "1.2.840.10008.5.1.4.1.2.1.1",  # Patient Root Q/R Information Model - FIND
    "worklist": "1.2.840.10008.5.1.4.31",  # Modality Worklist Information Model - FIND
}
MODEL_NAMES = {"study": "Study Root", "patient": "Patient Root", "worklist": "Modality Worklist"}
LEVELS = {"patient": ("PATIENT", "STUDY", "SERIES", "IMAGE"), "study": ("STUDY", "SERIES", "IMAGE")}

_PATIENT = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")
# what each level returns when the user names no return keys: the columns admins look at
DEFAULT_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("patient", "PATIENT"): (*_PATIENT, "NumberOfPatientRelatedStudies"),
    ("patient", "STUDY"): (
        "PatientID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyID",
        "StudyDescription",
        "StudyInstanceUID",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    ),
    ("study", "STUDY"): (
        *_PATIENT,
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyID",
        "StudyDescription",
        "ModalitiesInStudy",
        "ReferringPhysicianName",
        "StudyInstanceUID",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    ),
    ("any", "SERIES"): (
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
        "NumberOfSeriesRelatedInstances",
    ),
    ("any", "IMAGE"): (
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SOPClassUID",
        "InstanceNumber",
    ),
    ("worklist", ""): (
        *_PATIENT,
        "AccessionNumber",
        "RequestedProcedureID",
        "RequestedProcedureDescription",
        "StudyInstanceUID",
    ),
}
# Modality Worklist: these keys live in the Scheduled Procedure Step Sequence (PS3.4 K.6.1.2.2)
SPS_KEYS = (
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepDescription",
    "ScheduledProcedureStepID",
    "ScheduledStationName",
    "ScheduledProcedureStepLocation",
)
_TAG_RE = re.compile(r"^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$")
_BINARY_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ"}
_INT_VRS = {"US", "SS", "UL", "SL", "UV", "SV"}
_FLOAT_VRS = {"FL", "FD"}


@dataclass(frozen=True)
class FindQuery:
    """``keys``: (keyword or tag number, value) pairs; ``return_keys``: more attributes to
    return (empty values).  ``charset``: ``None`` uses the node's query character set,
    ``""`` sends none (the default repertoire), anything else is sent as (0008,0005).
    ``defaults=False``: only the keys given (what ``findscu -k`` sends)."""

    model: str = "study"
    level: str | None = "STUDY"
    keys: tuple[tuple[str, str], ...] = ()
    return_keys: tuple[str, ...] = ()
    charset: str | None = None
    defaults: bool = True  # also ask for the level's usual columns (DEFAULT_KEYS)

    @property
    def sop_class(self) -> str:
        return SOP_CLASSES[self.model]

    def describe(self) -> str:
        level = f", {self.level} level" if self.model != "worklist" else ""
        return f"{MODEL_NAMES.get(self.model, self.model)}{level}"


def resolve_key(key: str) -> tuple[int, str, str]:
    """``"PatientName"`` or ``"00100010"`` / ``"(0010,0010)"`` -> (tag, keyword, VR)."""
    from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

    text = key.strip()
    m = _TAG_RE.match(text)
    if m:
        tag = int(m.group(1) + m.group(2), 16)
    else:
        found = tag_for_keyword(text)
        if found is None:
            raise ValidationError("keys", f"{key!r} is not a DICOM keyword or tag number.")
        tag = found
    if tag >> 16 == 0 or tag >> 16 & 1:
        raise ValidationError(
            "keys", f"{key!r}: command and private attributes cannot be query keys."
        )
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        raise ValidationError("keys", f"{key!r} is not in the DICOM dictionary.") from None
    return tag, keyword_for_tag(tag) or f"{tag:08X}", vr.split(" or ")[0]


def check_level(query: FindQuery) -> None:
    if query.model not in MODELS:
        raise ValidationError("model", f"Unknown query model {query.model!r}.")
    if query.model == "worklist":
        if query.level:
            raise ValidationError("level", "A worklist query has no level.")
        return
    levels = LEVELS[query.model]
    if query.level not in levels:
        raise ValidationError(
            "level",
            f"{MODEL_NAMES[query.model]} has no level {query.level!r} "
            f"(it has {', '.join(levels)}).",
        )


def _value(tag: int, keyword: str, vr: str, value: str, codec: str) -> Any:
    if vr in _BINARY_VRS:
        if value:
            raise ValidationError("keys", f"{keyword} cannot be matched on a value.")
        return None
    if vr in _INT_VRS or vr in _FLOAT_VRS:
        if not value:
            return None
        try:
            return int(value) if vr in _INT_VRS else float(value)
        except ValueError:
            raise ValidationError("keys", f"{keyword}: {value!r} is not a number.") from None
    if vr in ("IS", "DS") and value and not re.fullmatch(r"[-+0-9.eE\\ ]+", value):
        raise ValidationError("keys", f"{keyword}: {value!r} is not a number.")
    try:
        value.encode(codec)
    except (UnicodeEncodeError, LookupError):
        raise ValidationError(
            "keys",
            f"{keyword}: {value!r} has characters the query character set cannot carry; "
            "choose another one (ISO_IR 100 for Latin-1, ISO_IR 192 for UTF-8).",
        ) from None
    return value


def build_identifier(query: FindQuery, charset: str) -> Any:
    """The request identifier (a pydicom Dataset); ``charset`` is what (0008,0005) says
    (``""``: none).  Raises :class:`ValidationError` for a bad key, value or level."""
    from pydicom.charset import python_encoding
    from pydicom.dataset import Dataset

    check_level(query)
    codec = "ascii"
    if charset:
        codec = python_encoding.get(charset, "")
        if not codec:
            raise ValidationError("charset", f"Unknown character set {charset!r}.")
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    sps = Dataset()
    level = query.level or ""
    if query.model != "worklist":
        ds.QueryRetrieveLevel = level
    defaults = DEFAULT_KEYS.get((query.model, level)) or DEFAULT_KEYS.get(("any", level), ())
    if query.model == "worklist":
        defaults = (*defaults, *SPS_KEYS[:7])
    if not query.defaults:
        defaults = ()
    wanted: list[tuple[str, str]] = [(k, "") for k in (*defaults, *query.return_keys)]
    wanted += list(query.keys)
    for key, value in wanted:
        tag, keyword, vr = resolve_key(key)
        if tag == 0x00080052:
            raise ValidationError("keys", "Set the query level with the level, not as a key.")
        if tag == 0x00080005:
            raise ValidationError("keys", "Set the character set with the charset option.")
        v = _value(tag, keyword, vr, value, codec)
        target = sps if query.model == "worklist" and keyword in SPS_KEYS else ds
        if tag in target and not value:
            continue  # a return key that is already a matching key keeps its value
        target.add_new(tag, vr, v)
    if query.model == "worklist":
        ds.ScheduledProcedureStepSequence = [sps]
    return ds
