#!/usr/bin/env bash
# Install PostgreSQL for the store tests, which start a throwaway server of their own
# (tutor/bench/postgres.py: initdb in a temporary folder); the app itself needs it only for a regional
# database. Idempotent: apt-get runs only when the package is missing.
#
# usage: scripts/install_postgres.sh
set -euo pipefail

PACKAGES=(postgresql)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install_postgres: already present: $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tr '\n' ' ')"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; }; then
    echo "install_postgres: cannot install ${missing[*]} here (needs apt-get as root)." >&2
    echo "install_postgres: ask an administrator to run: apt-get install ${missing[*]}" >&2
    echo "install_postgres: until then the PostgreSQL store tests are skipped with that reason." >&2
    exit 0
fi

echo "install_postgres: missing ${missing[*]}; running apt-get update"
$SUDO apt-get update
echo "install_postgres: apt-get install -y ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "install_postgres: installed $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tr '\n' ' ')"
