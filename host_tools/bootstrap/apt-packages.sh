#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages given as arguments that are not yet
# installed. Uses sudo only when not root; does nothing when all are present.
set -euo pipefail

missing=()
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "mpyml: these Debian packages (or their equivalents) are needed: ${missing[*]}" >&2
    echo "mpyml: apt-get is not available here; install them with your system's package manager." >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "mpyml: not root and no sudo: install ${missing[*]} as root" >&2; exit 1; }
    sudo="sudo"
fi
echo "mpyml: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
