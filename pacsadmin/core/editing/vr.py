"""VR validation of a value typed as text, before anything is written (PS3.5 6.2).

Each :class:`Problem` names the element and the rule, as the CLI prints it and a dialog
shows it beside the field: ``PatientBirthDate (0010,0030): DA must be a real date
YYYYMMDD; got '20241345'``.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass

from pacsadmin.core.editing.values import SINGLE_VALUE_VRS

MAX_LEN = {
    "AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64,
    "LT": 10240, "SH": 16, "ST": 1024, "TM": 14, "UI": 64, "UC": 0xFFFFFFFE,
    "UR": 0xFFFFFFFE, "UT": 0xFFFFFFFE,
}  # fmt: skip
_CS = re.compile(r"[A-Z0-9 _]*")
_AS = re.compile(r"\d{3}[DWMY]")
_IS = re.compile(r"\s*[+-]?\d+\s*")
_DS = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_UI = re.compile(r"(0|[1-9]\d*)(\.(0|[1-9]\d*))*")
_TM = re.compile(r"(\d\d)(\d\d)?(\d\d)?(\.\d{1,6})?")
_DT = re.compile(r"(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\.\d{1,6})?([+-]\d{4})?")
_TEXT_CONTROL_OK = {"LT": "\r\n\f\t\x1b", "ST": "\r\n\f\t\x1b", "UT": "\r\n\f\t\x1b"}


@dataclass(frozen=True)
class Problem:
    element: str  # "PatientID (0010,0020)"
    rule: str  # "LO length", "DA format", "VM"...
    message: str  # the whole sentence

    def __str__(self) -> str:
        return self.message


def _vm_allows_many(vm: str) -> bool:
    return vm not in ("", "1")


def dictionary_vm(tag: int) -> str:
    from pydicom.datadict import dictionary_VM

    try:
        return str(dictionary_VM(tag))
    except KeyError:
        return ""


def validate(vr: str, text: str, *, element: str, tag: int | None = None) -> list[Problem]:
    """Every rule ``text`` breaks as a value of ``vr`` (empty: it is fine)."""
    out: list[Problem] = []

    def bad(rule: str, why: str) -> None:
        out.append(Problem(element, rule, f"{element}: {why}"))

    if vr in SINGLE_VALUE_VRS or vr in ("OB", "OW", "UN", "SQ"):
        values = [text]
    else:
        values = text.split("\\")
        if len(values) > 1 and tag is not None:
            vm = dictionary_vm(tag)
            if vm and not _vm_allows_many(vm):
                bad(
                    "VM",
                    f"takes one value, but the backslash in {text!r} makes {len(values)} "
                    "(a backslash separates values in DICOM)",
                )
                return out
    for v in values:
        _check_one(vr, v, bad)
    return out


def _check_one(vr: str, v: str, bad: object) -> None:
    assert callable(bad)
    limit = MAX_LEN.get(vr)
    if vr == "PN":
        groups = v.split("=")
        if len(groups) > 3:
            bad("PN groups", f"PN has at most 3 component groups (=); got {len(groups)}")
        for g in groups:
            if len(g.split("^")) > 5:
                bad("PN components", f"PN has at most 5 components (^) a group; got {g!r}")
            if len(g) > 64:
                bad("PN length", f"a PN component group is at most 64 characters; got {len(g)}")
        _controls(v, vr, bad)
        return
    if limit is not None and vr not in ("UC", "UR", "UT") and len(v) > limit:
        bad(f"{vr} length", f"{vr} is at most {limit} characters; got {len(v)} ({_short(v)})")
    if vr == "DA" and v:
        try:
            if len(v) != 8 or not v.isdigit():
                raise ValueError
            _dt.date(int(v[:4]), int(v[4:6]), int(v[6:]))
        except ValueError:
            bad("DA format", f"DA must be a real date YYYYMMDD; got {_short(v)}")
    elif vr == "TM" and v:
        m = _TM.fullmatch(v.rstrip())
        if not m or int(m.group(1)) > 23 or int(m.group(2) or 0) > 59 or int(m.group(3) or 0) > 60:
            bad("TM format", f"TM must be HH[MM[SS[.FFFFFF]]] with a real time; got {_short(v)}")
    elif vr == "DT" and v:
        m = _DT.fullmatch(v.rstrip())
        ok = m is not None
        if m:
            mo, d = int(m.group(2) or 1), int(m.group(3) or 1)
            hh, mi, ss = int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0)
            try:
                _dt.date(int(m.group(1)), mo, d)
            except ValueError:
                ok = False
            ok = ok and hh < 24 and mi < 60 and ss <= 60
        if not ok:
            bad("DT format", f"DT must be YYYY[MM[DD[HH[MM[SS[.F]]]]]][+ZZZZ]; got {_short(v)}")
    elif vr == "UI" and v:
        if not _UI.fullmatch(v):
            bad(
                "UI syntax",
                f"UI is digits in dot-separated components without leading zeros; got {_short(v)}",
            )
    elif vr == "AS" and v:
        if not _AS.fullmatch(v):
            bad("AS format", f"AS is three digits and D, W, M or Y (045Y); got {_short(v)}")
    elif vr == "IS" and v.strip():
        if not _IS.fullmatch(v) or not -(2**31) <= int(v) < 2**31:
            bad("IS range", f"IS is an integer from -2^31 to 2^31-1; got {_short(v)}")
    elif vr == "DS" and v.strip():
        if not _DS.fullmatch(v) or not math.isfinite(float(v)):
            bad("DS format", f"DS is a decimal number (e.g. 1.5, -2e3); got {_short(v)}")
    elif vr == "CS":
        if not _CS.fullmatch(v):
            bad("CS repertoire", f"CS holds only A-Z, 0-9, space and _; got {_short(v)}")
    elif vr == "AE":
        if v.strip() == "" and v:
            bad("AE format", "an AE title cannot be only spaces")
        _controls(v, vr, bad)
    elif vr in ("LO", "SH", "LT", "ST", "UT", "UC"):
        _controls(v, vr, bad)


def _controls(v: str, vr: str, bad: object) -> None:
    assert callable(bad)
    ok = _TEXT_CONTROL_OK.get(vr, "\x1b")
    found = [c for c in v if (ord(c) < 32 or ord(c) == 127) and c not in ok]
    if found:
        bad(f"{vr} characters", f"{vr} may not hold control characters; got {_short(v)}")


def _short(v: str) -> str:
    return repr(v if len(v) <= 40 else v[:37] + "...")
