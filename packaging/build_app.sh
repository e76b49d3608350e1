#!/usr/bin/env bash
# Build the one-folder desktop app with PyInstaller, then smoke-test it.
#
#   bash packaging/build_app.sh            build into dist/pacsadmin/, then test it
#   bash packaging/build_app.sh --test     only test an existing dist/pacsadmin/
#
# Needs the build extra in the Python used: `pip install ".[build]"` (PYTHON=... to choose
# the interpreter; default: .venv/bin/python, else python3).  The smoke test runs the
# built program only (no Python of the checkout): it starts and prints --version, runs
# `echo` against its own SCP (`serve`), starts the demo PACS (which generates its studies:
# the JPEG 2000 encoder must be in the build), echoes and queries it, renders its JPEG 2000
# image (decoded in a worker process), and opens the window offscreen
# (the window starts the local SCP as a child process of the same program: that port must
# answer), then closes it with SIGTERM and expects exit code 0.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
dist="$here/dist"
app="$dist/pacsadmin/pacsadmin"

if [ "${1:-}" != "--test" ]; then
  "$python" -c "import PyInstaller" 2>/dev/null || {
    echo "PyInstaller is missing: $python -m pip install '.[build]'" >&2; exit 2; }
  echo "==> PyInstaller (packaging/pacsadmin.spec)"
  t0=$(date +%s)
  "$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$dist" --workpath "$here/build/pyinstaller" packaging/pacsadmin.spec
  t1=$(date +%s)
  echo "==> built in $((t1 - t0)) s: $(du -sh "$dist/pacsadmin" | cut -f1) in $dist/pacsadmin" \
       "($(find "$dist/pacsadmin" -type f | wc -l) files)"
fi
[ -x "$app" ] || { echo "no build at $app" >&2; exit 1; }

# ------------------------------------------------------------------ the smoke test
t0=$(date +%s)
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export PACSADMIN_HOME="$work/home" QT_QPA_PLATFORM=offscreen
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV
cd "$work"  # nothing of the checkout on the path

free_port() {
  "$app" --version >/dev/null  # (the program must run at all)
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {  # port, pid, seconds
  local deadline=$(( $(date +%s) + $3 ))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    kill -0 "$2" 2>/dev/null || { echo "FAIL: the process ended before listening on $1" >&2; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { echo "FAIL: nothing listens on $1 after $3 s" >&2; return 1; }
    sleep 0.2
  done
}
step() { echo "--> $*"; }

step "--version"
"$app" --version

step "echo against the app's own SCP"
port=$(free_port)
"$app" serve --aet SMOKE --port "$port" --bind 127.0.0.1 --workers 1 >"$work/serve.log" 2>&1 &
pids+=($!); wait_port "$port" $! 60
"$app" echo "SMOKE@127.0.0.1:$port"

step "the demo PACS (generated at its first start) answers"
dport=$(free_port)
"$app" serve --demo --port "$dport" --bind 127.0.0.1 >"$work/demo.log" 2>&1 &
pids+=($!); wait_port "$dport" $! 120 || { cat "$work/demo.log" >&2; exit 1; }
grep -h "studies" "$work/demo.log"
"$app" echo "Demo PACS"
"$app" find "Demo PACS" --csv | head -3

step "a JPEG 2000 image of the demo renders (decoded in a worker process: multiprocessing frozen)"
j2k="$(grep -rlaF "1.2.840.10008.1.2.4.90" "$PACSADMIN_HOME/demo/archive/data" | head -1)"
"$app" render -o "$work/j2k.png" --json "$j2k" | grep '"decoder"'
[ -s "$work/j2k.png" ]

step "the window opens offscreen and starts the local SCP (a child process of the same program)"
wport=$(free_port)
mkdir -p "$PACSADMIN_HOME"
printf '{"schema_version": 1, "scp_port": %s, "scp_worker_processes": 1}\n' "$wport" \
  >"$PACSADMIN_HOME/settings.json"
"$app" >"$work/window.log" 2>&1 &
win=$!; pids+=($win)
wait_port "$wport" "$win" 90 || { cat "$work/window.log" >&2; exit 1; }
"$app" echo "PACSADMIN@127.0.0.1:$wport"
kill -TERM "$win"
rc=0; wait "$win" || rc=$?
[ "$rc" = 0 ] || { echo "FAIL: the window exited with $rc" >&2; cat "$work/window.log" >&2; exit 1; }
if grep -q "Traceback" "$work/window.log"; then cat "$work/window.log" >&2; exit 1; fi
echo "==> smoke test passed in $(( $(date +%s) - t0 )) s"
