"""The Basic Application Level Confidentiality Profile (PS3.15 E.2) and its options
(E.3), applied to a pydicom data set, recursively into sequences.

Choices where the standard lets the application choose (documented in the README):

- X/Z, X/D, Z/D, X/Z/D resolve to the *non-removing* action (Z, D, D, D): a required
  attribute stays present (empty or a dummy), so the object stays valid and nothing
  identifying remains.  X/Z/U* (Referenced/Source Image Sequence) keeps the sequence and
  its items' UIDs are replaced consistently (the U of the attributes inside).
- D on a sequence empties it (a dummy item would be invented content); D on a UI is a
  new UID, as U.
- The patient's name and ID become the batch's pseudonym (``ANON0001``...), the same for
  every file of one patient (Z allows a dummy; a pseudonym keeps studies apart).
- U: ``2.25.<n>`` UIDs derived from the original UID and a per-batch secret: the same
  original gets the same replacement everywhere in the batch (references stay
  consistent), and nobody without the secret can go back.
- Modified dates (``shift_days``): every DA and DT the table marks with the option is
  moved by the same number of days; times are kept.
- Clean descriptors: descriptions are kept, with the patient's name parts, ID, birth
  date and the accession number replaced by ``*`` wherever they appear in them.
- Private attributes (odd groups) are removed, unless ``keep_private`` (the user's
  responsibility: the UI warns).
- Curves (50xx) and overlays (60xx,3000 / 60xx,4000) are removed as the table says.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from pacsadmin.core.anonymize.table_e1 import TABLE

# option name in table_e1 -> the Options attribute that turns it on
_OPTION_ATTR = {
    "full_dates": "retain_full_dates",
    "modified_dates": "shift_dates",
    "clean_descriptors": "clean_descriptors",
    "retain_uids": "retain_uids",
    "retain_device": "retain_device",
    "retain_patient_characteristics": "retain_patient_characteristics",
    "retain_institution": "retain_institution",
}
# CID 7050 De-identification Method codes (DCM)
_CODES = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
    "retain_full_dates": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    "shift_dates": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_device": ("113109", "Retain Device Identity Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "keep_private": ("113111", "Retain Safe Private Option"),
    "retain_institution": ("113112", "Retain Institution Identity Option"),
}
_RESOLVE = {"X/Z": "Z", "X/D": "D", "Z/D": "D", "X/Z/D": "D", "X/Z/U*": "U*"}
_MAX_LEN = {"AE": 16, "AS": 4, "CS": 16, "DS": 16, "IS": 12, "LO": 64, "PN": 64, "SH": 16}
_PATIENT_NAME, _PATIENT_ID = 0x00100010, 0x00100020


@dataclass(frozen=True)
class Options:
    retain_full_dates: bool = False
    shift_days: int | None = None  # Modified Dates: every marked date moved by this many days
    retain_device: bool = False
    retain_patient_characteristics: bool = False
    retain_institution: bool = False
    clean_descriptors: bool = False
    retain_uids: bool = False
    keep_private: bool = False
    pseudonym_prefix: str = "ANON"

    @property
    def shift_dates(self) -> bool:
        return self.shift_days is not None

    def validate(self) -> Options:
        from pacsadmin.core.errors import ValidationError

        if self.retain_full_dates and self.shift_dates:
            raise ValidationError(
                "dates", "Choose one: retain the dates, or shift them (not both)."
            )
        if not re.fullmatch(r"[A-Za-z0-9_]{1,8}", self.pseudonym_prefix):
            raise ValidationError(
                "pseudonym_prefix",
                "The pseudonym prefix must be 1 to 8 letters, digits or underscores.",
            )
        return self

    def method(self) -> str:
        """(0012,0063) De-identification Method: the profile and its options, in words."""
        words = ["Basic Application Confidentiality Profile (pacsadmin)"]
        words += [_CODES[k][1] for k in self.chosen()]
        return "; ".join(words)

    def chosen(self) -> list[str]:
        return [k for k in _CODES if k != "basic" and getattr(self, k, False)]


@dataclass
class Change:
    """One attribute's fate in one file (the preview)."""

    path: str  # "(0010,0010)" or "(0008,1140)[0].(0008,1155)"
    keyword: str
    action: str  # "removed", "emptied", "replaced", "new UID", "shifted", "cleaned", "added"
    old: str
    new: str


