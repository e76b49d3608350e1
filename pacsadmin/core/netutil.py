"""Name lookups with a time limit, and whether a port can be listened on.

``socket.getaddrinfo`` has no timeout: a dead DNS server holds the caller for as long as
the OS resolver likes (docs/safety.md rule 7).  The lookup runs in a helper thread that is
abandoned, not waited for, when the limit passes.
"""

from __future__ import annotations

import concurrent.futures
import errno
import ipaddress
import socket
from typing import Any


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def lookup(host: str, port: int | None, timeout: float) -> list[Any]:
    """``getaddrinfo(host, port, SOCK_STREAM)`` bounded by ``timeout`` seconds.

    Raises ``TimeoutError`` when it does not answer in time, ``socket.gaierror`` when the
    name does not resolve, ``OSError`` / ``UnicodeError`` for a name that is not valid."""
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pacs-dns")
    fut = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    pool.shutdown(wait=False)
    try:
        return fut.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise TimeoutError(f"the lookup of {host!r} did not answer within {timeout:g} s") from None


def host_warning(host: str, timeout: float = 5.0) -> str:
    """'' when ``host`` is an IP address or resolves now, else a sentence saying why not.

    A node whose host does not resolve today is still saved: this is a warning."""
    if is_ip_address(host):
        return ""
    try:
        lookup(host, None, timeout)
    except TimeoutError:
        return f"The lookup of {host!r} did not answer within {timeout:g} s."
    except (OSError, UnicodeError) as exc:
        return (
            f"{host!r} does not resolve from this computer right now "
            f"({getattr(exc, 'strerror', None) or exc})."
        )
    return ""


def port_problem(port: int, host: str = "") -> str:
    """ "" when a listener could bind ``port`` on ``host`` ("" = every address) now, else
    why not in the administrator's words.  The socket is closed at once (SO_REUSEADDR as
    the SCP sets it, so a port in TIME_WAIT counts as free, as it is for the SCP)."""
    if not isinstance(port, int) or not 1 <= port <= 65535:
        return "The port must be between 1 and 65535."
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (
                f"Port {port} is in use by another program (another DICOM node, or a "
                "pacsadmin already running): choose another port, or stop that program."
            )
        if exc.errno == errno.EACCES:
            return (
                f"Port {port} needs administrator rights on this system (ports below "
                "1024 do): choose a port of 1024 or more, e.g. 11112."
            )
        return f"Port {port} cannot be used: {exc.strerror or exc}."
    finally:
        s.close()
    return ""
