#!/bin/bash
# test-install-prefix.sh — `./configure --prefix=DIR && make && make
# install`, run by a user who may write nothing but DIR (nobody, through
# runuser), installs everything under DIR: the library, the headers, the
# GIR files, and the PyGObject overrides in DIR's own Python directory,
# where Python then finds them; and `make install` writes nothing outside
# DIR. Needs root (to run as another user) and a Python with PyGObject;
# exits 77 (skipped) without them. Builds a tree of its own: a few minutes.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu
srcdir=${PGE_TEST_SRCDIR:?PGE_TEST_SRCDIR names the source tree}
user=${PGE_TEST_INSTALL_USER:-nobody}
python=/usr/bin/python3

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to run as $user"; exit 77; }
command -v runuser >/dev/null || { echo "SKIP: no runuser"; exit 77; }
"$python" -c 'import gi' 2>/dev/null || { echo "SKIP: no PyGObject"; exit 77; }
runuser -u "$user" -- test -r "$srcdir/configure" || { echo "SKIP: $srcdir/configure not readable by $user"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
prefix=$tmp/prefix
mkdir "$tmp/build" "$prefix" "$tmp/home"
chown "$user" "$tmp/build" "$prefix" "$tmp/home"
as_user() { runuser -u "$user" -- env -i HOME="$tmp/home" PATH="$PATH" "$@"; }

cd "$tmp/build"
as_user "$srcdir/configure" --prefix="$prefix" --disable-docs --enable-introspection \
  >"$tmp/configure.out" 2>&1 || { tail -30 "$tmp/configure.out"; exit 1; }
as_user make -j2 >"$tmp/make.out" 2>&1 || { tail -30 "$tmp/make.out"; exit 1; }

touch "$tmp/stamp"
sleep 1
as_user make install >"$tmp/install.out" 2>&1 || { tail -30 "$tmp/install.out"; echo "FAIL: make install as $user"; exit 1; }

status=0
fail() { echo "FAIL: $*"; status=1; }
# Everything the user's files can be: nothing new outside the prefix.
outside=$(find /tmp /var/tmp /dev/shm /usr /etc /opt /home /root "$tmp/home" -xdev \
            -user "$user" -newer "$tmp/stamp" \
            -not -path "$prefix" -not -path "$prefix/*" \
            -not -path "$tmp/build" -not -path "$tmp/build/*" -print 2>/dev/null || true)
[ -z "$outside" ] || fail "make install wrote outside $prefix: $outside"
[ -e "$prefix/lib/libpgengine-1.so" ] || fail "no $prefix/lib/libpgengine-1.so"
[ -e "$prefix/lib/pkgconfig/pgengine-1.pc" ] || fail "no pgengine-1.pc"
[ -e "$prefix/include/pgengine-1/pgengine.h" ] || fail "no pgengine.h"
[ -e "$prefix/lib/girepository-1.0/Pge-1.typelib" ] || fail "no Pge-1.typelib"
site=$("$python" -c 'import sysconfig, sys; print(sysconfig.get_path("purelib", "posix_prefix", vars={"base": sys.argv[1], "platbase": sys.argv[1]}))' "$prefix")
[ -e "$site/gi/overrides/Pge.py" ] || fail "no $site/gi/overrides/Pge.py; installed: $(cd "$prefix" && find . -name Pge.py)"

# Python finds the overrides there, beside PyGObject's own. PyGObject
# searches its own directory first: where a python3-pge package put a
# Pge.py there (a machine that ran tools/build-debs.sh), that one wins
# for every user, so then the check is that the prefix's directory is on
# the overrides path, after PyGObject's.
sysdir=$("$python" -c 'import os, gi.overrides; print(os.path.dirname(gi.overrides.__file__))')
loaded=$(as_user env PYTHONPATH="$site" GI_TYPELIB_PATH="$prefix/lib/girepository-1.0" \
           LD_LIBRARY_PATH="$prefix/lib" "$python" -c '
import sys, gi, gi.overrides
gi.require_version("Pge", "1")
from gi.repository import Pge
if sys.argv[1] == "path":
    print("\n".join(gi.overrides.__path__))
else:
    print(sys.modules["gi.overrides.Pge"].__file__)' "$([ -e "$sysdir/Pge.py" ] && echo path || echo file)" 2>&1) ||
  fail "import: $loaded"
if [ -e "$sysdir/Pge.py" ]; then
  echo "note: $sysdir/Pge.py (python3-pge) is installed and shadows the prefix's for every user"
  echo "$loaded" | grep -qx "$site/gi/overrides" || fail "$site/gi/overrides is not on gi.overrides.__path__: $loaded"
else
  [ "$loaded" = "$site/gi/overrides/Pge.py" ] || fail "Python loaded the overrides from $loaded"
fi

[ "$status" = 0 ] && echo "PASS: make install as $user put everything under $prefix"
exit "$status"