@dataclass
class Batch:
    """What must stay consistent across the files of one anonymization: the pseudonyms,
    the UID map and the secret it derives from."""

    options: Options
    secret: bytes
    pseudonyms: dict[str, str] = field(default_factory=dict)  # original patient key -> pseudonym
    uids: dict[str, str] = field(default_factory=dict)

    def pseudonym(self, key: str) -> str:
        if key not in self.pseudonyms:
            self.pseudonyms[key] = f"{self.options.pseudonym_prefix}{len(self.pseudonyms) + 1:04d}"
        return self.pseudonyms[key]

    def uid(self, old: str) -> str:
        old = old.strip("\x00 ")
        if old not in self.uids:
            digest = hashlib.sha256(self.secret + old.encode("ascii", "replace")).digest()
            self.uids[old] = "2.25." + str(int.from_bytes(digest[:16], "big"))
        return self.uids[old]


def _table() -> tuple[
    dict[int, tuple[str, dict[str, str]]], list[tuple[re.Pattern[str], str, dict[str, str]]]
]:
    exact: dict[int, tuple[str, dict[str, str]]] = {}
    patterns: list[tuple[re.Pattern[str], str, dict[str, str]]] = []
    for tag, basic, opts in TABLE:
        options = dict(o.split("=") for o in opts.split(",") if o)
        if "X" in tag:
            patterns.append((re.compile(tag.replace("X", "[0-9A-F]")), basic, options))
        else:
            exact[int(tag, 16)] = (basic, options)
    return exact, patterns


_EXACT, _PATTERNS = _table()


def rule(tag: int) -> tuple[str, dict[str, str]] | None:
    """(basic action, {option: action}) of ``tag``, or None when the table does not list it."""
    hit = _EXACT.get(tag)
    if hit is not None:
        return hit
    text = f"{tag:08X}"
    for pattern, basic, options in _PATTERNS:
        if pattern.fullmatch(text):
            return basic, options
    return None


def action_for(tag: int, options: Options) -> str | None:
    """The action this run takes for ``tag``: K, C, D, Z, X, U, U* or None (not listed)."""
    r = rule(tag)
    if r is None:
        return None
    basic, opts = r
    for opt, act in opts.items():
        attr = _OPTION_ATTR.get(opt)
        if attr and getattr(options, attr, False):
            return act
    return _RESOLVE.get(basic, basic)


def _dummy(vr: str, keyword: str) -> Any:
    if vr == "DA":
        return "19000101"
    if vr == "TM":
        return "000000"
    if vr == "DT":
        return "19000101000000"
    if vr == "AS":
        return "000Y"
    if vr in ("IS", "DS"):
        return "0"
    if vr in ("US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"):
        return 0
    if vr in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        return b"\x00\x00"
    text = "ANONYMIZED"
    return text[: _MAX_LEN.get(vr, 64)]


