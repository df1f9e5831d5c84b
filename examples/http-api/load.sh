#!/bin/bash
# load.sh — drives examples/http-api with wrk and checks the books.
#
#   load.sh CONNINFO [SECONDS] [CONNECTIONS]     (default 10 s, 16 connections)
#
# Creates the schema of examples/migrate/sql afresh in the database
# CONNINFO names (DROPs bands and transfers there!) with 100 bands of
# balance 1000, starts pge-http-api on a free 127.0.0.1 port, runs wrk
# (2 threads, load.lua: 60% transfers, 2% new bands, 38% reads) and prints
# requests/s, latency p50/p99 and errors. Then checks that no request
# failed and that the balances add up: the total is still 100000 and each
# band's balance is 1000 (0 for new bands) plus its transfers in minus out.
# Meanwhile it scrapes /metrics twice a second (curl), and once after the
# load, and check-metrics.py (python3) checks the scrapes and prints the
# engine's acquire and run time percentiles.
# Exit 0 only if all of these hold. $PGE_HTTP_API names the server binary
# (default: pge-http-api next to this script, then on PATH).
set -u
here=$(cd "$(dirname "$0")" && pwd)
conninfo=${1:?usage: load.sh CONNINFO [SECONDS] [CONNECTIONS]}
seconds=${2:-10}
connections=${3:-16}
server=${PGE_HTTP_API:-$here/pge-http-api}
[ -x "$server" ] || server=$(command -v pge-http-api) || { echo "load.sh: no pge-http-api"; exit 2; }
command -v wrk >/dev/null || { echo "load.sh: wrk is not installed (apt-get install wrk)"; exit 2; }

sql() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -v ON_ERROR_STOP=1 "$conninfo" "$@"; }
sql -c 'DROP TABLE IF EXISTS transfers, bands' || exit 2
cat "$here"/../migrate/sql/001_bands.sql "$here"/../migrate/sql/002_balances.sql | sql -f - || exit 2
sql -c "INSERT INTO bands (name, balance) SELECT 'seed ' || g, 1000 FROM generate_series(1, 100) g" || exit 2

out=$(mktemp "${TMPDIR:-/tmp}/pge-http-api-XXXXXX")
"$server" --threads 8 "$conninfo" >"$out" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q '^listening on' "$out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$out")
[ -n "$url" ] || { echo "load.sh: the server did not start:"; cat "$out"; exit 2; }
echo "server: $(head -1 "$out")"

scrapes=$(mktemp -d "${TMPDIR:-/tmp}/pge-http-metrics-XXXXXX")
trap 'kill "$pid" 2>/dev/null; rm -rf "$out" "$scrapes"' EXIT
scrape() { curl -sf --max-time 10 "$url/metrics" >"$scrapes/$(printf %04d "$1")" || echo "load.sh: scrape $1 failed"; }
(
  n=0
  end=$((SECONDS + seconds))
  while [ "$SECONDS" -lt "$end" ]; do sleep 0.5; n=$((n + 1)); scrape "$n"; done
) &
scraper=$!
result=$(wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s "$here/load.lua" "$url" 2>&1)
wait "$scraper"
scrape 9999
status=0
kill -TERM "$pid"; wait "$pid" || { echo "load.sh: the server exited with an error"; status=1; }
trap 'rm -rf "$out" "$scrapes"' EXIT
line=$(grep '^RESULT ' <<<"$result")
[ -n "$line" ] || { echo "load.sh: wrk gave no result:"; echo "$result"; exit 1; }
val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
echo "wrk: $seconds s, $connections connections, 2 threads on 127.0.0.1"
echo "requests/s: $(val rps)   latency p50: $(val p50_ms) ms   p99: $(val p99_ms) ms   errors: $(val errors)   ($(val requests) requests)"
echo "$(tail -1 "$out")"
if [ "$(val errors)" != 0 ]; then
  echo "FAIL: $(val errors) requests failed ($(val non2xx) non-2xx)"; status=1
fi
if [ "$(ls "$scrapes" | wc -l)" -lt 3 ]; then
  echo "FAIL: metrics: only $(ls "$scrapes" | wc -l) scrapes of /metrics"; status=1
elif command -v python3 >/dev/null; then
  python3 "$here/check-metrics.py" "$scrapes"/* || status=1
fi

books=$(sql <<'SQL'
SELECT (SELECT sum(balance) FROM bands) || ' ' ||
       (SELECT count(*) FROM bands b WHERE b.balance <>
          (CASE WHEN b.name LIKE 'seed %' THEN 1000 ELSE 0 END)
          + coalesce((SELECT sum(amount) FROM transfers WHERE to_band = b.id AND status = 'done'), 0)
          - coalesce((SELECT sum(amount) FROM transfers WHERE from_band = b.id AND status = 'done'), 0)) || ' ' ||
       (SELECT count(*) FROM transfers WHERE status = 'done') || ' ' ||
       (SELECT count(*) FROM transfers WHERE status = 'declined') || ' ' ||
       (SELECT count(*) FROM bands)
SQL
)
read -r total wrong done declined bands <<<"$books"
if [ "$total" = 100000 ] && [ "$wrong" = 0 ] && [ "${done:-0}" -gt 0 ]; then
  echo "balances: add up (total $total over $bands bands; each = start + $done transfers in - out; $declined declined)"
else
  echo "FAIL: balances do not add up: total ${total:-?} (want 100000), $wrong bands off their ledger, $done transfers"
  status=1
fi
exit $status
