"""The pure parts of retrieve: the retry's levels, the explanations, the UID argument."""

from __future__ import annotations

import argparse

import pytest

from pacsadmin.cli.argtypes import uid
from pacsadmin.core.dimse.association import LocalAE
from pacsadmin.core.dimse.retrieve_explain import explain
from pacsadmin.core.dimse.retrieve_model import Expected, Item, Receiver, retry_items
from pacsadmin.core.dimse.retrieve_run import Raw
from pacsadmin.core.dimse.status import Outcome
from pacsadmin.core.nodes import DicomNode

A1, A2, B1 = (
    Item("IMAGE", "S", "A", "a1"),
    Item("IMAGE", "S", "A", "a2"),
    Item("IMAGE", "S", "B", "b1"),
)


def test_retry_items_fall_from_study_to_series_to_instance():
    every = (A1, A2, B1)
    assert retry_items(every, every) == (Item("STUDY", "S"),)
    assert retry_items(every, (A1, A2)) == (Item("SERIES", "S", "A"),)
    assert retry_items(every, (A1, B1)) == (Item("SERIES", "S", "B"), A1)
    assert retry_items(every, (A2,)) == (A2,)
    assert retry_items((), (A2,)) == (A2,)  # nothing known about the rest: instance level


LOCAL = LocalAE("PACSADMIN", 11112)
NODE = DicomNode(name="pacs", ae_title="PACS", host="10.0.0.5", port=104)
EXP = Expected((Item("STUDY", "S"),), (A1, A2, B1), 3, how="IMAGE-level C-FIND")
RECV = Receiver("PACSADMIN", 11112, True, "started")


def _explain(raw, received=None, dest="PACSADMIN", exp=EXP):
    return explain("C-MOVE", raw, NODE, LOCAL, dest, RECV, exp, received, 0, False)


def test_a801_says_what_to_register():
    out, sentence, advice = _explain(Raw(final=0xA801, local_address="10.0.0.9"), 0)
    assert out is Outcome.FAILURE and "does not know the destination AE title" in sentence
    assert "AE title PACSADMIN, address 10.0.0.9" in advice and "port 11112" in advice


def test_bare_c000_is_a_likely_unknown_destination_with_how_sure():
    _, _, advice = _explain(Raw(final=0xC000, local_address="10.0.0.9"), 0)
    assert "Unknown destination is likely" in advice and "Orthanc" in advice
    _, _, advice = _explain(Raw(final=0xC000, completed=2, failed=1), 2)
    assert "Unknown destination is possible" in advice


def test_c000_for_a_selection_the_pacs_does_not_hold():
    empty = Expected((Item("STUDY", "X"),), (), 0, how="IMAGE-level C-FIND")
    _, sentence, _ = _explain(Raw(final=0xC000), 0, exp=empty)
    assert "holds nothing for this selection" in sentence


def test_b000_lists_failed_uids():
    out, sentence, _ = _explain(Raw(final=0xB000, completed=2, failed=1, failed_uids=["a2"]), 2)
    assert out is Outcome.WARNING and "failed instances: a2" in sentence


def test_completed_but_nothing_received_points_at_firewall_and_address():
    out, sentence, advice = _explain(Raw(final=0, completed=3, local_address="10.0.0.9"), 0)
    assert out is Outcome.FAILURE
    assert "reports 3 completed, but the archive received 0" in sentence
    assert "firewall" in advice and "10.0.0.9" in advice and "11112" in advice


def test_uid_argument():
    assert uid(" 1.2.840.10008.1.1 ") == "1.2.840.10008.1.1"
    for bad in ("", "1.2.abc", "1..2", "1.02", "1." + "2" * 70):
        with pytest.raises(argparse.ArgumentTypeError):
            uid(bad)


def test_return_path_nat_verdict_names_both_addresses():
    from pacsadmin.core.dimse.return_path import _verdict

    raw = Raw(final=0, completed=1, local_address="10.0.0.9")
    node = DicomNode(name="pacs", ae_title="PACS", host="127.0.0.1", port=104)
    seen = {"t": 2.0, "address": "192.168.7.7"}
    r = _verdict(LOCAL, node, A1, raw, RECV, seen, set(), 1.5)
    assert r.verdict == "nat" and r.ok
    assert "192.168.7.7" in r.sentence and "127.0.0.1" in r.sentence
    assert "10.0.0.9" in r.advice and "11112" in r.advice
    assert r.first_inbound_ms == pytest.approx(500.0)