def _shift(value: str, vr: str, days: int) -> str:
    def one(v: str) -> str:
        v = v.strip()
        if len(v) < 8 or not v[:8].isdigit():
            return v
        try:
            d = _dt.date(int(v[:4]), int(v[4:6]), int(v[6:8])) + _dt.timedelta(days=days)
        except ValueError:
            return ""  # not a date: nothing identifying may stay
        return f"{d:%Y%m%d}" + (v[8:] if vr == "DT" else "")

    return "\\".join(one(v) for v in str(value).split("\\"))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, list) and value and hasattr(value[0], "keys"):  # a sequence's items
        return f"<{len(value)} item(s)>"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Anonymizer:
    """Apply the profile to data sets of one batch; ``changes`` of the last data set."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.options = batch.options
        self.changes: list[Change] = []
        self._scrub: list[str] = []

    # ------------------------------------------------------------------ one data set
    def apply(self, ds: Any) -> list[Change]:
        """Anonymize ``ds`` in place (its file meta kept in sync); the changes made."""
        self.changes = []
        key = str(ds.get("PatientID", "") or "") or str(ds.get("PatientName", "") or "")
        self._scrub = self._identifiers(ds)
        pseudonym = self.batch.pseudonym(key)
        self._walk(ds, "")
        for tag, kw in ((_PATIENT_NAME, "PatientName"), (_PATIENT_ID, "PatientID")):
            old = ds[tag].value if tag in ds else ""
            ds[tag] = _element(tag, "PN" if kw == "PatientName" else "LO", pseudonym)
            self.changes.append(
                Change(
                    f"({tag >> 16:04X},{tag & 0xFFFF:04X})", kw, "replaced", _text(old), pseudonym
                )
            )
        ds.PatientIdentityRemoved = "YES"
        # LO, VM 1-n: one value per part of the method
        ds.DeidentificationMethod = [w.strip()[:64] for w in self.options.method().split(";")]
        ds.DeidentificationMethodCodeSequence = self._codes()
        meta = getattr(ds, "file_meta", None)
        if meta is not None and "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        return self.changes

    def _codes(self) -> Any:
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence

        items = []
        for key in ["basic", *self.options.chosen()]:
            code, meaning = _CODES[key]
            item = Dataset()
            item.CodeValue = code
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            items.append(item)
        return Sequence(items)

    def _identifiers(self, ds: Any) -> list[str]:
        out: list[str] = []
        name = str(ds.get("PatientName", "") or "")
        if len(name) >= 3:
            out += [name, name.replace("^", " ").strip()]
        out += [p for p in re.split(r"[\^=\s]+", name) if len(p) >= 3]
        for kw in ("PatientID", "AccessionNumber", "PatientBirthDate", "OtherPatientIDs"):
            v = ds.get(kw)
            if v:
                out += [
                    str(x) for x in (v if isinstance(v, list | tuple) else [v]) if len(str(x)) >= 3
                ]
        return sorted(set(out), key=len, reverse=True)

    def _clean(self, value: Any) -> Any:
        if not isinstance(value, str) or not self._scrub:
            return value
        for word in self._scrub:
            value = re.sub(re.escape(word), "*", value, flags=re.IGNORECASE)
        return value

    def _walk(self, ds: Any, prefix: str) -> None:
        from pydicom.datadict import keyword_for_tag

        for elem in list(ds):
            tag = int(elem.tag)
            path = f"{prefix}({tag >> 16:04X},{tag & 0xFFFF:04X})"
            kw = elem.keyword or keyword_for_tag(tag) or ""
            if tag >> 16 & 1:  # private (odd group): creators included
                if not self.options.keep_private:
                    del ds[tag]
                    self.changes.append(
                        Change(path, kw or "private", "removed", _text(elem.value), "")
                    )
                continue
            if tag in (_PATIENT_NAME, _PATIENT_ID):
                continue  # the pseudonym, after the walk
            act = action_for(tag, self.options)
            if act is None or act == "K":
                if elem.VR == "SQ":
                    self._items(elem, path)
                continue
            self._act(ds, elem, tag, act, path, kw)

    def _items(self, elem: Any, path: str) -> None:
        for i, item in enumerate(elem.value or []):
            self._walk(item, f"{path}[{i}].")

    def _act(self, ds: Any, elem: Any, tag: int, act: str, path: str, kw: str) -> None:
        vr, old = elem.VR, elem.value
        if act == "X":
            del ds[tag]
            self.changes.append(Change(path, kw, "removed", _text(old), ""))
        elif act == "Z":
            elem.value = [] if vr == "SQ" else ("" if vr not in ("US", "SS", "UL", "SL") else None)
            self.changes.append(Change(path, kw, "emptied", _text(old), ""))
        elif act == "U*" and vr == "SQ":
            self._items(elem, path)  # the references inside get their consistent new UIDs
        elif act == "D" and vr == "SQ":
            elem.value = []  # no dummy items: an empty sequence identifies nobody
            self.changes.append(Change(path, kw, "emptied", _text(old), ""))
        elif act == "D" and vr == "UI":
            elem.value = self.batch.uid(str(old)) if old else self.batch.uid(path)
            self.changes.append(Change(path, kw, "new UID", _text(old), _text(elem.value)))
        elif act == "D":
            elem.value = _dummy(vr, kw)
            self.changes.append(Change(path, kw, "replaced", _text(old), _text(elem.value)))
        elif act == "U":
            if vr == "UI" and old:
                vals = [old] if isinstance(old, str) else list(old)  # VM > 1: MultiValue
                new = [self.batch.uid(str(v)) for v in vals]
                elem.value = new if len(new) > 1 else new[0]
                self.changes.append(Change(path, kw, "new UID", _text(old), _text(elem.value)))
            elif vr == "SQ":
                self._items(elem, path)
        elif act == "C":
            if vr in ("DA", "DT") and self.options.shift_dates and old:
                elem.value = _shift(str(old), vr, int(self.options.shift_days or 0))
                self.changes.append(Change(path, kw, "shifted", _text(old), _text(elem.value)))
            elif vr == "SQ":
                self._items(elem, path)
            elif vr in ("TM",):
                pass  # times kept with modified dates
            elif isinstance(old, str):
                elem.value = self._clean(old)
                if elem.value != old:
                    self.changes.append(Change(path, kw, "cleaned", _text(old), _text(elem.value)))
            else:
                del ds[tag]  # nothing we can clean safely: removed
                self.changes.append(Change(path, kw, "removed", _text(old), ""))


def _element(tag: int, vr: str, value: Any) -> Any:
    from pydicom.dataelem import DataElement

    return DataElement(tag, vr, value)
