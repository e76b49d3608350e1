#!/usr/bin/env bash
# Add pacsadmin to the desktop's application menu (Linux, freedesktop.org menus), for the
# current user: the .desktop entry and the icons go under ~/.local/share.
#
#   bash packaging/install_desktop_entry.sh                       the pacsadmin on PATH (pipx, pip)
#   bash packaging/install_desktop_entry.sh dist/pacsadmin/pacsadmin    a PyInstaller build
#   bash packaging/install_desktop_entry.sh --remove
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
res="$here/pacsadmin/resources"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor"

if [ "${1:-}" = "--remove" ]; then
  rm -f "$apps/pacsadmin.desktop"
  for s in 16 32 48 64 128 256 512; do rm -f "$icons/${s}x${s}/apps/pacsadmin.png"; done
  rm -f "$icons/scalable/apps/pacsadmin.svg"
  echo "removed the pacsadmin menu entry"
  exit 0
fi

exe="${1:-$(command -v pacsadmin || true)}"
[ -n "$exe" ] && [ -x "$exe" ] || {
  echo "no pacsadmin program found: install it first (pipx install .), or name it" >&2; exit 1; }
exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"

mkdir -p "$apps" "$icons/scalable/apps"
for s in 16 32 48 64 128 256 512; do
  mkdir -p "$icons/${s}x${s}/apps"
  cp "$res/icons/pacsadmin-$s.png" "$icons/${s}x${s}/apps/pacsadmin.png"
done
cp "$res/icons/pacsadmin.svg" "$icons/scalable/apps/pacsadmin.svg"
sed "s|^Exec=.*|Exec=\"$exe\"|" "$res/pacsadmin.desktop" > "$apps/pacsadmin.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$apps" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$icons" || true
echo "pacsadmin is in the application menu ($apps/pacsadmin.desktop -> $exe)"
