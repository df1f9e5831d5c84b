#!/bin/bash
# test-example-export-csv.sh — examples/export-csv/pge-export-csv on a
# throwaway cluster (or PGE_TEST_CONNINFO): exports 200 000 rows with
# awkward values and checks every row against the table (parsed as CSV,
# plus the raw form of quotes, NULL and empty strings); checks that the
# max RSS of that export stays within 5 MB of a 20 000-row export (memory
# bounded by the batch, not the table; skipped under sanitizers, whose
# allocator keeps freed memory); draws a progress bar on a terminal; and
# gives clear errors for an unknown table and bad arguments.
# Exit 0 pass, 1 fail, 77 skipped.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
top_srcdir=${PGE_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export_csv=${PGE_EXPORT_CSV:-$PWD/examples/export-csv/pge-export-csv}
[ -x "$export_csv" ] || { echo "SKIP: no $export_csv"; exit 77; }
command -v psql >/dev/null && command -v python3 >/dev/null || { echo "SKIP: no psql or python3"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pge-export-XXXXXX")
cluster=
cleanup() {
  [ -z "$cluster" ] || "$top_srcdir/tools/pge-cluster" stop "$cluster" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
conninfo=${PGE_TEST_CONNINFO:-}
if [ -z "$conninfo" ]; then
  cluster=$(mktemp -d "${TMPDIR:-/tmp}/pge-export-cluster-XXXXXX")
  conninfo=$("$top_srcdir/tools/pge-cluster" start "$cluster") || { echo "FAIL: no cluster"; exit 1; }
fi
db="pge_export_$$"
psql -X -q "$conninfo" -c "CREATE DATABASE $db" || { echo "FAIL: create database"; exit 1; }
conninfo="$conninfo dbname=$db"
trap 'psql -X -q "${conninfo% dbname=*}" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; cleanup' EXIT
failures=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok - $what"; else echo "not ok - $what"; failures=$((failures + 1)); fi
}

# Every 7th note has a quote and a comma, every 11th a newline, every 13th
# is NULL, every 17th is empty; names carry UTF-8 and a 100-byte tail.
for n in 20000 200000; do
  psql -X -q "$conninfo" -v ON_ERROR_STOP=1 <<SQL || { echo "FAIL: fill big_$n"; exit 1; }
CREATE TABLE "big_$n" (id int PRIMARY KEY, name text, note text, amount numeric);
INSERT INTO "big_$n"
SELECT g, 'bänd ' || g || ' ' || repeat('x', 100),
       CASE WHEN g % 13 = 0 THEN NULL
            WHEN g % 17 = 0 THEN ''
            WHEN g % 11 = 0 THEN 'line one' || chr(10) || 'line "two"'
            WHEN g % 7 = 0 THEN 'say "hi", then go'
            ELSE 'plain ' || g END,
       g / 100.0
FROM generate_series(1, $n) g;
ANALYZE "big_$n";
SQL
done

rss() { sed -n 's/.*max RSS \([0-9]*\) kB.*/\1/p' "$1"; }
"$export_csv" "$conninfo" big_20000 "$work/20k.csv" 2>"$work/20k.err" </dev/null
check "20k export exits 0" [ $? -eq 0 ]
"$export_csv" "$conninfo" big_200000 "$work/200k.csv" 2>"$work/200k.err" </dev/null
check "200k export exits 0" [ $? -eq 0 ]
cat "$work/20k.err" "$work/200k.err"
check "summary says 200000 rows" grep -q ' 200000 rows in ' "$work/200k.err"

# Content: the CSV, parsed, equals the table as PostgreSQL's own COPY
# writes it (NULL and '' told apart by the raw checks below).
psql -X -q "$conninfo" -c 'COPY (SELECT * FROM big_200000) TO STDOUT (FORMAT csv, HEADER)' >"$work/expected.csv"
python3 - "$work/200k.csv" "$work/expected.csv" <<'PY'
import csv, sys
def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = list(csv.reader(f))
    return r[0], sorted(r[1:], key=lambda row: int(row[0]))
got_h, got = rows(sys.argv[1]); exp_h, exp = rows(sys.argv[2])
assert got_h == exp_h == ["id", "name", "note", "amount"], (got_h, exp_h)
assert len(got) == 200000, len(got)
bad = [i for i, (a, b) in enumerate(zip(got, exp)) if a != b]
assert not bad, ("first differing row", got[bad[0]], exp[bad[0]])
raw = open(sys.argv[1], newline="", encoding="utf-8").read()
assert raw.count("\r\n") >= 200001, "CRLF line ends"
assert '\r\n13,bänd 13 ' + 'x' * 100 + ',,0.13000000000000000000\r\n' in raw, "NULL is an empty unquoted field"
assert '\r\n17,bänd 17 ' + 'x' * 100 + ',"",0.17000000000000000000\r\n' in raw, "empty string is \"\""
assert ',"say ""hi"", then go",' in raw, "quotes doubled, comma quoted"
assert ',"line one\nline ""two""",' in raw, "newline quoted"
print("content: 200000 rows equal to the table; NULL, '', quotes, commas, newlines as RFC 4180")
PY
check "CSV content matches the table" [ $? -eq 0 ]

# Memory bounded by the batch: 10 times the rows, about the same RSS.
asan=no
for b in "$(dirname "$export_csv")/.libs/$(basename "$export_csv")" "$export_csv"; do
  [ -f "$b" ] && grep -q __asan_init "$b" 2>/dev/null && asan=yes
done
r20=$(rss "$work/20k.err"); r200=$(rss "$work/200k.err")
echo "max RSS: 20k rows $r20 kB, 200k rows $r200 kB (CSV sizes $(stat -c %s "$work/20k.csv") and $(stat -c %s "$work/200k.csv") bytes)"
if [ "$asan" = yes ]; then
  echo "ok - RSS bound skipped under sanitizers"
else
  check "200k export's max RSS within 5 MB of the 20k one" [ -n "$r20" ] && [ -n "$r200" ] && [ $((r200 - r20)) -lt 5120 ]
fi

# Progress bar on a terminal (script(1) gives the program a pty).
if command -v script >/dev/null; then
  script -qec "'$export_csv' --batch-size 500 '$conninfo' big_20000 '$work/tty.csv'" /dev/null >"$work/tty.out" 2>&1
  check "progress bar on a terminal: percent, rows/s, ETA" grep -q '100.0% \[#*\] 20000/20000 rows .* rows/s  ETA' "$work/tty.out"
  check "no progress bar when stderr is not a terminal" bash -c "! grep -q ETA '$work/200k.err'"
fi

# --query, and stdout.
"$export_csv" --query "SELECT id, note FROM big_20000 WHERE id <= 3 ORDER BY id" "$conninfo" - >"$work/q.csv" 2>/dev/null
check "--query to stdout" [ "$(cat "$work/q.csv")" = "$(printf 'id,note\r\n1,plain 1\r\n2,plain 2\r\n3,plain 3\r')" ]

# Bad input: clear errors, no file half-written as success.
out=$("$export_csv" "$conninfo" no_such_table "$work/x.csv" 2>&1); rc=$?
check "unknown table: exit 1 with the server's message" [ "$rc" -eq 1 ]
check "unknown table: message" grep -q 'relation "no_such_table" does not exist' <<<"$out"
out=$("$export_csv" --batch-size 0 "$conninfo" big_20000 "$work/x.csv" 2>&1); rc=$?
check "batch size 0: usage, exit 2" [ "$rc" -eq 2 ]
out=$("$export_csv" "$conninfo" big_20000 /nonexistent-dir/x.csv 2>&1); rc=$?
check "unwritable output: exit 1 naming it" [ "$rc" -eq 1 ] && grep -q nonexistent-dir <<<"$out"

[ "$failures" -eq 0 ] && echo "PASS: export-csv" || echo "FAIL: export-csv ($failures checks)"
exit $(( failures > 0 ))
