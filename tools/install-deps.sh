#!/bin/sh
# Installs pgengine's build and test dependencies from Debian packages.
# Needs root (or sudo). Safe to run again: apt-get skips what is installed.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config autoconf-archive
libpq-dev libglib2.0-dev libcriterion-dev postgresql postgresql-contrib
valgrind"

if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $PACKAGES
