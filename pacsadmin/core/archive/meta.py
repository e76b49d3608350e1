"""What the index keeps of one instance, read from its header (never the pixels)."""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO, cast

from pacsadmin.core._pydicom import stored_element

# The exceptions a hostile or broken file can raise while parsing (docs/safety.md rule 3).
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    NotImplementedError,
    MemoryError,
    RecursionError,
    UnicodeError,
    OverflowError,
)


class NotIndexable(ValueError):
    """The file is DICOM but lacks what the index needs (UIDs)."""


@dataclass(frozen=True)
class InstanceMeta:
    sop_instance_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str
    transfer_syntax: str
    patient_id: str = ""
    patient_name: str = ""
    birth_date: str = ""
    sex: str = ""
    study_date: str = ""
    study_time: str = ""
    accession: str = ""
    study_id: str = ""
    study_description: str = ""
    referring_physician: str = ""
    modality: str = ""
    series_number: int | None = None
    series_description: str = ""
    body_part: str = ""
    series_date: str = ""
    series_time: str = ""
    instance_number: int | None = None
    rows: int | None = None
    columns: int | None = None
    frames: int | None = None
    charset: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ascii_raw(ds: Any, kw: str) -> str | None:
    """The value straight from the undecoded element when it is plain ASCII text (every
    field read here is a string VR but Rows/Columns): pydicom's conversion of ~28
    elements cost more than parsing the header.  None: take pydicom's way (non-ASCII
    text, ISO 2022 escapes, converted or deferred elements)."""
    raw = stored_element(ds, _TAGS[kw])
    if raw is None:
        return ""
    if not getattr(raw, "is_raw", False):
        return None
    v = raw.value
    if not isinstance(v, bytes) or not v.isascii() or b"\x1b" in v:
        return None
    return v.decode("ascii").replace("\x00", "").strip()


def _s(ds: Any, kw: str) -> str:
    fast = _ascii_raw(ds, kw)
    if fast is not None:
        return fast
    try:
        elem = ds.get(_TAGS[kw])  # by tag: skips the keyword lookup
        v = elem.value if elem is not None else None
    except PARSE_ERRORS:
        return ""
    if v is None:
        return ""
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        v = "\\".join(str(x) for x in v)
    return str(v).replace("\x00", "").strip()


def _i(ds: Any, kw: str) -> int | None:
    if kw not in ("Rows", "Columns"):  # IS: text
        fast = _ascii_raw(ds, kw)
        if fast is not None:
            try:
                return int(fast.split("\\")[0]) if fast else None
            except ValueError:
                return None
    try:
        elem = ds.get(_TAGS[kw])
        v = elem.value if elem is not None else None
        return int(v) if v not in (None, "") else None
    except (*PARSE_ERRORS,):
        return None


def _uid(text: str) -> str:
    return text.replace("\x00", "").strip()


def _tags() -> dict[str, Any]:
    from pydicom.datadict import tag_for_keyword
    from pydicom.tag import Tag

    kws = [
        "SOPInstanceUID",
        "SOPClassUID",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "TransferSyntaxUID",
        "MediaStorageSOPInstanceUID",
        "MediaStorageSOPClassUID",
        "PatientID",
        "PatientName",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyID",
        "StudyDescription",
        "ReferringPhysicianName",
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
        "BodyPartExamined",
        "SeriesDate",
        "SeriesTime",
        "InstanceNumber",
        "Rows",
        "Columns",
        "NumberOfFrames",
        "SpecificCharacterSet",
    ]
    return {kw: Tag(cast(int, tag_for_keyword(kw))) for kw in kws}  # every keyword is known


