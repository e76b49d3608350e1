#!/usr/bin/env bash
# Set up pacsadmin on a fresh Debian/Ubuntu machine.
#
#   bash packaging/bootstrap.sh run    install, then start the app
#   bash packaging/bootstrap.sh test   install everything the tests need, then run them all
#
# As root it installs the Debian packages itself; otherwise it prints the apt-get line to
# run (or uses sudo when it can without a password).  Python packages go into .venv/ in the
# project folder (override with PACSADMIN_VENV).
set -euo pipefail

mode="${1:-run}"
case "$mode" in run|test) ;; *) echo "usage: $0 run|test" >&2; exit 2 ;; esac
shift || true

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PACSADMIN_VENV:-$here/.venv}"

# Qt offscreen + a real window under X (docs/notes.md says why each is needed)
qt_pkgs="libglib2.0-0 libegl1 libgl1 libfontconfig1 libxkbcommon0 libdbus-1-3 fonts-dejavu-core
 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0
 libxkbcommon-x11-0 libxcb-xinerama0 libxcb-randr0 libxcb-xfixes0"
py_pkgs="python3 python3-venv python3-pip"
# the real DICOM peers the integration tests talk to, and Xvfb for screenshots
test_pkgs="dcmtk orthanc xvfb xauth openssl"

pkgs="$qt_pkgs $py_pkgs"
[ "$mode" = test ] && pkgs="$pkgs $test_pkgs"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# python3 may come from elsewhere (pyenv...): then the Debian python packages are not needed
if command -v python3 >/dev/null && python3 -m venv --help >/dev/null 2>&1; then
  missing="$(echo "$missing" | tr ' ' '\n' | grep -v -E '^python3(-venv|-pip)?$' | tr '\n' ' ')"
fi
missing="$(echo $missing)"

if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then apt_prefix=""
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then apt_prefix="sudo"
  else
    echo "pacsadmin needs these Debian packages: $missing" >&2
    echo "Install them, then run this again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y $missing" >&2
    exit 1
  fi
  echo "==> apt-get install $missing"
  $apt_prefix apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $apt_prefix apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating $venv"
  python3 -m venv "$venv"
fi
# pip runs once, not at every start (the window took 9 s to appear with it, 1.5 s without).  The
# stamp holds what the last install was made from: pyproject.toml's hash, the version and
# this folder.  `run` skips pip while the stamp matches and the venv has pacsadmin at this
# version; `test` always installs (the test tools may be missing).
stamp="$venv/.pacsadmin-installed"
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$here/pacsadmin/__init__.py")"
want="$(sha256sum "$here/pyproject.toml" | cut -d' ' -f1) $version $here"
installed_version() {
  "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pacsadmin"))' 2>/dev/null || true
}
if [ "$mode" = run ] && [ -x "$venv/bin/pacsadmin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
   && [ "$(installed_version)" = "$version" ]; then
  :  # installed already, from this pyproject.toml
else
  echo "==> pip install"
  rm -f "$stamp"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  if [ "$mode" = test ]; then
    "$venv/bin/python" -m pip install -q -e "$here[test]"
  else
    "$venv/bin/python" -m pip install -q -e "$here"
  fi
  echo "$want" > "$stamp"
fi

cd "$here"
if [ "$mode" = run ]; then
  echo "==> starting pacsadmin"
  exec "$venv/bin/pacsadmin" "$@"
fi

echo "==> ruff"
"$venv/bin/ruff" check .
echo "==> mypy"
"$venv/bin/mypy"  # [tool.mypy] in pyproject.toml: strict on core and cli
echo "==> tests"
export QT_QPA_PLATFORM=offscreen
exec "$venv/bin/python" -m pytest "$@"
