#!/bin/bash
# build-debs.sh — builds the Debian packages the way a distribution would
# and checks them as a user gets them:
#   1. `git archive HEAD` into a clean directory (nothing uncommitted, no
#      build tree leaks in), 2. dpkg-buildpackage -us -uc -b, 3. lintian
#      (any error, warning or info tag that is not overridden fails),
#   4. apt-get install ./*.deb (as root), 5. make installcheck in the
#      package's build tree, 6.-8. the autopkgtest scripts of debian/tests
#      (consumer, gir, tools) against the installed packages.
# Ends with "N passed, N failed" over those steps; exit 0 only if all pass.
#
#   tools/build-debs.sh                   as above; output in $PGE_DEBS_DIR (default _debs)
#   tools/build-debs.sh --update-symbols  build, then rewrite
#       debian/libpgengine-1-0.symbols from the library's real exports
#       (dpkg-gensymbols; new symbols get this version), nothing else.
#       Run it after adding public functions, then commit the file.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${PGE_DEBS_DIR:-$top/_debs}
case $out in /*) ;; *) out=$top/$out ;; esac
mode=${1:-all}
passed=0 failed=0
step() {  # step NAME LOG COMMAND...: runs it, counts it, shows the log's end on failure
  local name=$1 log=$2; shift 2
  local start=$SECONDS
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1)); echo "PASS: $name ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); echo "FAIL: $name ($((SECONDS - start)) s; $log)"; tail -40 "$log" | sed 's/^/  /'
  fi
}
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
rm -rf "$out"; mkdir -p "$out"
src=$out/pgengine-$version
git -C "$top" archive --format=tar --prefix="pgengine-$version/" HEAD | tar -x -C "$out" || {
  echo "FAIL: git archive"; echo "0 passed, 1 failed"; exit 1; }

build() ( cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)" )
step "dpkg-buildpackage -us -uc -b" "$out/build.log" build
changes=$(ls "$out"/pgengine_*.changes 2>/dev/null | head -1)
[ -n "$changes" ] || finish

if [ "$mode" = --update-symbols ]; then
  rm -rf "$out/lib"; dpkg-deb -x "$out"/libpgengine-1-0_*.deb "$out/lib"
  sym=$top/debian/libpgengine-1-0.symbols
  # shellcheck disable=SC2046
  dpkg-gensymbols -plibpgengine-1-0 -v"$version" -P"$out/lib" $([ -f "$sym" ] && echo "-I$sym") -O"$sym" -c0 \
    && echo "wrote debian/libpgengine-1-0.symbols ($(grep -c '^ pge_' "$top/debian/libpgengine-1-0.symbols") symbols)"
  exit $?
fi

step "lintian (errors, warnings and infos fail unless overridden)" "$out/lintian.log" \
  lintian --fail-on error,warning,info --display-info "$changes"
grep -E '^[EWI]: ' "$out/lintian.log" | head -20
if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
install_debs() ( cd "$out" && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall ./*.deb )
step "apt-get install ./*.deb" "$out/install.log" install_debs
# make installcheck in the package's build tree (configured for /usr):
# tests/installcheck.c against what apt-get just installed.
step "make installcheck (installed packages, prefix /usr)" "$out/installcheck.log" make -C "$src" installcheck
# The autopkgtest scripts, run from the source tree as autopkgtest would.
for t in consumer gir tools; do
  mkdir -p "$out/autopkgtest-$t"
  step "debian/tests/$t (installed packages)" "$out/autopkgtest-$t.log" \
    env -C "$src" AUTOPKGTEST_TMP="$out/autopkgtest-$t" "debian/tests/$t"
  grep -E ': ok|passed' "$out/autopkgtest-$t.log" | tail -1 | sed 's/^/  /'
done
finish
