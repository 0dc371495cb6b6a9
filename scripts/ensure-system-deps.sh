#!/bin/sh
# Installs the Debian packages the test suite needs when they are missing: SoftHSM2 (the PKCS#11
# key provider is tested against it) and Chromium (the console's end-to-end tests drive it with
# playwright-core). Needs root or sudo; otherwise says what to install.
set -eu
missing=""
if ! command -v softhsm2-util >/dev/null 2>&1 || [ ! -e /usr/lib/softhsm/libsofthsm2.so ]; then
  missing="$missing softhsm2"
fi
if [ ! -x /usr/bin/chromium ]; then
  missing="$missing chromium"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "the tests need these Debian packages:$missing (apt-get install$missing)" >&2
  exit 1
fi
echo "installing Debian packages for the tests:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
