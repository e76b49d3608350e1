"""A sweep of the archive's temp folder never deletes a live process's temp files (an
import running in the GUI while 'pacsadmin serve' starts and sweeps everything)."""

import os
import subprocess
import sys
import time

from pacsadmin.core.archive.archive import Archive
from pacsadmin.core.archive.layout import TMP_SUFFIX


def test_sweep_all_keeps_temp_files_of_live_processes(tmp_path):
    arc = Archive(tmp_path / "archive")
    mine = arc.new_temp()
    mine.write_bytes(b"being imported")
    old = time.time() - 3600
    os.utime(mine, (old, old))
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = arc.layout.tmp_dir / f"{child.pid}-deadbeef{TMP_SUFFIX}"
    dead.write_bytes(b"left by a crashed import")
    anonymous = arc.layout.tmp_dir / f"pynetdicom-leftover{TMP_SUFFIX}"
    anonymous.write_bytes(b"x")
    assert mine.name.startswith(f"{os.getpid()}-")
    arc.close()

    again = Archive(tmp_path / "archive", sweep="all")  # what 'serve' does as it starts
    try:
        assert mine.exists(), "a running import lost its temp file"
        assert not dead.exists() and not anonymous.exists()
        assert again.swept == 2
    finally:
        again.close()
