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
source "$(dirname "$0")/apt_packages.sh"

PACKAGE=nginx-light

for pkg in nginx-light nginx nginx-core nginx-full nginx-extras; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
            echo "install_nginx: already present: $(/usr/sbin/nginx -v 2>&1)"
            exit 0
        fi
    fi
done

apt_packages install_nginx "the deployment test is skipped with that reason" "$PACKAGE" || exit 0
echo "install_nginx: present: $(/usr/sbin/nginx -v 2>&1)"
