#!/bin/sh
# The main job, from a fresh clone: installs the Debian dependencies (as
# root or through sudo; PGE_SKIP_DEPS=1 skips that), builds pgengine in
# _build, starts a throwaway PostgreSQL, runs the demo and the benchmarks
# against it, and removes the cluster.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "${1:-}" = --inside-cluster ]; then
  echo "== pge-demo"
  _build/tools/pge-demo "$PGE_CLUSTER_CONNINFO"
  echo
  echo "== pge-bench: pgengine against raw libpq and pgbench, same run"
  _build/tools/pge-bench "$PGE_CLUSTER_CONNINFO"
  echo
  echo "== pge-bench-batch: pipelined atomic, batch prefetch"
  _build/tools/pge-bench-batch "$PGE_CLUSTER_CONNINFO"
  echo
  echo "== pge-bench-copy: loading rows by COPY, pipelined atomic INSERTs, INSERTs one by one"
  # The INSERT methods on fewer rows, to keep the demo short; their
  # rates are extrapolated to 1M rows (the tool's defaults: 1M and 20k).
  PGE_BENCH_ATOMIC_ROWS=${PGE_BENCH_ATOMIC_ROWS:-100000} PGE_BENCH_ONE_ROWS=${PGE_BENCH_ONE_ROWS:-2000} \
    _build/tools/pge-bench-copy "$PGE_CLUSTER_CONNINFO"
  exit 0
fi

if [ "${PGE_SKIP_DEPS:-0}" != 1 ]; then
  tools/install-deps.sh
fi
tools/build.sh
exec tools/with-cluster.sh "$0" --inside-cluster
