#!/bin/bash
# test-gtk-viewer.sh — runs examples/gtk-viewer under Xvfb: creates a table
# of N rows, starts the viewer with --screenshot, checks that it printed
# "rows: N" (every chunk of the cursor loaded into the PgeBatchModel that
# the GtkColumnView shows) and wrote a non-empty PNG, then exits 0 (pass),
# 1 (fail) or 77 (skipped: no Xvfb or no viewer).
#
# Uses the server PGE_TEST_CONNINFO names, or a throwaway cluster started
# with tools/pge-cluster. The viewer binary is $PGE_VIEWER (default
# examples/gtk-viewer/pge-viewer under the current directory, the build
# tree when `make check` runs it). The screenshot is kept as
# tests/gtk-viewer-screenshot.png.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
top_srcdir=${PGE_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
viewer=${PGE_VIEWER:-examples/gtk-viewer/pge-viewer}
screenshot=${PGE_VIEWER_SHOT:-$PWD/tests/gtk-viewer-screenshot.png}
rows=1234
page=100

command -v Xvfb >/dev/null || { echo "SKIP: no Xvfb"; exit 77; }
[ -x "$viewer" ] || { echo "SKIP: no $viewer"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pge-gtk-XXXXXX")
cluster=
xvfb_pid=
cleanup() {
  [ -z "$xvfb_pid" ] || kill "$xvfb_pid" 2>/dev/null
  [ -z "$cluster" ] || "$top_srcdir/tools/pge-cluster" stop "$cluster" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

conninfo=${PGE_TEST_CONNINFO:-}
if [ -z "$conninfo" ]; then
  # Its own directory, not under $work (0700): as root the server runs as
  # the postgres user, who must be able to reach it.
  cluster=$(mktemp -d "${TMPDIR:-/tmp}/pge-gtk-cluster-XXXXXX")
  conninfo=$("$top_srcdir/tools/pge-cluster" start "$cluster") || { echo "FAIL: no cluster"; exit 1; }
fi

psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1)
[ -n "$psql" ] || { echo "SKIP: no psql"; exit 77; }
table=gtk_viewer_$$
"$psql" -X -q -v ON_ERROR_STOP=1 "$conninfo" <<SQL || { echo "FAIL: cannot create the table"; exit 1; }
CREATE TABLE $table (id int PRIMARY KEY, name text, amount numeric(10,2), added date);
INSERT INTO $table
  SELECT g, 'item ' || g, round((g * 3.7)::numeric % 1000, 2), date '2024-01-01' + g % 365
  FROM generate_series(1, $rows) g;
SQL
drop_table() { "$psql" -X -q "$conninfo" -c "DROP TABLE IF EXISTS $table" >/dev/null 2>&1; }

# A free display number: the first whose lock file is absent.
display=
for n in $(seq 99 199); do
  if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then display=$n; break; fi
done
[ -n "$display" ] || { drop_table; echo "FAIL: no free X display"; exit 1; }
Xvfb ":$display" -screen 0 1024x768x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done

rm -f "$screenshot"
mkdir -p "$(dirname "$screenshot")"
# The cairo renderer needs no GL, which Xvfb may not have.
DISPLAY=":$display" GDK_BACKEND=x11 GSK_RENDERER=cairo NO_AT_BRIDGE=1 GTK_A11Y=none \
  timeout 60 "$viewer" --conninfo="$conninfo" --table="$table" --page-size=$page \
  --screenshot="$screenshot" >"$work/out" 2>"$work/err"
status=$?
drop_table
cat "$work/out"
sed 's/^/# /' "$work/err"

if [ "$status" -ne 0 ]; then echo "FAIL: the viewer exited with $status"; exit 1; fi
if ! grep -qx "rows: $rows" "$work/out"; then echo "FAIL: expected \"rows: $rows\""; exit 1; fi
if [ ! -s "$screenshot" ] || [ "$(head -c 8 "$screenshot" | od -An -tx1 | tr -d ' \n')" != 89504e470d0a1a0a ]; then
  echo "FAIL: no PNG screenshot at $screenshot"; exit 1
fi
echo "PASS: $rows rows shown; screenshot $screenshot"
exit 0
