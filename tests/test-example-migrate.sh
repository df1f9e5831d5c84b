#!/bin/bash
# test-example-migrate.sh — examples/migrate/pge-migrate on a throwaway
# cluster (or PGE_TEST_CONNINFO): applies files in order, a re-run applies
# nothing, a failing file rolls back alone and stops with its name and the
# server's message, and fixing it lets the next run go on from there.
# Exit 0 pass, 1 fail, 77 skipped (no binary).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
top_srcdir=${PGE_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
migrate=${PGE_MIGRATE:-$PWD/examples/migrate/pge-migrate}
[ -x "$migrate" ] || { echo "SKIP: no $migrate"; exit 77; }
command -v psql >/dev/null || { echo "SKIP: no psql"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pge-migrate-XXXXXX")
cluster=
cleanup() {
  [ -z "$cluster" ] || "$top_srcdir/tools/pge-cluster" stop "$cluster" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
conninfo=${PGE_TEST_CONNINFO:-}
if [ -z "$conninfo" ]; then
  cluster=$(mktemp -d "${TMPDIR:-/tmp}/pge-migrate-cluster-XXXXXX")
  conninfo=$("$top_srcdir/tools/pge-cluster" start "$cluster") || { echo "FAIL: no cluster"; exit 1; }
fi
db="pge_migrate_$$"
psql -X -q "$conninfo" -c "CREATE DATABASE $db" || { echo "FAIL: create database"; exit 1; }
conninfo="$conninfo dbname=$db"
trap 'psql -X -q "${conninfo% dbname=*}" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; cleanup' EXIT
sql() { psql -X -q -At "$conninfo" -c "$1"; }
failures=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then echo "ok - $what"; else echo "not ok - $what"; failures=$((failures + 1)); fi
}

# 1. In order: 10_ after 2_ (numbers, not names), every file recorded.
cp "$top_srcdir"/examples/migrate/sql/*.sql "$work/"
cat >"$work/10_index.sql" <<'SQL'
CREATE INDEX bands_popularity ON bands (popularity);
SQL
out=$("$migrate" "$conninfo" "$work" 2>&1); rc=$?
echo "$out"
check "first run exits 0" [ "$rc" -eq 0 ]
check "first run applies 4 files" grep -q '^4 applied, 0 already applied$' <<<"$out"
check "applied in numeric order" [ "$(grep '^applied' <<<"$out" | cut -d' ' -f2 | tr '\n' ' ')" = \
  "001_bands.sql 002_balances.sql 003_seed.sql 10_index.sql " ]
check "schema in place" [ "$(sql 'SELECT sum(balance) FROM bands')" = 3000 ]
check "4 rows in pge_migrations" [ "$(sql 'SELECT count(*) FROM pge_migrations')" = 4 ]

# 2. A re-run applies nothing.
out=$("$migrate" "$conninfo" "$work" 2>&1); rc=$?
echo "$out"
check "re-run exits 0" [ "$rc" -eq 0 ]
check "re-run applies nothing" grep -q '^0 applied, 4 already applied$' <<<"$out"
check "seed not inserted twice" [ "$(sql 'SELECT count(*) FROM bands')" = 3 ]

# 3. A failing file rolls back alone: its first statements are undone, the
# file after it never runs, the earlier ones stay.
cat >"$work/11_bad.sql" <<'SQL'
CREATE TABLE half_done (n int);
INSERT INTO bands (name) VALUES ('Never Committed');
SELECT 1 / 0;
SQL
cat >"$work/12_after.sql" <<'SQL'
CREATE TABLE after_bad (n int);
SQL
out=$("$migrate" "$conninfo" "$work" 2>&1); rc=$?
echo "$out"
check "failing run exits 1" [ "$rc" -eq 1 ]
check "names the file" grep -q '11_bad.sql failed, rolled back' <<<"$out"
check "gives the server's message" grep -q 'division by zero' <<<"$out"
check "gives the SQLSTATE" grep -q 'SQLSTATE 22012' <<<"$out"
check "failed file rolled back" [ "$(sql "SELECT to_regclass('half_done') IS NULL AND NOT EXISTS (SELECT 1 FROM bands WHERE name = 'Never Committed')")" = t ]
check "next file not applied" [ "$(sql "SELECT to_regclass('after_bad') IS NULL")" = t ]
check "failed file not recorded" [ "$(sql 'SELECT count(*) FROM pge_migrations')" = 4 ]

# 4. Fixed, the next run starts at that file.
sed -i 's|SELECT 1 / 0;|SELECT 1;|' "$work/11_bad.sql"
out=$("$migrate" "$conninfo" "$work" 2>&1); rc=$?
echo "$out"
check "after the fix: 2 applied" grep -q '^2 applied, 4 already applied$' <<<"$out"
check "both tables now there" [ "$(sql "SELECT to_regclass('half_done') IS NOT NULL AND to_regclass('after_bad') IS NOT NULL")" = t ]

# 5. Bad input: a missing directory is a clear error, exit 2.
out=$("$migrate" "$conninfo" "$work/nonexistent" 2>&1); rc=$?
check "missing directory: exit 2 with a message" [ "$rc" -eq 2 ]
check "missing directory: message names it" grep -q 'nonexistent' <<<"$out"

[ "$failures" -eq 0 ] && echo "PASS: migrate" || echo "FAIL: migrate ($failures checks)"
exit $(( failures > 0 ))
