#!/usr/bin/env bash
# Installs the Debian packages entitled needs to build, test and run, and does
# nothing when they are all present. Called by `make run`, `make test`, `make bench`.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
      libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3 libpq-dev libicu-dev postgresql postgresql-client libcmocka-dev
      postgresql postgresql-client python3 curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
