"""The window's reader of ``serve --events`` against a real child process that writes what
a broken or newer serve might: the reader keeps going past garbage, and stops following a
process whose events it cannot read, saying why."""

from __future__ import annotations

import json

from pacsadmin.core.dimse.scp_events import (
    SCHEMA_VERSION,
    AssociationOpened,
    Listening,
    to_json_line,
)
from pacsadmin.gui.scp_process import ScpProcess

WAIT = 30_000

LISTENING = to_json_line(Listening(1, "STUB", 4104))
OPENED = to_json_line(AssociationOpened(1, 1, "CALLER", "STUB", "127.0.0.1", 5000))
NEWER = json.dumps({"v": SCHEMA_VERSION + 1, "event": "listening", "pid": 1})

STUB = f"""
import sys, time
print("12:00:00 not an event: a stray print", flush=True)
print({LISTENING!r}, flush=True)
print('{{"v": 1, "event": "open", "pid": 1, "id": "x"}}', flush=True)  # a wrong type
sys.stdout.write("[[[[{{{{ \\x00 garbage\\n" + "x" * 200000 + "\\n")  # and an overlong line
print({OPENED!r}, flush=True)
time.sleep(float(sys.argv[1]))
print({NEWER!r}, flush=True)
time.sleep(3600)
"""


def _stub(qtbot, tmp_path, script: str, *args: str) -> tuple[ScpProcess, list[object]]:
    scp = ScpProcess(tmp_path, "STUB", 4104)
    scp.arguments = lambda: ["-c", script, *args]  # type: ignore[method-assign]
    seen: list[object] = []
    scp.server_event.connect(seen.append)
    scp.start()
    return scp, seen


def test_reader_skips_garbage_and_stops_following_a_newer_schema(qtbot, tmp_path):
    scp, seen = _stub(qtbot, tmp_path, STUB, "1.0")
    try:
        qtbot.waitUntil(lambda: any(isinstance(e, AssociationOpened) for e in seen), timeout=WAIT)
        assert scp.state == "listening" and scp.port == 4104
        assert [type(e) for e in seen] == [Listening, AssociationOpened]  # the garbage: skipped
        assert seen[1].calling_ae == "CALLER"
        with qtbot.waitSignal(scp.failed, timeout=WAIT) as blocker:
            pass  # the newer line comes a second later
        message = blocker.args[0]
        assert message.startswith("SCP STUB:4104 cannot be followed: ")
        assert f"events schema {SCHEMA_VERSION + 1} (a newer pacsadmin)" in message
        assert scp.state == "failed" and not scp.running  # the process was stopped
    finally:
        scp.stop()


def test_a_serve_that_dies_silently_is_reported_with_its_last_words(qtbot, tmp_path):
    script = "import sys; print('something broke', file=sys.stderr); sys.exit(3)"
    scp, seen = _stub(qtbot, tmp_path, script)
    with qtbot.waitSignal(scp.failed, timeout=WAIT) as blocker:
        pass
    assert blocker.args[0] == "SCP STUB:4104 not started: something broke"
    assert scp.failure is None and seen == []
