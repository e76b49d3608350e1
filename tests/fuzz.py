"""A deterministic mutation fuzzer for DICOM files (tests only).

:func:`mutate` damages one file's bytes the way broken media, bad network copies and buggy
writers do: byte flips, truncations, inflated element lengths, swapped VRs, repeated chunks,
a damaged file meta group, and image attributes that lie about the pixel data.  Everything
is driven by ``random.Random`` seeded with a string, so the same ``(seed, data)`` always
gives the same damaged bytes on every machine and Python version (string seeds are hashed
with SHA-512).

>>> damaged, how = mutate(data, "import-7")      # doctest: +SKIP
>>> corpus(tmp_path, 120, seed="issue-8")        # doctest: +SKIP

Run as a script to write a damaged folder by hand::

    python -m tests.fuzz OUT_DIR [COUNT] [SEED]
"""

from __future__ import annotations

import random
import struct
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

_VRS = (
    b"AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL "
    b"UN UR US UT UV"
).split()
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV",
             b"UV"}  # fmt: skip
_GROUPS = {0x0002, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028, 0x0040, 0x3006, 0x300A, 0x7FE0}


def element_offsets(data: bytes) -> list[tuple[int, bool]]:
    """Offsets that look like element headers: (offset, explicit VR).

    A heuristic scan, not a parse: an explicit VR header is a known group with a VR code in
    bytes 4-5; an implicit one is a known group at an even offset.  Good enough to aim the
    length and VR mutations at real headers most of the time."""
    out: list[tuple[int, bool]] = []
    for i in range(128, len(data) - 11, 2):  # room for the longest header (12 bytes)
        group = data[i] | data[i + 1] << 8
        if group not in _GROUPS:
            continue
        out.append((i, data[i + 4 : i + 6] in _VRS))
    return out


def meta_end(data: bytes) -> int:
    """Where the file meta group ends (132 + its group length), or 132 without one."""
    if data[128:132] == b"DICM" and data[132:136] == b"\x02\x00\x00\x00":
        try:
            (length,) = struct.unpack_from("<I", data, 140)
        except struct.error:
            return 132
        return min(len(data), 144 + length)
    return 132


def flip_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    buf = bytearray(data)
    n = rng.choice((1, 2, 4, 16, 64))
    for _ in range(n):
        i = rng.randrange(128, len(buf)) if len(buf) > 128 else rng.randrange(len(buf))
        buf[i] ^= rng.randrange(1, 256)
    return bytes(buf), f"{n} byte(s) flipped"


def truncate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    where = rng.choice(("meta", "header", "anywhere", "near-end"))
    end = min(meta_end(data), len(data))
    if where == "meta" and len(data) > 128:
        cut = rng.randrange(128, max(129, end))
    elif where == "header":
        cut = rng.randrange(end, min(len(data), end + 600) + 1)
    elif where == "near-end":
        cut = max(0, len(data) - rng.randrange(1, 64))
    else:
        cut = rng.randrange(len(data) + 1)
    return data[:cut], f"truncated at {cut} of {len(data)} ({where})"


