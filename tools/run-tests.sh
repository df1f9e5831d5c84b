#!/bin/sh
# Runs the whole test suite: builds in $PGE_BUILDDIR (default _build) if
# needed, then runs every Criterion test against a throwaway PostgreSQL that
# the test binary starts itself (or the server PGE_TEST_CONNINFO names).
# Ends with Criterion's synthesis line and a plain "N passed, N failed".
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${PGE_BUILDDIR:-_build}
case $builddir in /*) ;; *) builddir=$top/$builddir ;; esac

"$top/tools/build.sh"
cd "$builddir"

# PGE_STRESS_ONLY=1: only the multi-threaded stress program (for the
# ThreadSanitizer build, where Criterion cannot run); with
# PGE_STRESS_VALGRIND=1, under valgrind's memcheck, leaks counted as errors.
if [ "${PGE_STRESS_ONLY:-0}" = 1 ]; then
  wrapper=
  if [ "${PGE_STRESS_VALGRIND:-0}" = 1 ]; then
    wrapper="./libtool --mode=execute valgrind -q --error-exitcode=9 --leak-check=full"
    wrapper="$wrapper --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect"
  fi
  exec "$top/tools/with-cluster.sh" sh -c "G_SLICE=always-malloc $wrapper"' ./tests/pge-stress "$PGE_CLUSTER_CONNINFO"'
fi
# PGE_STRESS_CHAOS=1: only the long chaos run (tests/chaos.c) for
# PGE_CHAOS_SECONDS (default 60) on a throwaway cluster of its own, which
# it restarts once; counts as one test.
if [ "${PGE_STRESS_CHAOS:-0}" = 1 ]; then
  status=0
  PGE_CLUSTER_TOOL="$top/tools/pge-cluster" G_SLICE=always-malloc \
    "$top/tools/with-cluster.sh" sh -c \
    './tests/pge-stress --chaos "$1" "$PGE_CLUSTER_CONNINFO"' sh "${PGE_CHAOS_SECONDS:-60}" \
    >chaos.out 2>&1 || status=$?
  tail -80 chaos.out
  if [ "$status" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
  exit "$status"
fi
# PGE_STRESS_FAILOVER=1: only `pge-stress --failover` (tests/failover.c):
# PGE_FAILOVER_ROUNDS (default 3) failovers, each on a primary and a
# synchronous standby of its own; counts one test per round.
if [ "${PGE_STRESS_FAILOVER:-0}" = 1 ]; then
  status=0
  G_SLICE=always-malloc ./tests/pge-stress --failover "${PGE_FAILOVER_ROUNDS:-3}" >failover.out 2>&1 || status=$?
  cat failover.out
  grep -qE '^[0-9]+ passed, [0-9]+ failed$' failover.out || echo "0 passed, 1 failed"
  exit "$status"
fi
# PGE_STRESS_PATRONI=1: only `pge-stress --patroni` (tests/patroni.c):
# two failovers of a Patroni cluster of its own (tools/pge-patroni), one
# test each plus one for the rows at the end; "0 passed, 0 failed" with
# the reason where Patroni is not installed.
if [ "${PGE_STRESS_PATRONI:-0}" = 1 ]; then
  status=0
  G_SLICE=always-malloc ./tests/pge-stress --patroni >patroni.out 2>&1 || status=$?
  cat patroni.out
  grep -qE '^[0-9]+ passed, [0-9]+ failed$' patroni.out || echo "0 passed, 1 failed"
  exit "$status"
fi
status=0
make check >check.out 2>&1 || status=$?
# The server-restart test would hit every other test's connections: it
# runs alone, after the parallel ones.
PGE_TEST_RESTART=1 ./tests/pge-tests --filter 'faults/server_*' -j1 >restart.out 2>&1 || status=1
grep -E '^# (TOTAL|PASS|FAIL|ERROR)' check.out || true
grep -vE '^\[----\]|^\[PASS\]' tests/pge-tests.log | grep -E '\[(FAIL|----|ERR|WARN)|Assertion|crash|Timed' | head -60 || true
cat restart.out | grep -E 'FAIL|Synthesis' || true

synth=$(grep -h 'Synthesis:' tests/pge-tests.log | tail -1)
rsynth=$(grep -h 'Synthesis:' restart.out | tail -1)
num() { n=$(echo "$1" | sed -n "s/.*$2: \([0-9]*\).*/\1/p"); echo "${n:-0}"; }
passed=$(( $(num "$synth" Passing) + $(num "$rsynth" Passing) ))
failed=$(( $(num "$synth" Failing) + $(num "$synth" Crashing) + $(num "$rsynth" Failing) + $(num "$rsynth" Crashing) ))
[ -n "$synth" ] || { echo "no test ran"; passed=0; failed=1; status=1; }
# A binary can fail after every test passed (a sanitizer's report at
# exit): that is one failure more, shown with the end of its log.
if [ -n "$synth" ] && [ "$failed" -eq 0 ] && ! grep -q '^:test-result: PASS' tests/pge-tests.trs 2>/dev/null; then
  failed=$((failed + 1)); echo "FAIL: tests/pge-tests (after its tests: exit status)"
  grep -vE '^\[(PASS|----)\]|^$|pgengine-CRITICAL|assertion .* failed$' tests/pge-tests.log | tail -30
fi
# The other programs in TESTS (PyGObject, GTK under Xvfb) count one each.
for trs in tests/*.trs; do
  case $trs in tests/pge-tests.trs|'tests/*.trs') continue ;; esac
  case $(sed -n 's/^:test-result: //p' "$trs" | head -1) in
    PASS) passed=$((passed + 1)); echo "PASS: ${trs%.trs}" ;;
    SKIP) echo "SKIP: ${trs%.trs}" ;;
    *) failed=$((failed + 1)); echo "FAIL: ${trs%.trs}"; tail -20 "${trs%.trs}.log" ;;
  esac
done
echo "$synth"
[ -z "$rsynth" ] || echo "$rsynth"
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit "$status"
