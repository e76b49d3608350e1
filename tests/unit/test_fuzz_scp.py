"""Mutation fuzzing of the storage SCP: damaged data sets over the wire (raw bytes behind an
intact file meta group), each answered, the SCP going on, then C-GET of what was kept."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from pacsadmin.core.archive import Archive
from tests import fuzz
from tests.conftest import SCP_AET
from tests.fuzz_guard import COUNT, SEED, sop_uid

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydicom")  # pydicom's notes


def _unique_copy(src: Path, k: int) -> bytes:
    """``src`` with a SOP Instance UID of the same length that no other copy has."""
    data = src.read_bytes()
    old = sop_uid(src).encode()
    digits = max(1, len(old) - 5)
    new = f"2.25.{10 ** (digits - 1) + k}".encode()[: len(old)]
    return data.replace(old, new)


def _wire_corpus(folder: Path, sources: list[Path], count: int) -> list[Path]:
    """Damaged data sets behind an intact file meta group (what a sender puts on the wire:
    the SCU reads the group to choose a context, then sends the rest byte for byte)."""
    folder.mkdir()
    out = []
    for k in range(count):
        src = sources[k % len(sources)]
        data = _unique_copy(src, k)
        end = fuzz.meta_end(data)
        body, _ = fuzz.mutate(b"\0" * 128 + data[end:], f"scp-{SEED}:{k}")
        path = folder / f"{k:03d}-{src.stem}.dcm"
        path.write_bytes(data[:end] + body[128:])
        out.append(path)
    return out


def test_storage_scp_answers_each_damaged_data_set(tmp_path, archive, start_scp, request):
    from pydicom.filereader import read_file_meta_info
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    from pacsadmin.core.dimse.association import quiet_pynetdicom

    quiet_pynetdicom()
    from pydicom.data import get_testdata_file

    names = ("CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "rtplan.dcm")
    sources = fuzz.generated_files(tmp_path / "gen") + [
        Path(str(get_testdata_file(n))) for n in names
    ]
    damaged = _wire_corpus(tmp_path / "wire", sources, max(40, COUNT // 8))
    valid = fuzz.generated_files(tmp_path / "valid")
    from pacsadmin.core.dimse import _pynetdicom

    previous = _pynetdicom.set_chunked_send(True)  # raw bytes, no re-encode
    request.addfinalizer(lambda: _pynetdicom.set_chunked_send(previous))
    scp = start_scp()
    ae = AE("FUZZ")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    contexts = set()
    for p in damaged + valid:
        fm = read_file_meta_info(p)
        contexts.add((str(fm.MediaStorageSOPClassUID), str(fm.TransferSyntaxUID)))
    for cls, ts in sorted(contexts):
        ae.add_requested_context(cls, ts)
    ae.add_requested_context(Verification)
    statuses: dict[Path, int] = {}
    files = damaged + valid
    assoc = None
    for path in files:
        if assoc is None or not assoc.is_established:
            assoc = ae.associate("127.0.0.1", scp.port, ae_title=SCP_AET)
            assert assoc.is_established, "the SCP stopped accepting after a damaged data set"
        rsp = assoc.send_c_store(path)
        assert "Status" in rsp, f"no answer to {path.name}"
        statuses[path] = int(rsp.Status)
    if assoc.is_established:
        assert assoc.send_c_echo().Status == 0
        assoc.release()
    assert all(statuses[p] == 0 for p in valid)
    failed = [p for p in damaged if statuses[p] not in (0, 0xB000, 0xB007, 0xB006)]
    assert failed, "no damaged data set was refused: the corpus is too kind"
    assert all(statuses[p] in (0xC210, 0xA700, 0xC211) for p in failed), statuses
    stored = sum(1 for p in files if statuses[p] == 0)
    assert archive.counts()["instances"] == stored
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = archive.verify()
    assert rep.ok, rep.to_json()
    assert not list(archive.layout.tmp_dir.iterdir())
    _get_everything_back(archive, scp.port, contexts)


def _get_everything_back(archive: Archive, port: int, contexts: set[tuple[str, str]]) -> None:
    """C-GET of each archived study, damaged instances among them: every C-GET gets a final
    status (sub-operations may fail: the data set cannot be encoded), and the SCP goes on."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

    ae = AE("FUZZGET")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    ae.add_requested_context(GET)
    classes = sorted({cls for cls, _ in contexts})
    for cls in classes:
        ae.add_requested_context(cls, [ts for c, ts in sorted(contexts) if c == cls])
    roles = [build_role(cls, scp_role=True) for cls in classes]
    handlers = [(evt.EVT_C_STORE, lambda event: 0x0000)]
    studies = [s["study_uid"] for s in archive.studies()]
    assert studies
    for uid in studies:
        assoc = ae.associate(
            "127.0.0.1", port, ae_title=SCP_AET, ext_neg=roles, evt_handlers=handlers
        )
        assert assoc.is_established, "the SCP stopped accepting after a C-GET"
        q = Dataset()
        q.QueryRetrieveLevel = "STUDY"
        q.StudyInstanceUID = uid
        statuses = [int(s.Status) for s, _ in assoc.send_c_get(q, GET) if "Status" in s]
        assert statuses and statuses[-1] in (0x0000, 0xB000, 0xA702, 0xC000), statuses
        if assoc.is_established:
            assoc.release()


@pytest.mark.parametrize("kind", ["floats", "missing-class"])
def test_retrieve_refuses_an_archived_file_without_usable_sop_uids(tmp_path, archive, kind):
    """The soak run's case: SOP Instance UID with VR FD (a list of floats), or no SOP Class
    UID, in a file indexed anyway.  pynetdicom lists a failed sub-operation's SOP Instance
    UID in the C-GET's final response; with floats there that response could not be
    encoded and the C-GET ended on a pending status.  Now it is one failed sub-operation."""
    from types import SimpleNamespace

    from pacsadmin.core.dimse.qr_scp import _datasets
    from tests.unit.archive.dsgen import make_ds

    ds = make_ds()
    if kind == "floats":
        ds.add_new(0x00080018, "FD", [1.5, 2.5])
    else:
        del ds.SOPClassUID
    ds.preamble = b"\0" * 128
    path = tmp_path / "odd.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=False)
    archive.add_file(path)
    (rel,) = archive.layout.iter_files()
    event = SimpleNamespace(is_cancelled=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert list(_datasets(archive, event, [(rel, "", "", "")])) == [(0xFF00, "unreadable")]
