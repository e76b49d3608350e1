"""De-identification: PS3.15 Annex E's Basic Application Level Confidentiality Profile
with its options (``profile.py``), applied to files written into a new folder
(``run.py``)."""

from pacsadmin.core.anonymize.profile import Anonymizer, Batch, Change, Options
from pacsadmin.core.anonymize.run import AnonymizeResult, FileOutcome, anonymize, preview

__all__ = [
    "AnonymizeResult",
    "Anonymizer",
    "Batch",
    "Change",
    "FileOutcome",
    "Options",
    "anonymize",
    "preview",
]
