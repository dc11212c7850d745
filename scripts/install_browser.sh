#!/usr/bin/env bash
# Install what the browser tests (tests/test_browser.py) need: Debian's Chromium and the
# Playwright Python package. Idempotent: each step runs only when its piece is missing.
# Playwright's own browser download (`playwright install`) is never used: it needs the
# internet, and the tests drive /usr/bin/chromium instead.
#
# usage: scripts/install_browser.sh [VENV]   (default: .venv)
set -euo pipefail

VENV="${1:-.venv}"
PY="$VENV/bin/python"
CHROMIUM=/usr/bin/chromium

if [ ! -x "$PY" ]; then
    echo "install_browser: no Python at $PY (pass the virtual environment as the first argument)" >&2
    exit 2
fi

if [ -x "$CHROMIUM" ]; then
    echo "install_browser: chromium already present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "install_browser: chromium missing; running apt-get update"
    $SUDO apt-get update
    echo "install_browser: apt-get install -y chromium"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
    echo "install_browser: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
fi

if "$PY" -c "import playwright" 2>/dev/null; then
    echo "install_browser: playwright already installed in $VENV: $("$PY" -m pip show playwright 2>/dev/null | sed -n 's/^Version: //p')"
else
    echo "install_browser: pip install playwright into $VENV"
    "$PY" -m pip install --quiet playwright
    echo "install_browser: installed playwright $("$PY" -m pip show playwright | sed -n 's/^Version: //p')"
fi

echo "install_browser: done (tests launch $CHROMIUM; no 'playwright install' needed)"
