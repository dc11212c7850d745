#!/usr/bin/env bash
# Install what OCR of scanned PDFs and photos of pages needs: Debian's tesseract with its
# Kazakh, Russian and English models (pypdfium2, which renders PDF pages for it, comes with
# the package's dependencies). Idempotent: apt-get runs only for missing packages.
#
# usage: scripts/install_ocr.sh
set -euo pipefail
source "$(dirname "$0")/apt_packages.sh"

apt_packages install_ocr "scanned PDFs and photos of pages are refused with that message" \
    tesseract-ocr tesseract-ocr-kaz tesseract-ocr-rus tesseract-ocr-eng || exit 0
echo "install_ocr: present: $(tesseract --version 2>/dev/null | head -n1) with $(tesseract --list-langs 2>/dev/null | tail -n +2 | tr '\n' ' ')"
