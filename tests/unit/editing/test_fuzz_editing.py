"""Damaged and hostile files through the tag editor's entry points: the tree shows what
was read, an edit is refused with a sentence or is verified; never a traceback or a hang
(docs/safety.md rules 2, 3)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from pacsadmin.core.editing import EditSession, load
from pacsadmin.core.editing.tree import rows
from pacsadmin.core.errors import PacsAdminError
from tests.fuzz import corpus
from tests.fuzz_guard import COUNT, SEED, per_file_limit


def test_damaged_files_never_raise_or_hang(tmp_path: Path) -> None:
    stopped = saved = refused = 0
    with per_file_limit() as guard:
        for path, how in corpus(tmp_path / "fuzz", COUNT, seed=f"editing-{SEED}"):
            guard.arm(f"{path.name} ({how})")
            df = load(path)
            listing = rows(df)
            assert isinstance(listing, list)
            if not df.complete:
                stopped += 1
                assert df.problems and len(df.problems[-1]) < 400
                continue
            s = EditSession(df)
            try:
                s.set("PatientID", "FUZZ-1")
                out = s.render()
            except PacsAdminError as exc:
                refused += 1
                assert str(exc).strip()
                continue
            saved += 1
            assert load_bytes_ok(out)
    assert stopped and saved


def load_bytes_ok(data: bytes) -> bool:
    from pacsadmin.core.editing.model import parse

    return parse(data).complete


def test_a_huge_declared_length_allocates_nothing(tmp_path: Path) -> None:
    import struct

    meta = b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00"
    group = b"\x02\x00\x00\x00UL\x04\x00" + struct.pack("<L", len(meta))
    body = b"\x10\x00\x10\x00OB\x00\x00" + struct.pack("<L", 0xFFFFFFF0) + b"x" * 64
    p = tmp_path / "huge.dcm"
    p.write_bytes(b"\x00" * 128 + b"DICM" + group + meta + body)
    tracemalloc.start()
    df = load(p)
    rows(df)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not df.complete and "declares" in df.problems[-1]
    assert peak < 20 * 1024 * 1024


def test_deep_nesting_is_cut_off(tmp_path: Path) -> None:
    import struct

    meta = b"\x02\x00\x10\x00UI\x12\x001.2.840.10008.1.2\x00"
    group = b"\x02\x00\x00\x00UL\x04\x00" + struct.pack("<L", len(meta))
    one = struct.pack("<HHL", 0x0008, 0x1140, 0xFFFFFFFF) + struct.pack(
        "<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF
    )
    body = one * 5000
    p = tmp_path / "deep.dcm"
    p.write_bytes(b"\x00" * 128 + b"DICM" + group + meta + body)
    df = load(p)
    assert not df.complete and "nest" in df.problems[-1]


def test_markup_in_a_value_is_plain_text_and_long_values_elided(tmp_path: Path) -> None:
    from tests.unit.archive.dsgen import make_ds, write

    f = write(
        make_ds(patient_name="<b>x</b>", study_description="<script>" + "A" * 50),
        tmp_path / "a.dcm",
    )
    by = {r.keyword: r for r in rows(load(f), limit=20)}
    assert by["PatientName"].value == "<b>x</b>"
    assert by["StudyDescription"].value.startswith("<script>") and by[
        "StudyDescription"
    ].value.endswith("…")
    assert len(by["StudyDescription"].value) == 20
