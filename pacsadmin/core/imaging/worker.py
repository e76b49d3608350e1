"""Decoding in worker processes with a time limit (docs/safety.md rule 4, docs/notes.md "Pixels").

Native decoders (pylibjpeg's libjpeg/openjpeg, GDCM) hold the GIL and can crash or run away on
a hostile file.  :class:`DecoderProcessPool` runs a picklable function in one of a few
long-lived worker processes and waits at most ``timeout`` seconds: a worker that times out is
killed, a worker that dies is replaced, and the caller gets an :class:`ImageError` either way.
The app itself keeps running.  Workers start with the "spawn" method (forking a process that
runs Qt threads is unsafe) and are started lazily, then reused.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import queue
import threading
from collections.abc import Callable
from typing import Any

from pacsadmin.core.imaging.errors import ImageError

DEFAULT_TIMEOUT = 60.0


def _serve(conn: Any) -> None:  # runs in the worker process
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        func, args = msg
        try:
            reply: tuple[Any, ...] = ("ok", func(*args))
        except ImageError as exc:
            reply = ("image-error", str(exc), exc.kind)
        except BaseException as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except Exception as exc:  # e.g. an unpicklable result
            conn.send(("error", f"the result could not be sent back: {exc}"))


class _Worker:
    def __init__(self, ctx: Any) -> None:
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="pacsadmin-decoder")
        self.proc.start()
        child.close()
        self.conn = parent

    def stop(self, grace: float = 0.5) -> None:
        try:
            self.conn.send(None)
        except Exception:
            pass
        self.proc.join(grace)
        self.kill()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(2.0)
        self.conn.close()


class DecoderProcessPool:
    """A few worker processes that run one call each at a time, with a time limit.

    Thread-safe: several threads may call :meth:`run` at once; each takes an idle worker
    (starting one if fewer than ``workers`` exist) or waits for one.
    """

    def __init__(
        self, workers: int = 1, timeout: float = DEFAULT_TIMEOUT, start_method: str = "spawn"
    ) -> None:
        self._ctx = mp.get_context(start_method)
        self._max = max(1, workers)
        self._timeout = timeout
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._count = 0
        self._closed = False
        self._all: set[_Worker] = set()

    def _take(self) -> _Worker:
        while True:
            if self._closed:
                raise ImageError("the decoder pool is shut down", kind="crash")
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            with self._lock:
                if self._count < self._max:
                    self._count += 1
                    try:
                        w = _Worker(self._ctx)
                    except Exception:
                        self._count -= 1
                        raise
                    self._all.add(w)
                    return w
            try:
                return self._idle.get(timeout=0.1)
            except queue.Empty:
                continue

    def _discard(self, w: _Worker) -> None:
        w.kill()
        with self._lock:
            self._count -= 1
            self._all.discard(w)

    def run(self, func: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run ``func(*args)`` in a worker; return its result.

        Raises ImageError ``kind="timeout"`` (the worker is killed) or ``kind="crash"`` (the
        worker died: a decoder crash), or the ImageError the function raised.
        """
        limit = self._timeout if timeout is None else timeout
        w = self._take()
        healthy = False
        try:
            w.conn.send((func, args))
            if not w.conn.poll(limit):
                raise ImageError(
                    f"decoding took longer than {limit:g} s and was stopped", kind="timeout"
                )
            reply = w.conn.recv()
            healthy = True
        except (EOFError, OSError) as exc:
            w.proc.join(1.0)
            code = w.proc.exitcode
            raise ImageError(
                f"the decoder crashed (worker exit code {code}); the image cannot be shown",
                kind="crash",
            ) from exc
        finally:
            if healthy:
                self._idle.put(w)
            else:
                self._discard(w)
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "image-error":
            raise ImageError(reply[1], kind=reply[2])
        raise ImageError(f"the image could not be decoded: {reply[1]}", kind="decode")

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
            self._count = 0
        for w in workers:
            w.stop()


_default: DecoderProcessPool | None = None
_default_lock = threading.Lock()


def default_pool() -> DecoderProcessPool:
    """The process-wide pool (one worker; closed at interpreter exit)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = DecoderProcessPool()
            atexit.register(_default.close)
        return _default
