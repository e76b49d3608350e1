"""Tag editing and study correction, Qt-free (docs/architecture.md section 7).

The GUI's tag editor, the correction workflow and anonymization build on these names.
"""

from pacsadmin.core.editing.model import DicomFile, Item, Node, Stamp, Syntax, load, parse
from pacsadmin.core.editing.session import Change, Edit, EditRefused, EditSession
from pacsadmin.core.editing.tagpath import TagPath, element_name
from pacsadmin.core.editing.values import UnencodableText
from pacsadmin.core.editing.vr import Problem, validate
from pacsadmin.core.editing.writer import NotSaveable, RewriteMismatch

__all__ = [
    "Change",
    "DicomFile",
    "Edit",
    "EditRefused",
    "EditSession",
    "Item",
    "Node",
    "NotSaveable",
    "Problem",
    "RewriteMismatch",
    "Stamp",
    "Syntax",
    "TagPath",
    "UnencodableText",
    "element_name",
    "load",
    "parse",
    "validate",
]
