#!/usr/bin/env bash
# Install or remove ModelDesk's desktop entry and icon for this user (the XDG base directory spec:
# $XDG_DATA_HOME, else ~/.local/share). Usage: desktop-entry.sh install EXECUTABLE | uninstall
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icon="$data/icons/hicolor/scalable/apps/modeldesk.svg"
entry="$apps/modeldesk.desktop"

refresh() {  # menus pick the change up at once where these tools exist; harmless where they don't
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$apps" 2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" 2>/dev/null || true
}

case "${1:-}" in
  install)
    exe="${2:?usage: desktop-entry.sh install EXECUTABLE}"
    if [[ ! -x "$exe" ]]; then
      echo "error: $exe is not an executable: build the bundle (make package) or install (make install) first." >&2
      exit 2
    fi
    exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"
    mkdir -p "$apps" "$(dirname "$icon")"
    # Exec is quoted as the Desktop Entry spec asks, so a path with spaces still starts.
    sed "s|@EXEC@|\"${exe//|/\\|}\"|" "$here/modeldesk.desktop" > "$entry.tmp"
    mv "$entry.tmp" "$entry"
    cp "$here/../../resources/icons/modeldesk.svg" "$icon"
    refresh
    echo "Installed $entry (runs $exe) and $icon"
    ;;
  uninstall)
    rm -f "$entry" "$icon"
    refresh
    echo "Removed $entry and $icon"
    ;;
  *)
    echo "usage: desktop-entry.sh install EXECUTABLE | uninstall" >&2
    exit 2
    ;;
esac
