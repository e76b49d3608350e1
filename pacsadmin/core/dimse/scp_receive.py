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
import threading
from pathlib import Path
from typing import Any

_tmp_lock = threading.Lock()
_tmp_owner: dict[int, list[Path]] = {}  # id(assoc) -> temp files pynetdicom opened for it
_active = 0  # running SCPs: pynetdicom's chunked receive is on while there is one
_previous_chunked = False


_failed_writes: dict[str, OSError] = {}  # temp path -> the write error (disk full...)


class _GuardedTemp:
    """pynetdicom's temp file, but a failed write (disk full) is recorded, not raised in
    pynetdicom's network thread (which would abort the association): the C-STORE handler
    then answers 0xA700 and the SCP goes on."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.name = f.name
        self.file = self  # pynetdicom calls ``.file.flush()``

    def _failed(self, exc: OSError) -> None:
        with _tmp_lock:
            _failed_writes.setdefault(self.name, exc)

    def write(self, data: Any) -> int:
        if self.name in _failed_writes:
            return len(data)
        try:
            return int(self._f.write(data))
        except OSError as exc:
            self._failed(exc)
            return len(data)

    def flush(self) -> None:
        if self.name in _failed_writes:
            return
        try:
            self._f.flush()
        except OSError as exc:
            self._failed(exc)

    def close(self) -> None:
        try:
            self._f.close()
        except OSError as exc:
            self._failed(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def _open_temp(*args: Any, **kw: Any) -> Any:
    from tempfile import NamedTemporaryFile

    return NamedTemporaryFile(*args, **kw)


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
        if folder is not None:
            kw["dir"] = folder
            kw.setdefault("prefix", "rx-")
            kw["suffix"] = ".part"
        if folder is None:
            return NamedTemporaryFile(*args, **kw)
        f = _GuardedTemp(_open_temp(*args, **kw))
        with _tmp_lock:
            _tmp_owner.setdefault(id(assoc), []).append(Path(f.name))
        return f

    factory._pacsadmin = True  # type: ignore[attr-defined]
    dimse_messages.NamedTemporaryFile = factory


def forget(assoc: Any) -> int:
    """Remove temp files of ``assoc`` that never made it into the archive."""
    with _tmp_lock:
        paths = _tmp_owner.pop(id(assoc), [])
        for p in paths:
            _failed_writes.pop(str(p), None)
    n = 0
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n


def take_write_error(tmp: Path) -> OSError | None:
    """The error of a failed write into ``tmp`` (then forgotten), or None."""
    with _tmp_lock:
        return _failed_writes.pop(str(tmp), None)


def claim(assoc: Any, tmp: Path) -> None:
    """``tmp`` is in the archive now (or was a dropped duplicate): not a leftover."""
    with _tmp_lock:
        lst = _tmp_owner.get(id(assoc))
        if lst and tmp in lst:
            lst.remove(tmp)