class _LazyTags(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> Any:
        self.update(_tags())
        return dict.__getitem__(self, key)


_TAGS: dict[str, Any] = _LazyTags()


DEFER_SIZE = 4096  # values longer than this are read by pydicom only when asked for


def read_meta(path: str | os.PathLike[str] | BinaryIO) -> InstanceMeta:
    """Parse ``path``'s header.  Raises ``InvalidDicomError`` / PARSE_ERRORS / NotIndexable.

    The fast reader (:mod:`.fastmeta`) takes the first 64 KiB; whatever it declines (odd
    encodings, a header longer than that, broken files) is parsed by pydicom, so the
    result and the exceptions are pydicom's either way."""
    from pacsadmin.core.archive import fastmeta

    if isinstance(path, (str, os.PathLike)):
        try:
            with open(path, "rb") as fh:
                head = fh.read(fastmeta.HEAD)
        except OSError:
            head = b""  # pydicom raises the same error below
    else:
        start = path.tell()
        head = path.read(fastmeta.HEAD)
        path.seek(start)
    meta = fastmeta.parse(head, complete=len(head) < fastmeta.HEAD)
    return meta if meta is not None else read_meta_pydicom(path)


def read_meta_head(head: bytes, path: str | os.PathLike[str]) -> InstanceMeta:
    """:func:`read_meta` of ``path`` given its first ``fastmeta.HEAD`` bytes (all of it
    when shorter), which the caller already holds: the file is opened only when the fast
    reader declines them."""
    from pacsadmin.core.archive import fastmeta

    meta = fastmeta.parse(head, complete=len(head) < fastmeta.HEAD)
    return meta if meta is not None else read_meta_pydicom(path)


def read_meta_bytes(data: bytes) -> InstanceMeta:
    """:func:`read_meta` of a whole file already in memory."""
    from pacsadmin.core.archive import fastmeta

    meta = fastmeta.parse(data, complete=True)
    return meta if meta is not None else read_meta_pydicom(io.BytesIO(data))


def read_meta_pydicom(path: str | os.PathLike[str] | BinaryIO) -> InstanceMeta:
    """The pydicom path (the reference the fast reader must equal)."""
    ds = _dcmread(path)
    return meta_from_dataset(ds, ds.file_meta)


def _dcmread(path: str | os.PathLike[str] | BinaryIO) -> Any:
    """The one place a header is parsed by pydicom (Deflated files always come here)."""
    from pydicom import dcmread

    from pacsadmin.core import deflate

    path = deflate.guard(path)  # Deflated: inflate bounded, header only (DeflateError)
    return dcmread(path, stop_before_pixels=True, defer_size=DEFER_SIZE)


def meta_from_dataset(ds: Any, fm: Any) -> InstanceMeta:
    """What the index keeps, from a dataset and file meta as ``dcmread`` leaves them."""
    sop = _uid(_s(ds, "SOPInstanceUID") or _s(fm, "MediaStorageSOPInstanceUID"))
    cls = _uid(_s(ds, "SOPClassUID") or _s(fm, "MediaStorageSOPClassUID"))
    study = _uid(_s(ds, "StudyInstanceUID"))
    series = _uid(_s(ds, "SeriesInstanceUID"))
    missing = [
        k
        for k, v in (
            ("SOPInstanceUID", sop),
            ("StudyInstanceUID", study),
            ("SeriesInstanceUID", series),
        )
        if not v
    ]
    if missing:
        raise NotIndexable(f"missing {', '.join(missing)}")
    ts = _s(fm, "TransferSyntaxUID") or "1.2.840.10008.1.2"
    return InstanceMeta(
        sop_instance_uid=sop,
        sop_class_uid=cls,
        study_uid=study,
        series_uid=series,
        transfer_syntax=ts,
        patient_id=_s(ds, "PatientID"),
        patient_name=_s(ds, "PatientName"),
        birth_date=_s(ds, "PatientBirthDate"),
        sex=_s(ds, "PatientSex"),
        study_date=_s(ds, "StudyDate"),
        study_time=_s(ds, "StudyTime"),
        accession=_s(ds, "AccessionNumber"),
        study_id=_s(ds, "StudyID"),
        study_description=_s(ds, "StudyDescription"),
        referring_physician=_s(ds, "ReferringPhysicianName"),
        modality=_s(ds, "Modality"),
        series_number=_i(ds, "SeriesNumber"),
        series_description=_s(ds, "SeriesDescription"),
        body_part=_s(ds, "BodyPartExamined"),
        series_date=_s(ds, "SeriesDate"),
        series_time=_s(ds, "SeriesTime"),
        instance_number=_i(ds, "InstanceNumber"),
        rows=_i(ds, "Rows"),
        columns=_i(ds, "Columns"),
        frames=_i(ds, "NumberOfFrames"),
        charset=_s(ds, "SpecificCharacterSet"),
    )
