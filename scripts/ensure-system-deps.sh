#!/bin/sh
# Installs the Debian packages the test suite needs when they are missing: SoftHSM2 (the PKCS#11
# key provider is tested against it). Needs root or sudo; otherwise says what to install.
set -eu
if command -v softhsm2-util >/dev/null 2>&1 && [ -e /usr/lib/softhsm/libsofthsm2.so ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "the tests need SoftHSM2: install the Debian package softhsm2 (apt-get install softhsm2)" >&2
  exit 1
fi
echo "installing softhsm2 (Debian package) for the PKCS#11 tests" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends softhsm2
