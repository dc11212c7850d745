#!/usr/bin/env bash
# Install PostgreSQL for the store tests, which start a throwaway server of their own
# (tutor/bench/postgres.py: initdb in a temporary folder); the app itself needs it only for a regional
# database. Idempotent: apt-get runs only when the package is missing.
#
# usage: scripts/install_postgres.sh
set -euo pipefail
source "$(dirname "$0")/apt_packages.sh"

apt_packages install_postgres "the PostgreSQL store tests are skipped with that reason" postgresql || exit 0
echo "install_postgres: present: $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tr '\n' ' ')"