def inflate_length(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    offsets = element_offsets(data)
    if not offsets:
        return flip_bytes(data, rng)
    i, explicit = rng.choice(offsets)
    buf = bytearray(data)
    big = rng.choice((0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x10000, len(data) * 16 + 1, 3))
    if explicit and bytes(buf[i + 4 : i + 6]) in _LONG_VRS:
        struct.pack_into("<I", buf, i + 8, big)
    elif explicit:
        struct.pack_into("<H", buf, i + 6, big & 0xFFFF or 0xFFFF)
    else:
        struct.pack_into("<I", buf, i + 4, big)
    return bytes(buf), f"length at {i} set to {big:#x}"


def swap_vr(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    offsets = [o for o, explicit in element_offsets(data) if explicit]
    if not offsets:
        return inflate_length(data, rng)
    buf = bytearray(data)
    i = rng.choice(offsets)
    vr = rng.choice((*_VRS, b"\x00\x00", b"ZZ", b"xx"))
    buf[i + 4 : i + 6] = vr
    return bytes(buf), f"VR at {i} set to {vr!r}"


def repeat_chunk(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if len(data) < 140:
        return data + data, "doubled"
    a = rng.randrange(128, len(data) - 4)
    b = min(len(data), a + rng.choice((2, 8, 16, 64, 512, 4096)))
    at = rng.randrange(128, len(data))
    times = rng.choice((1, 2, 5))
    return data[:at] + data[a:b] * times + data[at:], f"[{a}:{b}] x{times} inserted at {at}"


def damage_meta(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    end = meta_end(data)
    if end <= 132:
        return flip_bytes(data, rng)
    buf = bytearray(data)
    kind = rng.choice(("group-length", "flip", "element-length", "vr", "version", "cut-uid"))
    if kind == "group-length":  # (0002,0000) UL: wrong value or a length that is not 4
        if rng.random() < 0.5:
            struct.pack_into("<H", buf, 138, rng.choice((0, 2, 3, 6, 8, 0xFFFF)))
            return bytes(buf), "file meta group length element's length changed"
        struct.pack_into("<I", buf, 140, rng.choice((0, 1, 0xFFFFFFFF, end * 7)))
        return bytes(buf), "file meta group length value changed"
    if kind == "flip":
        for _ in range(rng.choice((1, 3, 8))):
            i = rng.randrange(132, end)
            buf[i] ^= rng.randrange(1, 256)
        return bytes(buf), "bytes flipped in the file meta group"
    offsets = [o for o, explicit in element_offsets(data[:end]) if explicit and o >= 132]
    if not offsets:
        return flip_bytes(data, rng)
    i = rng.choice(offsets)
    if kind == "element-length":
        long = bytes(buf[i + 4 : i + 6]) in _LONG_VRS
        value = rng.choice((0, 1, 3, 5, 0xFFFF))
        if long:
            struct.pack_into("<I", buf, i + 8, value if value != 0xFFFF else 0xFFFFFFFF)
        else:
            struct.pack_into("<H", buf, i + 6, value)
        return bytes(buf), f"file meta element at {i}: length {value}"
    if kind == "vr":
        vr = rng.choice((b"US", b"UL", b"SQ", b"OB", b"FD", b"AT", b"UN"))
        buf[i + 4 : i + 6] = vr
        return bytes(buf), f"file meta element at {i}: VR {vr!r}"
    if kind == "version":  # (0002,0001) OB of 2 bytes
        j = data.find(b"\x02\x00\x01\x00OB", 132, end)
        if j < 0 or j + 12 > len(buf):
            return flip_bytes(data, rng)
        struct.pack_into("<I", buf, j + 8, rng.choice((1, 3, 0x1000)))
        return bytes(buf), "File Meta Information Version length changed"
    j = data.find(b"\x02\x00\x10\x00UI", 132, end)  # Transfer Syntax UID damaged
    if j < 0 or j + 8 > len(buf):
        return flip_bytes(data, rng)
    n = struct.unpack_from("<H", buf, j + 6)[0]
    buf[j + 8 : j + 8 + n] = bytes(rng.choice(b"1.2\x00\xff ") for _ in range(n))
    return bytes(buf), "Transfer Syntax UID replaced with junk"


_GEOMETRY = {  # (0028,xxxx) image pixel attributes: the values a lying header changes
    0x0002: "Samples per Pixel",
    0x0008: "Number of Frames",
    0x0010: "Rows",
    0x0011: "Columns",
    0x0100: "Bits Allocated",
    0x0101: "Bits Stored",
    0x0102: "High Bit",
    0x0103: "Pixel Representation",
    0x0006: "Planar Configuration",
}


def lie_about_geometry(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One image pixel attribute (Rows, Columns, Number of Frames, Bits Allocated...) set
    to an extreme value of the same length: the header lies, the bytes stay as they were."""
    found = []
    for elem in _GEOMETRY:
        tag = b"\x28\x00" + elem.to_bytes(2, "little")
        for m in range(data.count(tag)):
            found.append((elem, m))
    if not found:
        return inflate_length(data, rng)
    elem, nth = rng.choice(found)
    tag = b"\x28\x00" + elem.to_bytes(2, "little")
    i = -1
    for _ in range(nth + 1):
        i = data.index(tag, i + 1)
    buf = bytearray(data)
    if data[i + 4 : i + 6] in _VRS:  # explicit VR: a 2-byte length
        vpos, length = i + 8, int.from_bytes(data[i + 6 : i + 8], "little")
    else:
        vpos, length = i + 8, int.from_bytes(data[i + 4 : i + 8], "little")
    if length == 2 and vpos + 2 <= len(buf):  # US
        value = rng.choice((0, 1, 3, 7, 0x7FFF, 0x8000, 0xFFFF))
        buf[vpos : vpos + 2] = value.to_bytes(2, "little")
    elif 0 < length <= 16 and vpos + length <= len(buf):  # IS text (Number of Frames)
        text = rng.choice((b"0", b"-1", b"999999999999", b"2147483648", b"1e9", b"NaN", b"+5"))
        buf[vpos : vpos + length] = text[:length].ljust(length, b" ")
        value = text.decode()
    else:
        return inflate_length(data, rng)
    return bytes(buf), f"{_GEOMETRY[elem]} set to {value}"


MUTATIONS: dict[str, Callable[[bytes, random.Random], tuple[bytes, str]]] = {
    "flip": flip_bytes,
    "truncate": truncate,
    "length": inflate_length,
    "vr": swap_vr,
    "repeat": repeat_chunk,
    "meta": damage_meta,
    "geometry": lie_about_geometry,
}


def mutate(data: bytes, seed: str, *, rounds: int | None = None) -> tuple[bytes, str]:
    """``data`` damaged by 1-3 mutations chosen by ``seed``; (bytes, what was done)."""
    rng = random.Random(seed)
    n = rounds if rounds is not None else rng.choice((1, 1, 1, 2, 3))
    done = []
    for _ in range(n):
        name = rng.choice(tuple(MUTATIONS))
        data, how = MUTATIONS[name](data, rng)
        done.append(f"{name}: {how}")
        if len(data) < 144:  # not even a file meta group left to damage
            break
    return data, "; ".join(done)


def pydicom_files() -> list[Path]:
    """pydicom's shipped test files (``*.dcm`` next to CT_small.dcm), sorted; offline."""
    from pydicom.data import get_testdata_file

    ct = get_testdata_file("CT_small.dcm")
    assert ct is not None
    return sorted(Path(str(ct)).parent.glob("*.dcm"))


def generated_files(folder: Path) -> list[Path]:
    """A few valid images of our own: CT and MR (16-bit), RGB (8-bit), multi-frame, RLE."""
    import numpy as np
    from pydicom.uid import ImplicitVRLittleEndian, RLELossless

    from tests.unit.archive.dsgen import make_ds
    from tests.unit.imaging.conftest import make_ds as make_image
    from tests.unit.imaging.conftest import save

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n, kw in enumerate(
            (
                {"modality": "CT"},
                {"modality": "MR", "transfer_syntax": ImplicitVRLittleEndian},
                {"modality": "CT", "transfer_syntax": RLELossless, "rows": 32, "columns": 24},
            )
        ):
            p = folder / f"gen-{n}.dcm"
            make_ds(seed=n, **kw).save_as(p, enforce_file_format=True)
            out.append(p)
        rng = np.random.default_rng(8)
        rgb = rng.integers(0, 255, size=(12, 10, 3), dtype=np.uint8)
        out.append(Path(save(make_image(rgb, photometric="RGB"), folder / "gen-rgb.dcm")))
        frames = rng.integers(-1000, 2000, size=(4, 8, 6), dtype=np.int16)
        mf = make_image(frames, frames=4, Modality="CT", RescaleSlope=1, RescaleIntercept=0)
        out.append(Path(save(mf, folder / "gen-multiframe.dcm")))
    return out


def corpus(
    folder: Path, count: int, *, seed: str = "pacsadmin", sources: list[Path] | None = None
) -> Iterator[tuple[Path, str]]:
    """Write ``count`` damaged files into ``folder`` (created); yields (path, what was done).

    File ``k`` is a mutation of ``sources[k % len(sources)]`` seeded with ``f"{seed}:{k}"``.
    """
    sources = sources if sources is not None else pydicom_files()
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        src = sources[k % len(sources)]
        data, how = mutate(src.read_bytes(), f"{seed}:{k}")
        path = folder / f"{k:04d}-{src.stem}.dcm"
        path.write_bytes(data)
        yield path, f"{src.name}: {how}"


if __name__ == "__main__":  # python -m tests.fuzz OUT_DIR [COUNT] [SEED]
    out = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    seed = sys.argv[3] if len(sys.argv) > 3 else "issue-8"
    for path, how in corpus(out, count, seed=seed):
        print(f"{path.name}: {how}")
