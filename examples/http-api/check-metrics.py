#!/usr/bin/env python3
"""check-metrics.py — checks scrapes of pge-http-api's /metrics taken under load.

    check-metrics.py SCRAPE...        (oldest first; the last one taken after the load)

Each scrape must be valid Prometheus text (0.0.4): `# HELP`/`# TYPE`
comments and `name{labels} value` samples; each histogram's buckets
cumulative, its +Inf bucket equal to its _count; counters never going down
from one scrape to the next; jobs and requests counted (every request but
the scrapes acquires a connection at least once). Prints the acquire and run time
percentiles the engine saw. Exit 0 when every check holds.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import re
import sys

SAMPLE = re.compile(r'^([a-z_]+)(\{([^}]*)\})? ([0-9.e+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def parse(path):
    samples, types = {}, {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("# HELP "):
                continue
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                types[name] = kind
                continue
            m = SAMPLE.match(line)
            if not m:
                raise ValueError("%s:%d: not a sample: %r" % (path, n, line))
            labels = tuple(sorted(LABEL.findall(m.group(3) or "")))
            samples[(m.group(1), labels)] = float(m.group(4))
    return samples, types


def histograms(samples, types):
    """{(name, node labels): [(le, cumulative count)], _count, _sum}"""
    out = {}
    for (name, labels), value in samples.items():
        if not name.endswith("_bucket") or types.get(name[:-7]) != "histogram":
            continue
        base = name[:-7]
        rest = tuple(l for l in labels if l[0] != "le")
        le = dict(labels)["le"]
        h = out.setdefault((base, rest), {"buckets": []})
        h["buckets"].append((float("inf") if le == "+Inf" else float(le), value))
    for (base, rest), h in out.items():
        h["buckets"].sort()
        h["count"] = samples[(base + "_count", rest)]
        h["sum"] = samples[(base + "_sum", rest)]
    return out


def quantile(h, q):
    count = h["count"]
    if count == 0:
        return None
    rank, lower, seen = q * count, 0.0, 0.0
    for le, cumulative in h["buckets"]:
        if cumulative >= rank and cumulative > seen:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (rank - seen) / (cumulative - seen)
        lower, seen = le, cumulative
    return lower


def main(paths):
    failures = []
    scrapes = [parse(p) for p in paths]
    for path, (samples, types) in zip(paths, scrapes):
        for key, h in histograms(samples, types).items():
            counts = [c for _, c in h["buckets"]]
            if counts != sorted(counts):
                failures.append("%s: %s buckets not cumulative" % (path, key))
            if h["buckets"][-1] != (float("inf"), h["count"]):
                failures.append("%s: %s +Inf bucket %s != count %s" % (path, key, h["buckets"][-1], h["count"]))
    for (old, types), (new, _) in zip(scrapes, scrapes[1:]):
        for key, value in old.items():
            kind = types.get(key[0]) or types.get(re.sub(r'_(bucket|sum|count)$', '', key[0]))
            if kind in ("counter", "histogram") and new.get(key, -1) < value:
                failures.append("counter %s went down: %s -> %s" % (key, value, new.get(key)))
    last, types = scrapes[-1]
    node = (("node", "primary"),)
    jobs = last[("pge_jobs_completed_total", node)] + last[("pge_jobs_failed_total", node)]
    requests = last[("pge_http_requests_total", ())]
    if not requests > len(paths):
        failures.append("no load seen: %d requests" % requests)
    if jobs < requests - len(paths):
        failures.append("%d jobs for %d requests (%d scrapes)" % (jobs, requests, len(paths)))
    busy = max(s[("pge_busy_workers", node)] for s, _ in scrapes)
    queued = max(s[("pge_queued_requests", node)] for s, _ in scrapes)
    hist = histograms(last, types)
    # Every request but a scrape acquires a connection at least once (a
    # transfer's transaction once, however many statements it runs); every
    # job but a transaction's pin is timed as it runs.
    for timer, least in (("acquire", requests - len(paths)), ("run", jobs / 2)):
        h = hist[("pge_%s_seconds" % timer, node)]
        if h["count"] < least:
            failures.append("%s: %d timed, fewer than %d" % (timer, h["count"], least))
        print("engine %s time: %d timed, mean %.2f ms, p50 %.2f ms, p99 %.2f ms"
              % (timer, h["count"], 1000 * h["sum"] / max(h["count"], 1),
                 1000 * quantile(h, 0.5), 1000 * quantile(h, 0.99)))
    print("engine: %d jobs, %d pipelined, statement cache %d hits / %d misses, %d connects; "
          "%d scrapes saw at most %d busy, %d queued"
          % (jobs, last[("pge_pipelined_statements_total", node)],
             last[("pge_statement_cache_hits_total", node)], last[("pge_statement_cache_misses_total", node)],
             last[("pge_connects_total", node)], len(paths), busy, queued))
    for f in failures:
        print("FAIL: metrics: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
