#!/bin/bash
# test-example-http-api.sh — examples/http-api/pge-http-api on a throwaway
# cluster (or PGE_TEST_CONNINFO). First each route, good and bad input,
# one request at a time (Python's urllib): a band is created, a name
# taken twice is 409, a transfer moves money, one beyond the balance is
# declined through the savepoint (and moves nothing), bad JSON, a bad
# amount, an unknown band, path and method give 400/404/405; /metrics is
# Prometheus text that counted those requests' jobs. Then
# examples/http-api/load.sh: wrk for $PGE_HTTP_API_SECONDS (default 10) s
# while /metrics is scraped twice a second; no request may fail, the
# balances must add up and the scrapes pass check-metrics.py.
# Exit 0 pass, 1 fail, 77 skipped (no binary, wrk, psql or python3).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
top_srcdir=${PGE_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
server=${PGE_HTTP_API:-$PWD/examples/http-api/pge-http-api}
[ -x "$server" ] || { echo "SKIP: no $server"; exit 77; }
for p in wrk psql python3; do command -v $p >/dev/null || { echo "SKIP: no $p"; exit 77; }; done

cluster=
pid=
out=$(mktemp "${TMPDIR:-/tmp}/pge-http-test-XXXXXX")
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null
  [ -z "$cluster" ] || "$top_srcdir/tools/pge-cluster" stop "$cluster" >/dev/null 2>&1
  rm -f "$out"
}
trap cleanup EXIT
conninfo=${PGE_TEST_CONNINFO:-}
if [ -z "$conninfo" ]; then
  cluster=$(mktemp -d "${TMPDIR:-/tmp}/pge-http-cluster-XXXXXX")
  conninfo=$("$top_srcdir/tools/pge-cluster" start "$cluster") || { echo "FAIL: no cluster"; exit 1; }
fi
db="pge_http_$$"
psql -X -q "$conninfo" -c "CREATE DATABASE $db" || { echo "FAIL: create database"; exit 1; }
base=$conninfo
conninfo="$conninfo dbname=$db"
trap 'cleanup; psql -X -q "$base" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1' EXIT
export PGOPTIONS='-c client_min_messages=warning'
psql -X -q -v ON_ERROR_STOP=1 "$conninfo" -f "$top_srcdir/examples/migrate/sql/001_bands.sql" \
  -f "$top_srcdir/examples/migrate/sql/002_balances.sql" \
  -c "INSERT INTO bands (name, balance) VALUES ('a', 100), ('b', 100)" || { echo "FAIL: schema"; exit 1; }

"$server" --threads 4 "$conninfo" >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$out")
[ -n "$url" ] || { echo "FAIL: the server did not start"; cat "$out"; exit 1; }

python3 - "$url" <<'PY'
import json, sys, urllib.request, urllib.error
url = sys.argv[1]
failures = 0
def call(method, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
def check(what, cond):
    global failures
    print(("ok - " if cond else "not ok - ") + what)
    failures += 0 if cond else 1
def balances():
    return {b["name"]: b["balance"] for b in call("GET", "/bands")[1]}

s, b = call("POST", "/bands", {"name": "c"})
check("POST /bands: 201 with the new band, balance 0", s == 201 and b["name"] == "c" and b["balance"] == 0)
s, b = call("POST", "/bands", {"name": "c"})
check("POST /bands with a taken name: 409 with SQLSTATE 23505", s == 409 and b.get("sqlstate") == "23505")
s, b = call("GET", "/bands?limit=2")
check("GET /bands?limit=2: two bands in id order", s == 200 and [x["name"] for x in b] == ["a", "b"])
s, b = call("POST", "/transfer", {"from": 1, "to": 2, "amount": 30})
check("transfer 30 a->b: done", s == 200 and b["status"] == "done")
check("balances moved", balances() == {"a": 70, "b": 130, "c": 0})
s, b = call("POST", "/transfer", {"from": 1, "to": 2, "amount": 71})
check("transfer beyond a's balance: declined (savepoint rolled back)", s == 200 and b["status"] == "declined")
check("declined transfer moved nothing", balances() == {"a": 70, "b": 130, "c": 0})
for what, args, code in [
        ("bad JSON", dict(raw=b"{not json"), 400),
        ("body not an object", dict(raw=b"[1, 2]"), 400),
        ("amount 0", dict(body={"from": 1, "to": 2, "amount": 0}), 400),
        ("amount a string", dict(body={"from": 1, "to": 2, "amount": "5"}), 400),
        ("from == to", dict(body={"from": 1, "to": 1, "amount": 5}), 400),
        ("unknown band", dict(body={"from": 1, "to": 999, "amount": 5}), 404)]:
    s, b = call("POST", "/transfer", **args)
    check("POST /transfer, %s: %d with an error message" % (what, code), s == code and "error" in b)
check("nothing moved by the bad requests", balances() == {"a": 70, "b": 130, "c": 0})
for what, method, path, body, code in [
        ("POST /bands without a name", "POST", "/bands", {"popularity": 3}, 400),
        ("GET /bands?limit=0", "GET", "/bands?limit=0", None, 400),
        ("GET /nowhere", "GET", "/nowhere", None, 404),
        ("DELETE /bands", "DELETE", "/bands", None, 405)]:
    s, b = call(method, path, body)
    check("%s: %d" % (what, code), s == code and "error" in b)
s, b = call("POST", "/metrics", {})
check("POST /metrics: 405", s == 405 and "error" in b)
with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
    ctype, text = r.headers["Content-Type"], r.read().decode()
metrics = dict(l.rsplit(" ", 1) for l in text.splitlines() if l and not l.startswith("#"))
check("GET /metrics: Prometheus text 0.0.4", r.status == 200 and ctype.startswith("text/plain; version=0.0.4"))
acquired = (metrics.get('pge_acquire_seconds_bucket{node="primary",le="+Inf"}'),
            metrics.get('pge_acquire_seconds_count{node="primary"}'))
check("/metrics: acquire histogram, +Inf bucket = count (%s, %s)" % acquired,
      metrics.get('pge_acquire_seconds_bucket{node="primary",le="+Inf"}') ==
      metrics.get('pge_acquire_seconds_count{node="primary"}') and
      int(metrics.get('pge_acquire_seconds_count{node="primary"}', 0)) >= 8)
check("/metrics: the failed jobs of the bad requests are counted",
      int(metrics.get('pge_jobs_failed_total{node="primary"}', 0)) >= 2)
check("/metrics: the service's counters", int(metrics.get("pge_http_requests_total", 0)) >= 20)
sys.exit(1 if failures else 0)
PY
api=$?
kill -TERM "$pid"; wait "$pid"; server_rc=$?; pid=
[ "$server_rc" -eq 0 ] && echo "ok - server stops cleanly on SIGTERM" || { echo "not ok - server exit status $server_rc"; api=1; }

PGE_HTTP_API=$server bash "$top_srcdir/examples/http-api/load.sh" "$conninfo" "${PGE_HTTP_API_SECONDS:-10}" 16 2>&1
load=$?
[ "$api" -eq 0 ] && [ "$load" -eq 0 ] && echo "PASS: http-api" || echo "FAIL: http-api"
[ "$api" -eq 0 ] && [ "$load" -eq 0 ]
