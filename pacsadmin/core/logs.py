"""Logging with patient data kept out.

pynetdicom's own identifier logging is switched off
(:func:`pacsadmin.core.dimse.association.quiet_pynetdicom`), and every
record passes through :class:`RedactingFilter`, which blanks the values of patient
attributes (name, ID, birth date, accession...) wherever they show up in text: dataset
dumps, ``keyword=value`` pairs and JSON.  The audit log is the one place they appear.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

REDACTED = "<redacted>"

# keyword and tag of the attributes that identify a patient
_PHI = {
    "PatientName": "0010,0010",
    "PatientID": "0010,0020",
    "PatientBirthDate": "0010,0030",
    "OtherPatientIDs": "0010,1000",
    "OtherPatientNames": "0010,1001",
    "PatientBirthName": "0010,1005",
    "PatientMotherBirthName": "0010,1060",
    "PatientAddress": "0010,1040",
    "PatientTelephoneNumbers": "0010,2154",
    "AccessionNumber": "0008,0050",
    "ReferringPhysicianName": "0008,0090",
    "IssuerOfPatientID": "0010,0021",
    "PatientBirthTime": "0010,0032",
}
_KEYWORDS = "|".join(_PHI)
_TAGS = "|".join(re.escape(t) for t in _PHI.values())

_PATTERNS = [
    # pydicom dataset dump: (0010,0010) Patient's Name    PN: 'DOE^JOHN'
    re.compile(rf"(\((?:{_TAGS})\)[^\n:]*?:\s*)(.*)", re.IGNORECASE),
    # keyword=value / keyword: value / "keyword": "value"
    re.compile(rf"(\"?\b(?:{_KEYWORDS})\b\"?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^,;\n}}]*)"),
]


def _blank(m: re.Match[str]) -> str:
    value = m.group(2)
    quote = value[0] if value[:1] in ("'", '"') and value[-1:] == value[:1] else ""
    return m.group(1) + quote + REDACTED + quote  # a quoted value stays quoted (valid JSON)


def redact(text: str) -> str:
    for pat in _PATTERNS:
        text = pat.sub(_blank, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:
            return True
        red = redact(msg)
        if red != msg:
            record.msg, record.args = red, None
        return True


_configured = False


def setup_logging(logs_dir: Path | None, *, verbose: bool = False, console: bool = False) -> None:
    global _configured
    root = logging.getLogger()
    if _configured:
        return
    _configured = True
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    redactor = RedactingFilter()
    if logs_dir is not None:
        try:
            logs_dir.mkdir(parents=True, exist_ok=True)
            fh = logging.handlers.RotatingFileHandler(
                logs_dir / "pacsadmin.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
            )
            fh.setFormatter(fmt)
            fh.addFilter(redactor)
            root.addHandler(fh)
        except OSError:
            pass
    if console:
        sh = logging.StreamHandler()
        sh.setFormatter(fmt)
        sh.addFilter(redactor)
        sh.setLevel(logging.DEBUG if verbose else logging.WARNING)
        root.addHandler(sh)
