#!/usr/bin/env bash
# A throwaway PostgreSQL server for trying the regional store by hand: initdb in a temporary
# folder (as the postgres user when run as root), a free port, one database; prints its URL
# and removes everything on Ctrl-C.
#
# usage: scripts/postgres.sh      then, in another shell:
#        TUTOR_DATABASE_URL='<the printed URL>' .venv/bin/tutor serve
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
exec "$PY" -m tutor.bench.postgres
