"""Presentation contexts for a send: one per (SOP class, transfer syntax) pair of the files,
at most :data:`MAX_CONTEXTS` per association (PS3.8 9.3.2.2: presentation context IDs
are the odd numbers 1-255), so more pairs make several associations, sent in sequence.

One transfer syntax per context: a context proposing several lets the peer pick one
(DCMTK picks uncompressed first), which would force a decompression the peer did not
need.  With ``decompress`` on, each SOP class of a compressed file also gets an Explicit
VR Little Endian context in the same association, the fallback when its compressed
syntax is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from pacsadmin.core.dimse.send_files import EXPLICIT_LE, SendItem

MAX_CONTEXTS = 128

Pair = tuple[str, str]  # (SOP class UID, transfer syntax UID)


@dataclass(frozen=True)
class Batch:
    """The files of one association and the contexts it proposes."""

    pairs: tuple[Pair, ...]
    items: tuple[SendItem, ...]


def plan(items: list[SendItem], decompress: bool, limit: int = MAX_CONTEXTS) -> list[Batch]:
    """Batches in the files' order of first appearance; each file in exactly one batch."""
    if limit < 2:
        raise ValueError("at least two contexts per association")
    groups: list[list[Pair]] = []
    seen: set[Pair] = set()
    current: list[Pair] = []
    current_set: set[Pair] = set()
    for item in items:
        pair = (item.sop_class, item.transfer_syntax)
        if pair in seen:
            continue
        need = [pair]
        if decompress and item.compressed:
            fallback = (item.sop_class, EXPLICIT_LE)
            if fallback not in current_set:
                need.append(fallback)
        if len(current) + len(need) > limit:
            groups.append(current)
            current, current_set = [], set()
            need = [pair] + (
                [(item.sop_class, EXPLICIT_LE)] if decompress and item.compressed else []
            )
        for p in need:
            if p not in current_set:
                current.append(p)
                current_set.add(p)
                seen.add(p)
    if current:
        groups.append(current)
    # a file goes with the first batch proposing its pair (a compressed file's fallback
    # context was added to the batch that proposes its own pair)
    first: dict[Pair, int] = {}
    for i, g in enumerate(groups):
        for p in g:
            first.setdefault(p, i)
    members: list[list[SendItem]] = [[] for _ in groups]
    for item in items:
        members[first[(item.sop_class, item.transfer_syntax)]].append(item)
    return [Batch(tuple(g), tuple(m)) for g, m in zip(groups, members, strict=True) if m]
