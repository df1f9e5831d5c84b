#!/bin/sh
# with-cluster.sh COMMAND [ARGS...] — runs COMMAND with PGE_CLUSTER_CONNINFO
# naming a throwaway PostgreSQL started for it, and removes the cluster
# afterwards, whatever happens. An already set PGE_CLUSTER_CONNINFO is used
# as it is, and nothing is started.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if [ -n "${PGE_CLUSTER_CONNINFO:-}" ]; then
  exec "$@"
fi
dir=$(mktemp -d -u "${TMPDIR:-/tmp}/pge-cluster.XXXXXX")
trap '"$here/pge-cluster" stop "$dir"' EXIT INT TERM
PGE_CLUSTER_CONNINFO=$("$here/pge-cluster" start "$dir")
PGE_CLUSTER_DIR=$dir
export PGE_CLUSTER_CONNINFO PGE_CLUSTER_DIR
"$@"
