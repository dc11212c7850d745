# Sourced by the install_*.sh scripts: install Debian packages that are missing, idempotently.
#
# apt_packages TAG "WHAT WITHOUT THEM" PACKAGE...
#   returns 0 when they are all present or were installed, 1 when some are missing and
#   apt-get cannot run here (it then says what to ask an administrator for).

apt_missing() {
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            echo "$pkg"
        fi
    done
}

apt_packages() {
    local tag="$1" without="$2"
    shift 2
    local missing
    mapfile -t missing < <(apt_missing "$@")
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
    if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; }; then
        echo "$tag: cannot install ${missing[*]} here (needs apt-get as root)." >&2
        echo "$tag: ask an administrator to run: apt-get install ${missing[*]}" >&2
        echo "$tag: until then $without." >&2
        return 1
    fi
    echo "$tag: missing ${missing[*]}; running apt-get update"
    $sudo apt-get update
    echo "$tag: apt-get install -y ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}
