#!/bin/sh
# tools/setup.sh [--test] - install cryoclean's Debian 12 packages and build it in ./build.
#   --test   also install what the test suite needs (python3-zmq, h5py, promtool, tmux, ...)
# Uses sudo for apt-get when not root. Safe to run again.
set -eu
cd "$(dirname "$0")/.."
BUILD_PKGS="build-essential meson ninja-build pkg-config libzmq3-dev libyaml-dev libopenblas-dev
libsystemd-dev check libhdf5-dev libfftw3-dev libmicrohttpd-dev libplplot-dev plplot-driver-cairo"
TEST_PKGS="python3 python3-zmq python3-numpy python3-h5py prometheus tmux systemd zlib1g-dev
clang-format"
pkgs=$BUILD_PKGS
[ "${1:-}" = "--test" ] && pkgs="$pkgs $TEST_PKGS"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
[ -d build ] || meson setup build
ninja -C build
