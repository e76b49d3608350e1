"""Real DICOM peers for tests and benchmarks: DCMTK storescp / dcmqrscp and Orthanc.

Each ``start_*`` function starts the real program on a free port on 127.0.0.1 (with
``TCP_NODELAY=1``: docs/notes.md), waits until it accepts connections, and returns a
:class:`Peer`.  Stop it with ``peer.stop()`` or use it as a context manager; stopping is by
PID (terminate, then kill after a timeout).  Every peer also stops at interpreter exit.

Nothing here imports pytest: a missing program raises :class:`PeerUnavailable` (the
pytest fixtures in ``tests/integration/conftest.py`` turn it into a skip, or a failure when
``PACSADMIN_REQUIRE_PEERS=1``, as CI sets), so ``benchmarks/`` can use it too.

Usage::

    from tests.peers import start_dcmqrscp, HostEntry
    with start_dcmqrscp(tmp_path, aet="QRSCP",
                        hosts=[HostEntry("pacsadmin", "PACSADMIN", "127.0.0.1", 11112)]) as qr:
        ...  # qr.aet, qr.host, qr.port, qr.pid, qr.storage[0], qr.target

    with start_orthanc(tmp_path, modalities={"pacsadmin": ("PACSADMIN", "127.0.0.1", 11112)}) as o:
        orthanc_rest(o, "POST", "/instances", dicom_bytes)
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0  # generous: a loaded 2-core machine starts Orthanc slowly
STOP_TIMEOUT = 10.0
ORTHANC = os.environ.get("PACSADMIN_ORTHANC", "/usr/sbin/Orthanc")


class PeerUnavailable(Exception):
    """The peer's program is not installed."""


class PeerStartError(RuntimeError):
    """The peer did not start; the message carries its stderr."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def app_argv(home: Path | str, *args: str) -> list[str]:
    """The command line of ``pacsadmin --config-dir HOME ARGS...`` (tests, benchmarks)."""
    import sys

    return [sys.executable, "-m", "pacsadmin", "--config-dir", str(home), *args]


def app_cli(
    home: Path | str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """Run ``pacsadmin --config-dir HOME ARGS...`` to the end; its output captured."""
    return subprocess.run(app_argv(home, *args), capture_output=True, timeout=timeout)


def serve_argv(home: Path | str, aet: str, port: int, *extra: str, workers: int = 1) -> list[str]:
    """The command line of the app's own ``pacsadmin serve`` on 127.0.0.1 (tests, benchmarks)."""
    return [
        *app_argv(home),
        "serve",
        "--aet",
        aet,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--workers",
        str(workers),
        *extra,
    ]


def peer_env() -> dict[str, str]:
    """The environment every DCMTK / Orthanc peer runs with (Nagle off)."""
    return {**os.environ, "TCP_NODELAY": "1"}


def find_program(name: str) -> str:
    path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else "")
    if not path:
        raise PeerUnavailable(f"{name} is not installed (Debian packages dcmtk / orthanc)")
    return path


@dataclass(frozen=True)
class HostEntry:
    """One HostTable line of dcmqrscp: ``name = (AET, host, port)`` (a move destination
    or a peer allowed by the AETable's access column)."""

    name: str
    aet: str
    host: str
    port: int


