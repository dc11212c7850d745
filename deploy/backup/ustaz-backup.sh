#!/usr/bin/env bash
# Back up the region's Ustaz database with pg_dump (custom format: compressed, restored table
# by table with pg_restore), check that the dump reads back, and keep the last KEEP_DAYS days.
# Run daily by ustaz-backup.timer; docs/deploy.md has the restore drill.
#
# usage: ustaz-backup.sh [DIR]      (DIR: /var/backups/ustaz)
# env:   TUTOR_DATABASE_URL (from /etc/ustaz/ustaz.env), KEEP_DAYS (14)
set -euo pipefail

DIR="${1:-/var/backups/ustaz}"
KEEP_DAYS="${KEEP_DAYS:-14}"
URL="${TUTOR_DATABASE_URL:?TUTOR_DATABASE_URL is not set (see /etc/ustaz/ustaz.env)}"
case "$URL" in
    postgres://*|postgresql://*) ;;
    *) echo "ustaz-backup: TUTOR_DATABASE_URL is not a PostgreSQL URL; an SQLite store is backed up by copying the data folder" >&2
       exit 2 ;;
esac

mkdir -p "$DIR"
umask 077  # the dump holds the school's question log
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="$DIR/ustaz-$stamp.dump"
partial="$final.partial"

# A dump is one consistent snapshot; replicas keep answering while it runs.
pg_dump --format=custom --no-owner --no-privileges --dbname="$URL" --file="$partial"
# A dump that pg_restore cannot list is not a backup.
tables="$(pg_restore --list "$partial" | grep -c ' TABLE DATA ' || true)"
if [ "$tables" -eq 0 ]; then
    echo "ustaz-backup: $partial lists no table data; keeping it for inspection" >&2
    exit 1
fi
mv "$partial" "$final"
echo "ustaz-backup: $final ($(du -h "$final" | cut -f1), $tables tables)"

find "$DIR" -maxdepth 1 -name 'ustaz-*.dump' -mtime +"$KEEP_DAYS" -print -delete
