#!/bin/sh
# Installs what Cairn needs to build, test and benchmark on Debian 12 (as root).
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  meson ninja-build pkg-config g++ clang libclang-rt-14-dev \
  libxxhash-dev liburing-dev doctest-dev libbenchmark-dev \
  libcli11-dev nlohmann-json3-dev libfmt-dev \
  libsqlite3-dev librocksdb-dev liblmdb-dev >/dev/null