@dataclass(eq=False)
class Peer:
    """A running peer.  ``aet``/``host``/``port`` are its DICOM address."""

    kind: str
    aet: str
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path
    host: str = HOST
    http_port: int | None = None
    storage: list[Path] = field(default_factory=list)
    config: Path | None = None
    _stopped: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def target(self) -> str:
        """``AET@HOST:PORT``, for ``pacsadmin echo`` and ``parse_target``."""
        return f"{self.aet}@{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        if self.http_port is None:
            raise AttributeError(f"{self.kind} has no HTTP port")
        return f"http://{self.host}:{self.http_port}"

    def node(self, name: str | None = None, **kw: Any) -> Any:
        """A :class:`pacsadmin.core.nodes.DicomNode` for this peer."""
        from pacsadmin.core.nodes import DicomNode

        return DicomNode(
            name=name or self.kind, ae_title=self.aet, host=self.host, port=self.port, **kw
        ).validated()

    def log(self) -> str:
        """What the peer wrote to stdout/stderr so far (for assertion messages)."""
        try:
            return (self.workdir / "output.log").read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate, then kill after ``timeout``; the exit status is ignored (dcmqrscp
        may crash when signalled)."""
        if self._stopped:
            return
        self._stopped = True
        _live.discard(self)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(timeout)
        # children it forked (dcmqrscp: one per association) are in its own process
        # group (start_new_session): that group holds nothing but what we started
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_live: set[Peer] = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:
    for p in list(_live):
        p.stop(timeout=3)


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` owns a listening TCP socket on ``port`` (Linux /proc; True
    where that cannot be told).  A free port can be taken by someone else before the peer
    binds it: then a connection succeeds, but to the wrong program."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            return True
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return True
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Until ``proc`` listens on ``host:port`` and it accepts a connection; raises if
    ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise PeerStartError(f"exited with status {proc.returncode} before listening")
        if _listens(proc.pid, port):
            try:
                with socket.create_connection((host, port), timeout=1.0):
                    return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise PeerStartError(f"not listening on {host}:{port} after {timeout:g} s")
        time.sleep(0.05)


def _launch(
    kind: str,
    argv: Sequence[str],
    workdir: Path,
    ports: Iterable[int],
    make_peer: Any,
    ready: Any = None,
    timeout: float = READY_TIMEOUT,
) -> Peer:
    workdir.mkdir(parents=True, exist_ok=True)
    out = open(workdir / "output.log", "wb")  # noqa: SIM115 - the child keeps it
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=workdir,
            env=peer_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the test run reaches pytest, not the peer
        )
    finally:
        out.close()
    peer = make_peer(proc)
    with _live_lock:
        _live.add(peer)
    try:
        for port in ports:
            wait_for_port(HOST, port, proc, timeout)
        if ready is not None:
            ready(peer, timeout)
    except PeerStartError as exc:
        peer.stop(timeout=3)
        raise PeerStartError(
            f"{kind} ({' '.join(argv)}) did not start: {exc}\n--- its output:\n{peer.log()}"
        ) from None
    except BaseException:
        peer.stop(timeout=3)
        raise
    return peer


def _retry_ports(start: Any, attempts: int = 3) -> Peer:
    """A free port can be taken by someone else before the peer binds it: retry."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return start()  # type: ignore[no-any-return]
        except PeerStartError as exc:
            last = exc
            if "exited" not in str(exc):
                raise
    assert last is not None
    raise last


# ------------------------------------------------------------------ DCMTK storescp
def start_storescp(
    workdir: Path,
    *,
    aet: str = "STORESCP",
    port: int | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = READY_TIMEOUT,
) -> Peer:
    """DCMTK ``storescp``: accepts any called AE title and Verification; received files
    go to ``peer.storage[0]``.  ``extra_args``: e.g. ``["+xa"]`` to accept every
    transfer syntax it supports."""
    exe = find_program("storescp")
    workdir = Path(workdir)

    def start() -> Peer:
        p = port or free_port()
        out = workdir / "received"
        out.mkdir(parents=True, exist_ok=True)
        argv = [exe, "-aet", aet, "-od", str(out), "-dhl", *extra_args, str(p)]
        return _launch(
            "storescp",
            argv,
            workdir,
            [p],
            lambda proc: Peer("storescp", aet, p, proc, workdir, storage=[out]),
            timeout=timeout,
        )

    return start() if port else _retry_ports(start)


# ------------------------------------------------------------------ DCMTK dcmqrscp
def dcmqrscp_config(
    port: int,
    areas: Mapping[str, Path],
    hosts: Sequence[HostEntry] = (),
    *,
    max_studies: int = 200,
    max_bytes_per_study: str = "1024mb",
    access: str = "ANY",
) -> str:
    """The text of a dcmqrscp configuration file (see /etc/dcmtk/dcmqrscp.cfg)."""
    host_lines = "\n".join(f"{h.name} = ({h.aet}, {h.host}, {h.port})" for h in hosts)
    ae_lines = "\n".join(
        f"{aet} {path} RW ({max_studies}, {max_bytes_per_study}) {access}"
        for aet, path in areas.items()
    )
    return (
        f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\n"
        f"HostTable BEGIN\n{host_lines}\nHostTable END\n\n"
        "VendorTable BEGIN\nVendorTable END\n\n"
        f"AETable BEGIN\n{ae_lines}\nAETable END\n"
    )


def start_dcmqrscp(
    workdir: Path,
    *,
    aet: str = "DCMQRSCP",
    more_aets: Sequence[str] = (),
    hosts: Sequence[HostEntry] = (),
    port: int | None = None,
    max_studies: int = 200,
    extra_args: Sequence[str] = (),
    timeout: float = READY_TIMEOUT,
) -> Peer:
    """DCMTK ``dcmqrscp``, forking one child per association (Debian's 3.6.7 segfaults
    after its first association in ``--single-process`` mode).

    It answers only the called AE titles ``aet`` and ``more_aets``, each with its own
    storage area (``peer.storage[i]``; an area holds at most ~500 studies: use several for
    big sets), and rejects any other with "called AE title not recognized".  ``hosts``:
    HostTable entries (move destinations).  Fill an area with C-STORE to its AE title
    (e.g. DCMTK ``storescu``)."""
    exe = find_program("dcmqrscp")
    workdir = Path(workdir)

    def start() -> Peer:
        p = port or free_port()
        areas: dict[str, Path] = {}
        for t in (aet, *more_aets):
            d = workdir / "db" / t
            d.mkdir(parents=True, exist_ok=True)
            areas[t] = d
        cfg = workdir / "dcmqrscp.cfg"
        cfg.write_text(dcmqrscp_config(p, areas, hosts, max_studies=max_studies))
        argv = [exe, "-dhl", "-c", str(cfg), *extra_args, str(p)]
        return _launch(
            "dcmqrscp",
            argv,
            workdir,
            [p],
            lambda proc: Peer(
                "dcmqrscp", aet, p, proc, workdir, storage=list(areas.values()), config=cfg
            ),
            timeout=timeout,
        )

    return start() if port else _retry_ports(start)


