#!/bin/sh
# Builds pgengine out of tree in $PGE_BUILDDIR (default _build), running
# autogen.sh and configure when needed. Extra configure flags come from
# PGE_CONFIGURE_FLAGS (e.g. "--enable-sanitizers=address").
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${PGE_BUILDDIR:-_build}
case $builddir in /*) ;; *) builddir=$top/$builddir ;; esac

cd "$top"
[ -x configure ] || NOCONFIGURE=1 ./autogen.sh >/dev/null
mkdir -p "$builddir"
cd "$builddir"
# shellcheck disable=SC2086
[ -f Makefile ] || "$top/configure" ${PGE_CONFIGURE_FLAGS:-} >configure.out || {
  cat configure.out; exit 1; }
make -j"$(nproc)" >make.out 2>&1 || { tail -50 make.out; exit 1; }
make -j"$(nproc)" tests/pge-tests tests/pge-stress >>make.out 2>&1 || { tail -50 make.out; exit 1; }
echo "built in $builddir"
