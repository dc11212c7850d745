#!/usr/bin/env bash
# One-time (and idempotent) set-up: virtual environment, packages, embedded models.
# Re-running is fast: packages are reinstalled only when pyproject.toml changes, and the
# models are converted only when their verified copy is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating the virtual environment .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.ustaz-installed
want=$(sha1sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing Ustaz and its packages (torch CPU build, transformers, gradio, ...)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
# OCR of scanned PDFs and photos; without it those uploads are refused with what to install
scripts/install_ocr.sh || echo "[setup] OCR not installed: scanned PDFs and photos of pages will be refused"
echo "[setup] provisioning the embedded models (converted once, then verified and reused)"
.venv/bin/tutor models
