#!/usr/bin/env bash
# Installs what `make bench` needs beyond scripts/deps.sh, and does nothing when
# it is all present: wrk, nginx (the HTTP ceiling), Debian's FastAPI stack for
# the FastAPI peer (run with /usr/bin/python3), perf (fsyncs per write; strace
# is the fallback), Node for the Fastify peer; then, with --peers DIR, a
# working copy of ../shared/peers in DIR (the shared folder is read-only) with
# `npm install` done in DIR/fastify_peer (better-sqlite3 12.x, built from
# source). DIR is kept between runs: npm install runs again only when the
# peers' package files change.
#
# Usage: scripts/bench-deps.sh [--peers DIR [--from SHARED_PEERS]]
set -euo pipefail
PEERS_DIR= FROM=
while [ $# -gt 0 ]; do
  case $1 in
    --peers) PEERS_DIR=$2; shift 2 ;;
    --from) FROM=$2; shift 2 ;;
    *) echo "usage: $0 [--peers DIR [--from SHARED_PEERS]]" >&2; exit 2 ;;
  esac
done

pkgs=(wrk nginx python3-fastapi python3-uvicorn python3-pydantic python3-uvloop python3-httptools
      strace procps curl python3 build-essential)
# perf: linux-perf on Debian (it brings the perf binary matching no kernel in
# particular, which is enough for syscall tracepoints).
pkgs+=(linux-perf)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" && continue
  # nginx: any flavour will do
  [ "$p" = nginx ] && command -v nginx >/dev/null 2>&1 && continue
  missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Installing nginx would start the distribution's nginx service on port 80;
  # the bench starts its own. Where no policy-rc.d exists, put one that denies
  # starting services for the length of the install (the standard Debian way).
  policy=/usr/sbin/policy-rc.d ours=
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null && $SUDO chmod +x $policy && ours=1
  fi
  rc=0
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  [ -n "$ours" ] && $SUDO rm -f $policy
  [ $rc -eq 0 ] || exit $rc
fi

[ -n "$PEERS_DIR" ] || exit 0
if [ -z "$FROM" ]; then
  FROM=$(cd "$(dirname "$0")/.." && pwd)/../shared/peers
fi
FROM=$(cd "$FROM" && pwd)
mkdir -p "$PEERS_DIR"
# refresh the copy (sources only: node_modules and databases stay)
(cd "$FROM" && tar --exclude=node_modules --exclude='*.db*' --exclude=results -cf - .) | (cd "$PEERS_DIR" && tar -xf - --no-same-owner)
chmod -R u+w "$PEERS_DIR"
stamp="$PEERS_DIR/fastify_peer/node_modules/.bench-stamp"
want=$(cat "$PEERS_DIR/fastify_peer/package.json" "$PEERS_DIR/fastify_peer/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] ||
   ! (cd "$PEERS_DIR/fastify_peer" && node -e 'require("better-sqlite3"); require("fastify")' 2>/dev/null); then
  echo "bench-deps: npm install in $PEERS_DIR/fastify_peer (better-sqlite3 builds from source, a few minutes)" >&2
  (cd "$PEERS_DIR/fastify_peer" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  (cd "$PEERS_DIR/fastify_peer" && node -e '
    const v = require("better-sqlite3/package.json").version;
    if (!v.startsWith("12.")) { console.error("better-sqlite3 " + v + ", want 12.x"); process.exit(1); }
    require("better-sqlite3"); require("fastify");')
  echo "$want" >"$stamp"
fi
