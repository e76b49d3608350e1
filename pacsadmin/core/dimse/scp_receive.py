"""Received data sets go straight to a temp file in the archive's own ``tmp/``.

pynetdicom (``STORE_RECV_CHUNKED_DATASET``) opens ``tempfile.NamedTemporaryFile`` in
``dimse_messages`` for each incoming C-STORE data set; :func:`install` gives it the
receiving SCP's folder (same file system as the archive: the file is then
``os.replace``\\ d into place, never copied), notes which association owns each file so a
transfer that aborts is removed when its connection closes (:func:`forget`), and records
a failed write (disk full) instead of letting it abort the association
(:func:`take_write_error`: the handler answers 0xA700).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

_tmp_lock = threading.Lock()
_tmp_owner: dict[int, list[Path]] = {}  # id(assoc) -> temp files pynetdicom opened for it
_active = 0  # running SCPs: pynetdicom's chunked receive is on while there is one
_previous_chunked = False


_open_files: dict[str, _TempFile] = {}  # temp path -> its open file, until the handler takes it


class _TempFile:
    """The temp file pynetdicom writes a received data set into (unbuffered, PID-prefixed
    name, none of ``NamedTemporaryFile``'s wrappers on each of the ~5 writes an image).

    A failed write (disk full) is recorded, not raised in pynetdicom's network thread (which
    would abort the association): the C-STORE handler then answers 0xA700 and the SCP goes
    on.  ``flush()`` (called by pynetdicom after every fragment) does nothing: an unbuffered
    file hands every write to the kernel at once.

    Measured (500 CT, dev VM): handing the writes to a writer thread instead, so the
    kernel's copy into the page cache could overlap the network reading, gave no gain on
    2 cores (205 vs 209 img/s, medians of 4 interleaved runs), so the writes stay here."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.name = raw.name
        self.file = self  # pynetdicom calls ``.file.flush()``
        self._error: OSError | None = None
        self._closed = False

    def write(self, data: Any) -> int:
        n = len(data)
        if self._error is None and not self._closed:
            try:
                view = memoryview(data)
                while view:
                    k = self._raw.write(view)
                    if not k:
                        raise OSError("the temp file accepted no data")
                    view = view[k:]
            except OSError as exc:
                self._error = exc
        return n

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.finish()

    def finish(self) -> OSError | None:
        """Close the file (once); the error of a failed write, or None."""
        if not self._closed:
            self._closed = True
            try:
                self._raw.close()
            except OSError as exc:
                self._error = self._error or exc
        return self._error


def _open_temp(folder: Path, prefix: str) -> Any:
    """A new file in ``folder``, opened for writing unbuffered (O_EXCL)."""
    import uuid

    path = Path(folder) / f"{prefix}{uuid.uuid4().hex}.part"
    return open(path, "xb", buffering=0)


def uninstall() -> None:
    """The last SCP stopped: give pynetdicom its previous receive mode back."""
    global _active
    from pynetdicom import _config

    with _tmp_lock:
        _active = max(0, _active - 1)
        if _active == 0:
            _config.STORE_RECV_CHUNKED_DATASET = _previous_chunked


def install() -> None:
    """Make pynetdicom write received data sets into the archive's ``tmp/`` (its file system).

    pynetdicom opens ``tempfile.NamedTemporaryFile`` in ``dimse_messages``; we give it our
    folder (not the process-wide ``tempfile.tempdir``) and note which association owns each
    file, so a file left by an aborted transfer is removed when the connection closes.
    """
    global _active, _previous_chunked
    from tempfile import NamedTemporaryFile

    from pynetdicom import _config, dimse_messages

    with _tmp_lock:
        if _active == 0:
            _previous_chunked = _config.STORE_RECV_CHUNKED_DATASET
        _active += 1
        _config.STORE_RECV_CHUNKED_DATASET = True
    if getattr(dimse_messages.NamedTemporaryFile, "_pacsadmin", False):
        return

    def factory(*args: Any, **kw: Any) -> Any:
        assoc = getattr(threading.current_thread(), "assoc", None)  # the DUL thread
        ours = assoc is not None and getattr(assoc, "is_acceptor", False)
        # each SCP's AE carries its own archive's temp folder
        folder = getattr(getattr(assoc, "ae", None), "pacs_tmp_dir", None) if ours else None
        if folder is None:
            return NamedTemporaryFile(*args, **kw)
        # the PID first: a sweep keeps the temp files of live processes (layout.py)
        f = _TempFile(_open_temp(folder, f"{os.getpid()}-rx-"))
        with _tmp_lock:
            _tmp_owner.setdefault(id(assoc), []).append(Path(f.name))
            _open_files[f.name] = f
        return f

    factory._pacsadmin = True  # type: ignore[attr-defined]
    dimse_messages.NamedTemporaryFile = factory


def forget(assoc: Any) -> int:
    """Remove temp files of ``assoc`` that never made it into the archive."""
    with _tmp_lock:
        paths = _tmp_owner.pop(id(assoc), [])
        files = [_open_files.pop(str(p), None) for p in paths]
    for f in files:
        if f is not None:
            f.finish()  # nothing may still be writing into a file we remove
    n = 0
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n


def take_write_error(tmp: Path) -> OSError | None:
    """Wait until ``tmp`` is completely written and closed; the error of a failed write
    into it (then forgotten), or None."""
    with _tmp_lock:
        f = _open_files.pop(str(tmp), None)
    return f.finish() if f is not None else None


def claim(assoc: Any, tmp: Path) -> None:
    """``tmp`` is in the archive now (or was a dropped duplicate): not a leftover."""
    with _tmp_lock:
        lst = _tmp_owner.get(id(assoc))
        if lst and tmp in lst:
            lst.remove(tmp)
