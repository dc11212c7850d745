#!/usr/bin/env bash
# Install what OCR of scanned PDFs and photos of pages needs: Debian's tesseract with its
# Kazakh, Russian and English models (pypdfium2, which renders PDF pages for it, comes with
# the package's dependencies). Idempotent: apt-get runs only for missing packages.
#
# usage: scripts/install_ocr.sh
set -euo pipefail

PACKAGES=(tesseract-ocr tesseract-ocr-kaz tesseract-ocr-rus tesseract-ocr-eng)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install_ocr: already present: $(tesseract --version 2>/dev/null | head -n1) with $(tesseract --list-langs 2>/dev/null | tail -n +2 | tr '\n' ' ')"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; }; then
    echo "install_ocr: cannot install ${missing[*]} here (needs apt-get as root)." >&2
    echo "install_ocr: ask an administrator to run: apt-get install ${missing[*]}" >&2
    echo "install_ocr: until then scanned PDFs and photos of pages are refused with that message." >&2
    exit 0
fi

echo "install_ocr: missing ${missing[*]}; running apt-get update"
$SUDO apt-get update
echo "install_ocr: apt-get install -y ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "install_ocr: installed $(tesseract --version 2>/dev/null | head -n1) with $(tesseract --list-langs 2>/dev/null | tail -n +2 | tr '\n' ' ')"
