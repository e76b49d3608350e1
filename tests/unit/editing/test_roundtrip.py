"""Every file pydicom ships: saved with no edit it is byte-identical (the preamble
zeroed); one edit changes that element only; what cannot be read is reported."""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pytest

from pacsadmin.core.editing import EditSession, load
from pacsadmin.core.editing.doc import Doc
from pacsadmin.core.editing.model import load_header
from pacsadmin.core.editing.writer import NotSaveable, render

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
FILES = sorted(p for p in TEST_FILES.rglob("*") if p.is_file())


def _id(p: Path) -> str:
    return str(p.relative_to(TEST_FILES))


def test_the_corpus_is_there() -> None:
    assert len(FILES) > 80


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_round_trip_without_edit_is_byte_identical(path: Path) -> None:
    df = load(path)
    if not df.complete:  # reported with where reading stopped, never saved
        assert df.problems and "stopped" in df.problems[-1]
        with pytest.raises(NotSaveable):
            render(Doc.of(df))
        return
    out = render(Doc.of(df))
    orig = path.read_bytes()
    expected = b"\x00" * 128 + orig[128:] if df.preamble else orig
    assert out == expected


def _elements(data: bytes) -> dict[str, object]:
    import io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        out: dict[str, object] = {}
        for elem in ds.iterall():
            if elem.tag.element == 0:  # group lengths are fixed up by design
                continue
            out[f"{elem.tag}"] = repr(elem.value)[:2000] if elem.VR != "SQ" else len(elem.value)
        for elem in getattr(ds, "file_meta", []) or []:
            out[f"m{elem.tag}"] = repr(elem.value)
    return out


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_one_edit_changes_only_that_element(path: Path) -> None:
    df = load(path)
    if not df.complete:
        return
    session = EditSession(df)
    session.set("PatientName", "Edited^Name")
    out = session.render()
    try:
        before = _elements(path.read_bytes())
    except Exception:
        return  # pydicom cannot read the original: our own re-read compared it already
    after = _elements(out)
    before.pop("(0010,0010)", None)
    new_name = after.pop("(0010,0010)")
    assert new_name == repr(pydicom.valuerep.PersonName("Edited^Name")) or "Edited^Name" in str(
        new_name
    )
    assert before == after


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_a_header_read_sees_the_same_elements_and_is_never_saved(path: Path) -> None:
    head, full = load_header(path, head=2048), load(path)
    if not head.partial:
        assert head.complete == full.complete
        return
    assert [(n.tag, n.start, n.end) for n in head.elements] == [
        (n.tag, n.start, n.end) for n in full.elements
    ]
    with pytest.raises(NotSaveable):
        render(Doc.of(head))
