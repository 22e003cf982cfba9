#!/usr/bin/env bash
# Installs what tools/gen_email_vectors.py needs besides the pyenv's pydantic:
# Debian's email-validator (1.3.0, with its idna and dnspython). Only needed
# to make tests/vectors/email.json again, not to build or test entitled.
set -euo pipefail
dpkg-query -W -f='${Status}' python3-email-validator 2>/dev/null | grep -q "ok installed" && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends python3-email-validator >/dev/null
