#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver for the connectors page's browser tests
# (crates/server/tests/browser) when they are missing. scripts/test.sh runs this first.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
