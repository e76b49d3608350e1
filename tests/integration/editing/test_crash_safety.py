"""SIGKILL at random moments of a 500-file batch: every file is whole (old or new, by
hash), and the next start rolls the journal back, leaving the folder as it was."""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import time
from pathlib import Path

from tests.peers import app_argv, app_cli
from tests.unit.archive.dsgen import make_ds, write

N_FILES = 500
TRIALS = 20


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_sigkill_at_random_moments_never_leaves_a_mixed_file(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    study = "1.2.826.0.1.3680043.8.498.1"
    for i in range(N_FILES):
        write(
            make_ds(instance_number=i, seed=i % 7, study_uid=study, rows=8, columns=8),
            folder / f"im{i:04d}.dcm",
        )
    old = _hashes(folder)
    home = tmp_path / "home"
    args = ("tags", "set", str(folder), "-t", "PatientName=FIXED^NAME", "-t", "PatientID=FIX-1")
    t0 = time.monotonic()
    r = app_cli(home, *args, timeout=300)
    full = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    new = _hashes(folder)
    assert all(new[k] != old[k] for k in old)
    assert app_cli(home, "undo").returncode == 0
    assert _hashes(folder) == old

    rng = random.Random(11)
    outcomes = {"old": 0, "new": 0, "mixed": 0}
    for trial in range(TRIALS):
        proc = subprocess.Popen(
            app_argv(home, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.2, full * 1.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        now = {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())
            if not p.name.startswith(".")
        }
        assert set(now) == set(old), f"trial {trial}: a file is missing"
        n_new = 0
        for name, h in now.items():
            assert h in (old[name], new[name]), f"trial {trial}: {name} is neither old nor new"
            n_new += h == new[name]
        outcomes["old" if n_new == 0 else "new" if n_new == N_FILES else "mixed"] += 1
        # the next start rolls an unfinished batch back (or this one finished: undo it)
        r = app_cli(home, "undo", "--list", timeout=300)
        assert r.returncode == 0, r.stderr
        if _hashes(folder) != old:
            assert app_cli(home, "undo", timeout=300).returncode == 0
        assert _hashes(folder) == old, f"trial {trial}: not restored"  # no temp left either
    print("crash trials:", outcomes, f"(a full run took {full:.1f} s)")
    assert outcomes["mixed"] + outcomes["new"] >= 3  # the kills did land mid-batch
