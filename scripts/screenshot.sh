#!/usr/bin/env bash
# The real-window check: QGIS desktop under Xvfb with the plugin installed in a fresh profile, the
# Processing toolbox open on the EuroMine group and the Map mining footprints dialog open.
# Usage: scripts/screenshot.sh OUT.png REPORT.json SOURCE
#   SOURCE: the plugin zip (installed into a temporary profile), or a HOME whose default profile
#   already has the plugin enabled. PYTHONPATH must reach onnxruntime (the venv's site-packages).
# Writes the screenshot and a JSON report of what the window shows (scripts/qgis_window.py, or the
# script EUROMINE_WINDOW_SCRIPT names, e.g. scripts/qgis_time_window.py).
set -euo pipefail
png=$(realpath -m "$1") report=$(realpath -m "$2") source=$3
here=$(cd "$(dirname "$0")" && pwd)
if [ -d "$source" ]; then
  home=$source
else
  home=$(mktemp -d)
  trap 'rm -rf "$home"' EXIT
  plugins=$home/.local/share/QGIS/QGIS3/profiles/default/python/plugins
  mkdir -p "$plugins" && unzip -q "$source" -d "$plugins"
  HOME=$home QT_QPA_PLATFORM=offscreen /usr/bin/qgis_process.bin plugins enable euromine_qgis > /dev/null 2>&1
fi
mkdir -p "$(dirname "$png")" "$(dirname "$report")"
rm -f "$png" "$report"
log=${report%.json}.log
# QGIS's desktop needs an X display: Xvfb, the size of a laptop screen.
HOME=$home EUROMINE_SCREENSHOT=$png EUROMINE_WINDOW_REPORT=$report QT_QPA_PLATFORM=xcb \
  timeout 300 xvfb-run -a -s "-screen 0 1600x1000x24" \
  /usr/bin/qgis --nologo --noversioncheck --code "${EUROMINE_WINDOW_SCRIPT:-$here/qgis_window.py}" > "$log" 2>&1 || true
if [ ! -s "$png" ]; then
  echo "no screenshot; the window report and QGIS's output:" >&2
  cat "$report" >&2 2>/dev/null || true
  tail -40 "$log" >&2
  exit 1
fi
echo "$png"
