#!/bin/bash
# test-abi.sh — the built shared library exports only pge_* functions and
# data, and its SONAME is libpgengine-1.so.0 (configure.ac's libtool
# version rule keeps current - age at 0 until an incompatible release).
# Runs on .libs/libpgengine-1.so in the current directory (the build tree
# when `make check` runs it), or on the file $PGE_ABI_LIBRARY names.
# Exit 0 pass, 1 fail, 77 skipped (no nm/objdump).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
lib=${PGE_ABI_LIBRARY:-.libs/libpgengine-1.so}
command -v nm >/dev/null && command -v objdump >/dev/null || { echo "SKIP: no binutils"; exit 77; }
[ -e "$lib" ] || { echo "FAIL: $lib not found"; exit 1; }
status=0

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" = libpgengine-1.so.0 ]; then
  echo "PASS: SONAME $soname"
else
  echo "FAIL: SONAME is '$soname', not libpgengine-1.so.0"; status=1
fi

# Defined dynamic symbols (T text, D/B/R data, V/W weak, i indirect),
# without the linker's own markers.
exported=$(nm -D --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sed 's/@.*//' |
  grep -vxE '_init|_fini|_edata|_end|__bss_start' | sort -u)
n=$(printf '%s\n' "$exported" | grep -c .)
stray=$(printf '%s\n' "$exported" | grep -v '^pge_' || true)
if [ "$n" -lt 50 ]; then
  echo "FAIL: only $n exported symbols: is this the right library?"; status=1
elif [ -n "$stray" ]; then
  echo "FAIL: exported symbols outside pge_*:"; printf '  %s\n' $stray; status=1
else
  echo "PASS: $n exported symbols, all pge_*"
fi
# Every public function the headers declare is exported (a symbol lost to
# -fvisibility=hidden without PGE_AVAILABLE would break consumers).
if [ -n "${PGE_TEST_SRCDIR:-}" ] && [ -d "$PGE_TEST_SRCDIR/include/pgengine" ]; then
  declared=$(cat "$PGE_TEST_SRCDIR"/include/pgengine/*.h | tr '\n' ' ' |
    grep -oE '\bpge_[a-z0-9_]+[[:space:]]*\(' | sed 's/[[:space:]]*($//' | sort -u)
  missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported") |
    grep -vE '_(get_type)$' || true)
  # A name declared in a header may be a macro or a typedef'd function
  # pointer: only names the source defines count.
  really=
  for f in $missing; do
    grep -qE "^$f[[:space:]]*\(" "$PGE_TEST_SRCDIR"/engine/*.c && really="$really $f"
  done
  if [ -n "$really" ]; then
    echo "FAIL: declared and defined but not exported:$really"; status=1
  else
    echo "PASS: every public function defined in engine/ is exported"
  fi
fi
exit $status