# ------------------------------------------------------------------ Orthanc
def orthanc_rest(peer: Peer, method: str, path: str, body: bytes | None = None) -> Any:
    """Call Orthanc's REST API; returns the decoded JSON (or the raw bytes)."""
    req = urllib.request.Request(peer.http_url + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/dicom")
    with _no_proxy().open(req, timeout=30) as rsp:
        data = rsp.read()
    try:
        return json.loads(data)
    except ValueError:
        return data


def _no_proxy() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _orthanc_ready(peer: Peer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            orthanc_rest(peer, "GET", "/system")
            return
        except OSError as exc:
            if peer.proc.poll() is not None:
                raise PeerStartError(f"exited with status {peer.proc.returncode}") from None
            if time.monotonic() > deadline:
                raise PeerStartError(f"REST API not answering: {exc}") from None
            time.sleep(0.1)


def start_orthanc(
    workdir: Path,
    *,
    aet: str = "ORTHANC",
    modalities: Mapping[str, tuple[str, str, int]] | None = None,
    port: int | None = None,
    http_port: int | None = None,
    check_called_aet: bool = True,
    extra_config: Mapping[str, Any] | None = None,
    timeout: float = READY_TIMEOUT,
) -> Peer:
    """Orthanc with a generated config: storage and index in ``workdir``, REST API on
    ``peer.http_url`` (local only, no authentication), and ``modalities`` (name ->
    (AET, host, port)) as ``DicomModalities``; by default the app's AE ``PACSADMIN`` at
    127.0.0.1:11112.  Orthanc answers C-FIND/MOVE/GET only from known calling AE titles,
    and moves only to known destinations.  ``check_called_aet``: reject other called AE
    titles.  Ready when both ports accept connections and ``GET /system`` answers."""
    exe = find_program(ORTHANC)
    workdir = Path(workdir)
    mods = {"pacsadmin": ("PACSADMIN", HOST, 11112)} if modalities is None else modalities

    def start() -> Peer:
        p = port or free_port()
        hp = http_port or free_port()
        storage = workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": f"pacsadmin-test-{aet}",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "StorageCompression": False,
            "Plugins": [],
            "HttpServerEnabled": True,
            "HttpPort": hp,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "SslEnabled": False,
            "DicomServerEnabled": True,
            "DicomAet": aet,
            "DicomPort": p,
            "DicomCheckCalledAet": check_called_aet,
            "DicomModalities": {k: list(v) for k, v in mods.items()},
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "ConcurrentJobs": 1,
            "HttpThreadsCount": 4,
            "DicomThreadsCount": 4,
            **(extra_config or {}),
        }
        cfg = workdir / "orthanc.json"
        cfg.write_text(json.dumps(config, indent=2))
        return _launch(
            "orthanc",
            [exe, str(cfg)],
            workdir,
            [p, hp],
            lambda proc: Peer(
                "orthanc", aet, p, proc, workdir, http_port=hp, storage=[storage], config=cfg
            ),
            ready=_orthanc_ready,
            timeout=timeout,
        )

    return start() if port and http_port else _retry_ports(start)


# ------------------------------------------------------------------ DCMTK wlmscpfs
def start_wlmscpfs(
    workdir: Path,
    *,
    aet: str = "WLMSCP",
    port: int | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = READY_TIMEOUT,
) -> Peer:
    """DCMTK ``wlmscpfs``: a Modality Worklist SCP answering from the ``*.wl`` files in
    ``peer.storage[0]`` (the folder of the called AE title ``aet``; write DICOM files
    there, e.g. with pydicom).  Incomplete files are not rejected (``-dfr``)."""
    exe = find_program("wlmscpfs")
    workdir = Path(workdir)

    def start() -> Peer:
        p = port or free_port()
        data = workdir / "worklists"
        (data / aet).mkdir(parents=True, exist_ok=True)
        (data / aet / "lockfile").touch()
        argv = [exe, "-dfp", str(data), "-dfr", *extra_args, str(p)]
        return _launch(
            "wlmscpfs",
            argv,
            workdir,
            [p],
            lambda proc: Peer("wlmscpfs", aet, p, proc, workdir, storage=[data / aet]),
            timeout=timeout,
        )

    return start() if port else _retry_ports(start)
