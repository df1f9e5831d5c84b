#!/bin/sh
# Installs pgengine's build and test dependencies from Debian packages.
# Needs root (or sudo). Safe to run again: apt-get skips what is installed.
# The last two lines of packages are optional (introspection and its PyGObject
# test, the gi-docgen reference, the GTK example and its Xvfb test).
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config autoconf-archive
libpq-dev libglib2.0-dev libcriterion-dev postgresql postgresql-contrib
pgbouncer
iproute2
valgrind
gobject-introspection libgirepository1.0-dev python3-gi gi-docgen
libgtk-4-dev xvfb xauth
libmicrohttpd-dev libjson-glib-dev wrk
debhelper lintian fakeroot dpkg-dev"

if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi

export DEBIAN_FRONTEND=noninteractive
# Another apt (unattended-upgrades on a fresh machine, a parallel build)
# may hold dpkg's lock for a while: wait for it rather than fail.
APT_WAIT="-o DPkg::Lock::Timeout=600"
# shellcheck disable=SC2086
$SUDO apt-get $APT_WAIT update -q
# shellcheck disable=SC2086
$SUDO apt-get $APT_WAIT install -y -q --no-install-recommends $PACKAGES
# Optional: the Patroni failover test (pge-stress --patroni) skips, saying
# why, where these cannot be installed.
# shellcheck disable=SC2086
$SUDO apt-get $APT_WAIT install -y -q --no-install-recommends patroni etcd-server python3-etcd ||
  echo "install-deps: patroni, etcd-server or python3-etcd not installable: the Patroni test will skip" >&2
# Optional: the profilers PERFORMANCE.md's figures come from (perf record,
# and strace for tools/pge-costs' futex counts; valgrind is above).
# shellcheck disable=SC2086
$SUDO apt-get $APT_WAIT install -y -q --no-install-recommends linux-perf strace ||
  echo "install-deps: linux-perf or strace not installable: profile without them" >&2
