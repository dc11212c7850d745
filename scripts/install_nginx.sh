#!/usr/bin/env bash
# Install Debian's nginx for the deployment test (tests/test_deploy.py runs the shipped
# deploy/nginx/ustaz.conf in front of two app replicas); the app itself needs it only on a
# school server or in a region, as the reverse proxy of docs/deploy.md. nginx-light has every
# module that config uses (upstream hash, proxy, ssl, http2). Idempotent: apt-get runs only
# when no nginx package is installed. The Debian package enables and starts a system service
# where systemd runs; the test starts its own nginx as a non-daemon and needs none.
#
# usage: scripts/install_nginx.sh
set -euo pipefail

PACKAGE=nginx-light

for pkg in nginx-light nginx nginx-core nginx-full nginx-extras; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
            echo "install_nginx: already present: $(/usr/sbin/nginx -v 2>&1)"
            exit 0
        fi
    fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; }; then
    echo "install_nginx: cannot install $PACKAGE here (needs apt-get as root)." >&2
    echo "install_nginx: ask an administrator to run: apt-get install $PACKAGE" >&2
    echo "install_nginx: until then the deployment test is skipped with that reason." >&2
    exit 0
fi

echo "install_nginx: missing $PACKAGE; running apt-get update"
$SUDO apt-get update
echo "install_nginx: apt-get install -y $PACKAGE"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$PACKAGE"
echo "install_nginx: installed $(/usr/sbin/nginx -v 2>&1)"
