#!/usr/bin/env bash
# Installs netspace's Debian dependencies (needs root; run on a fresh Debian 12 machine).
# Skips apt entirely when everything is already installed.
set -euo pipefail
pkgs="build-essential cmake pkg-config libsqlite3-dev sqlite3 libopenmpi-dev openmpi-bin
gnuplot-nox libopenblas-dev libjansson-dev zlib1g-dev libcmocka-dev dataset-fashion-mnist
procps time chromium python3 iproute2 strace libjpeg62-turbo-dev libpng-dev python3-pil"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "== installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends $missing
fi
