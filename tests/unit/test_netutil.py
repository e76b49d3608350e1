"""Bounded name lookups (no network: getaddrinfo is replaced)."""

import socket
import threading
import time

import pytest

from pacsadmin.core import netutil


def test_ip_addresses_need_no_lookup(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a: pytest.fail("looked up an IP"))
    assert netutil.host_warning("10.1.2.3") == ""
    assert netutil.host_warning("::1") == ""


def test_unresolvable_name_gives_a_sentence(monkeypatch):
    def fail(*a):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    w = netutil.host_warning("pacs.example")
    assert "'pacs.example' does not resolve" in w and "Name or service not known" in w


def test_a_lookup_that_hangs_is_cut_off(monkeypatch):
    release = threading.Event()

    def hang(*a):
        release.wait(5)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    t0 = time.monotonic()
    try:
        assert "did not answer within 0.2 s" in netutil.host_warning("slow.example", 0.2)
        with pytest.raises(TimeoutError):
            netutil.lookup("slow.example", 104, 0.2)
    finally:
        release.set()
    assert time.monotonic() - t0 < 3


def test_resolving_name_gives_no_warning(monkeypatch):
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a: [(socket.AF_INET, 1, 6, "", ("10.0.0.9", 0))]
    )
    assert netutil.host_warning("pacs.example") == ""


def test_port_problem_free_busy_and_out_of_range():
    import socket

    from pacsadmin.core.netutil import port_problem

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        busy = port_problem(port, "127.0.0.1")
        assert f"Port {port} is in use by another program" in busy
    finally:
        s.close()
    assert port_problem(port, "127.0.0.1") == ""
    assert "between 1 and 65535" in port_problem(0)
    assert "between 1 and 65535" in port_problem(70000)
