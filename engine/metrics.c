/* metrics.c — PgeMetrics: timers, histograms and counters per node; and
 * pge_engine_get_stats(), whose outcome counts are the same sums.
 *
 * Counting (meter.c, below the scheduler) is done where work happens,
 * at a few points: a job's start and
 * end (dispatch.c: acquire wait and run time, pipelined statements), a
 * connection attempt (dispatch.c); the statement cache (statements.c)
 * keeps its own hit and miss counters per connection, which a snapshot
 * reads through pge_connection_add_cache_counts(). Each slot has its own cells (pool-private.h) and each has one writer at
 * a time, the holder of the slot (pool.c's rule for everything about a
 * connection), so a count is a relaxed load and store — no locked
 * instruction, no shared cache line between slots. A snapshot loads every
 * cell relaxed and sums the slots, under the pool's queue_lock (which
 * guards the slot list and the gauges: workers, busy, queued). A slot
 * taken out of a pool for good leaves its counts in the pool's
 * `metrics_retired` (pge_metrics_retire_slot_locked()).
 *
 * Reset keeps the cells (their writers are on other threads) and records
 * the current sums as the pool's baseline instead, under queue_lock;
 * snapshots subtract it.
 *
 * Threads: every function here may be called from any thread. A
 * PgeMetrics is an immutable snapshot, reference-counted.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "engine-private.h"
#include "scheduler-private.h"
#include "errors-private.h"
#include "metrics-private.h"

struct _PgeMetrics {
  gatomicrefcount   ref;
  char             *node;     /* NULL: the sum over all nodes */
  PgeMetricsFigures figures;
};

static const char *const timer_names[] = { "acquire", "run", "connect" };

/* ------------------------------------------------------------- snapshots */

static guint64
load (const guint64 *cell)
{
  return __atomic_load_n (cell, __ATOMIC_RELAXED);
}

/* The count is the buckets' sum as read here: the holder adds to the
 * cells one by one while readers load them, so a count kept apart could
 * be one ahead of the buckets in a snapshot (a Prometheus histogram whose
 * +Inf bucket is not its count). */
static void
add_timer (PgeTimerCells *sum, const PgeTimerCells *cells)
{
  sum->sum_us += load (&cells->sum_us);
  for (guint b = 0; b < PGE_METRICS_N_BUCKETS; b++)
    {
      guint64 n = load (&cells->buckets[b]);

      sum->buckets[b] += n;
      sum->count += n;
    }
}

static void add_figures (PgeMetricsFigures *sum, const PgeMetricsFigures *figures);

/* Adds what @slot counted to @out. */
static void
add_slot (PgeMetricsFigures *out, PgeSlot *slot)
{
  guint64 *c = out->counters;

  for (guint t = 0; t < G_N_ELEMENTS (out->timers); t++)
    add_timer (&out->timers[t], &slot->metrics.timers[t]);
  c[PGE_COUNTER_CONNECTS] += load (&slot->metrics.n_connects);
  c[PGE_COUNTER_CONNECT_ERRORS] += load (&slot->metrics.n_connect_errors);
  c[PGE_COUNTER_PIPELINED] += load (&slot->metrics.n_pipelined);
  c[PGE_COUNTER_COMPLETED] += load (&slot->metrics.n_completed);
  c[PGE_COUNTER_FAILED] += load (&slot->metrics.n_failed);
  pge_connection_add_cache_counts (slot->conn, &c[PGE_COUNTER_CACHE_HITS], &c[PGE_COUNTER_CACHE_MISSES]);
}

/* Under queue_lock (which guards the slot list of a pool that grows and
 * shrinks): the cumulative figures of @pool since it started, retired
 * slots included. Gauges are left 0. */
static void
read_cumulative_locked (PgePool *pool, PgeMetricsFigures *out)
{
  *out = pool->metrics_retired;
  out->counters[PGE_COUNTER_COMPLETED] += load (&pool->counters.n_completed);
  out->counters[PGE_COUNTER_FAILED] += load (&pool->counters.n_failed);
  for (guint i = 0; i < pool->slots->len; i++)
    add_slot (out, pool->slots->pdata[i]);
}

/* Under queue_lock, for the code that takes @slot out of pool->slots for
 * good (a pool that shrinks): its counts stay in the pool's. */
void
pge_metrics_retire_slot_locked (PgePool *pool, PgeSlot *slot)
{
  PgeMetricsFigures figures = { { 0 } };

  add_slot (&figures, slot);
  add_figures (&pool->metrics_retired, &figures);
}

static guint64
minus (guint64 a, guint64 b)
{
  return a > b ? a - b : 0;
}

static void
subtract (PgeMetricsFigures *figures, const PgeMetricsFigures *base)
{
  for (guint i = 0; i < PGE_METRICS_N_COUNTERS; i++)
    figures->counters[i] = minus (figures->counters[i], base->counters[i]);
  for (guint t = 0; t < G_N_ELEMENTS (figures->timers); t++)
    {
      figures->timers[t].count = minus (figures->timers[t].count, base->timers[t].count);
      figures->timers[t].sum_us = minus (figures->timers[t].sum_us, base->timers[t].sum_us);
      for (guint b = 0; b < PGE_METRICS_N_BUCKETS; b++)
        figures->timers[t].buckets[b] = minus (figures->timers[t].buckets[b], base->timers[t].buckets[b]);
    }
}

/* @pool's figures since its last reset, gauges included. */
static void
read_pool (PgePool *pool, PgeMetricsFigures *out)
{
  g_mutex_lock (&pool->queue_lock);
  read_cumulative_locked (pool, out);
  subtract (out, &pool->metrics_base);
  out->counters[PGE_COUNTER_WORKERS] = pool->slots->len;
  out->counters[PGE_COUNTER_BUSY] = pool->n_busy;
  out->counters[PGE_COUNTER_QUEUED] = pool->queue.length + pool->n_deferred;
  g_mutex_unlock (&pool->queue_lock);
}

static void
add_figures (PgeMetricsFigures *sum, const PgeMetricsFigures *figures)
{
  for (guint i = 0; i < PGE_METRICS_N_COUNTERS; i++)
    sum->counters[i] += figures->counters[i];
  for (guint t = 0; t < G_N_ELEMENTS (sum->timers); t++)
    {
      sum->timers[t].count += figures->timers[t].count;
      sum->timers[t].sum_us += figures->timers[t].sum_us;
      for (guint b = 0; b < PGE_METRICS_N_BUCKETS; b++)
        sum->timers[t].buckets[b] += figures->timers[t].buckets[b];
    }
}

static PgeMetrics *
metrics_new (const char *node)
{
  PgeMetrics *metrics = g_new0 (PgeMetrics, 1);

  g_atomic_ref_count_init (&metrics->ref);
  metrics->node = g_strdup (node);
  return metrics;
}

/**
 * pge_engine_get_metrics:
 * @engine: a #PgeEngine
 * @node: (nullable): a node name (`"primary"`, or one given to
 *   pge_config_add_replica() or pge_config_add_node()), or %NULL for the
 *   sum over all nodes
 * @error: return location for a #GError
 *
 * Takes a snapshot of @engine's metrics: acquire, run and connect times
 * (count, sum, histogram, percentiles), connects and connect errors,
 * calls queued now, pipelined statements, statement cache hits and
 * misses. Counting costs the engine a few plain stores per job; this call
 * sums every connection's counters. Never blocks for long; thread-safe.
 *
 * Returns: (transfer full) (nullable): a snapshot, or %NULL with @error
 *   set (%PGE_ERROR_INVALID_ARGUMENT for an unknown node)
 *
 * Since: 1.2
 */
PgeMetrics *
pge_engine_get_metrics (PgeEngine *engine, const char *node, GError **error)
{
  g_autoptr(PgeMetrics) metrics = NULL;
  GPtrArray *pools;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  metrics = metrics_new (node);
  if (node != NULL)
    {
      PgePool *pool = pge_engine_get_node (engine, node);

      if (pool == NULL)
        {
          g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "no node named \"%s\"", node);
          return NULL;
        }
      read_pool (pool, &metrics->figures);
      return g_steal_pointer (&metrics);
    }
  pools = pge_engine_get_pools (engine);
  for (guint i = 0; i < pools->len; i++)
    {
      PgeMetricsFigures figures;

      read_pool (pools->pdata[i], &figures);
      add_figures (&metrics->figures, &figures);
    }
  return g_steal_pointer (&metrics);
}

/**
 * pge_engine_reset_metrics:
 * @engine: a #PgeEngine
 *
 * Starts every counter and timer of pge_engine_get_metrics() again from
 * zero, on every node (the gauges — workers, busy, queued — are values
 * now and stay). pge_engine_get_stats() is not affected. Never blocks for
 * long; thread-safe.
 *
 * Since: 1.2
 */
void
pge_engine_reset_metrics (PgeEngine *engine)
{
  GPtrArray *pools;

  g_return_if_fail (PGE_IS_ENGINE (engine));
  pools = pge_engine_get_pools (engine);
  for (guint i = 0; i < pools->len; i++)
    {
      PgePool *pool = pools->pdata[i];

      g_mutex_lock (&pool->queue_lock);
      read_cumulative_locked (pool, &pool->metrics_base);
      g_mutex_unlock (&pool->queue_lock);
    }
}

/* Adds @pool's figures to @stats: the gauges, and the outcomes as the
 * metrics count them (read_cumulative_locked(), so the two never
 * disagree on what a completed job is), since the pool started. */
static void
add_stats (PgePool *pool, PgeStats *stats)
{
  PgeMetricsFigures figures;

  g_mutex_lock (&pool->queue_lock);
  read_cumulative_locked (pool, &figures);
  stats->n_workers += pool->slots->len;
  stats->n_busy += pool->n_busy;
  stats->n_pinned += pool->n_pinned;
  stats->queue_length += pool->queue.length + pool->n_deferred;
  g_mutex_unlock (&pool->queue_lock);
  stats->n_completed += figures.counters[PGE_COUNTER_COMPLETED];
  stats->n_failed += figures.counters[PGE_COUNTER_FAILED];
  stats->n_reconnects += load (&pool->n_reconnects);
}

/**
 * pge_engine_get_stats:
 * @engine: a #PgeEngine
 * @stats: (out caller-allocates): filled with a snapshot of the counters,
 *   summed over all nodes
 *
 * Unlike pge_engine_get_metrics(), counts since the engine started:
 * pge_engine_reset_metrics() does not touch them. Never blocks for long;
 * thread-safe.
 *
 * Since: 1.0
 */
void
pge_engine_get_stats (PgeEngine *engine, PgeStats *stats)
{
  GPtrArray *pools;

  g_return_if_fail (PGE_IS_ENGINE (engine));
  g_return_if_fail (stats != NULL);
  *stats = (PgeStats) { 0 };
  pools = pge_engine_get_pools (engine);
  for (guint i = 0; i < pools->len; i++)
    add_stats (pools->pdata[i], stats);
}

/* ------------------------------------------------------------ the type */

/**
 * PgeMetrics:
 *
 * A snapshot of an engine's metrics, for one node or all of them, made by
 * pge_engine_get_metrics(). Immutable; reference-counted; may be used
 * from any thread.
 *
 * Since: 1.2
 */

/**
 * pge_metrics_get_type:
 *
 * Returns: the boxed #GType of #PgeMetrics
 *
 * Since: 1.2
 */
G_DEFINE_BOXED_TYPE (PgeMetrics, pge_metrics, pge_metrics_ref, pge_metrics_unref)

/**
 * pge_metrics_ref:
 * @metrics: a #PgeMetrics
 *
 * Never blocks; thread-safe.
 *
 * Returns: (transfer full): @metrics
 *
 * Since: 1.2
 */
PgeMetrics *
pge_metrics_ref (PgeMetrics *metrics)
{
  g_return_val_if_fail (metrics != NULL, NULL);
  g_atomic_ref_count_inc (&metrics->ref);
  return metrics;
}

/**
 * pge_metrics_unref:
 * @metrics: (nullable): a #PgeMetrics, or %NULL
 *
 * Drops a reference; the last one frees the snapshot. Never blocks.
 *
 * Since: 1.2
 */
void
pge_metrics_unref (PgeMetrics *metrics)
{
  if (metrics == NULL || !g_atomic_ref_count_dec (&metrics->ref))
    return;
  g_free (metrics->node);
  g_free (metrics);
}

/**
 * pge_metrics_get_node:
 * @metrics: a #PgeMetrics
 *
 * Returns: (nullable): the node the snapshot is of, or %NULL for the sum
 *   over all nodes
 *
 * Since: 1.2
 */
const char *
pge_metrics_get_node (PgeMetrics *metrics)
{
  g_return_val_if_fail (metrics != NULL, NULL);
  return metrics->node;
}

/**
 * pge_metrics_get_counter:
 * @metrics: a #PgeMetrics
 * @counter: which figure
 *
 * Returns: the figure: a value now for the gauges (workers, busy,
 *   queued), else a count since the engine started or its metrics were
 *   last reset
 *
 * Since: 1.2
 */
guint64
pge_metrics_get_counter (PgeMetrics *metrics, PgeCounter counter)
{
  g_return_val_if_fail (metrics != NULL, 0);
  g_return_val_if_fail ((guint) counter < PGE_METRICS_N_COUNTERS, 0);
  return metrics->figures.counters[counter];
}

static gboolean
timer_is_valid (PgeTimer timer)
{
  return (guint) timer < G_N_ELEMENTS (timer_names);
}

/**
 * pge_metrics_get_timer_count:
 * @metrics: a #PgeMetrics
 * @timer: which timer
 *
 * Returns: how many times were measured
 *
 * Since: 1.2
 */
guint64
pge_metrics_get_timer_count (PgeMetrics *metrics, PgeTimer timer)
{
  g_return_val_if_fail (metrics != NULL, 0);
  g_return_val_if_fail (timer_is_valid (timer), 0);
  return metrics->figures.timers[timer].count;
}

/**
 * pge_metrics_get_timer_sum_us:
 * @metrics: a #PgeMetrics
 * @timer: which timer
 *
 * Returns: the sum of the times measured, in microseconds
 *
 * Since: 1.2
 */
guint64
pge_metrics_get_timer_sum_us (PgeMetrics *metrics, PgeTimer timer)
{
  g_return_val_if_fail (metrics != NULL, 0);
  g_return_val_if_fail (timer_is_valid (timer), 0);
  return metrics->figures.timers[timer].sum_us;
}

/**
 * pge_metrics_get_n_buckets:
 *
 * Returns: the number of histogram buckets of every timer (the last one
 *   has no upper bound)
 *
 * Since: 1.2
 */
guint
pge_metrics_get_n_buckets (void)
{
  return PGE_METRICS_N_BUCKETS;
}

/**
 * pge_metrics_get_bucket_bound_us:
 * @bucket: a bucket, below pge_metrics_get_n_buckets()
 *
 * Returns: the bucket's upper bound in microseconds (inclusive), or -1
 *   for the last bucket, which has none
 *
 * Since: 1.2
 */
gint64
pge_metrics_get_bucket_bound_us (guint bucket)
{
  g_return_val_if_fail (bucket < PGE_METRICS_N_BUCKETS, -1);
  return pge_metrics_bucket_bound_us (bucket);
}

/**
 * pge_metrics_get_timer_bucket:
 * @metrics: a #PgeMetrics
 * @timer: which timer
 * @bucket: a bucket, below pge_metrics_get_n_buckets()
 *
 * The histogram, cumulative as Prometheus' is: the last bucket holds
 * pge_metrics_get_timer_count().
 *
 * Returns: how many times were at most pge_metrics_get_bucket_bound_us()
 *
 * Since: 1.2
 */
guint64
pge_metrics_get_timer_bucket (PgeMetrics *metrics, PgeTimer timer, guint bucket)
{
  guint64 n = 0;

  g_return_val_if_fail (metrics != NULL, 0);
  g_return_val_if_fail (timer_is_valid (timer), 0);
  g_return_val_if_fail (bucket < PGE_METRICS_N_BUCKETS, 0);
  for (guint b = 0; b <= bucket; b++)
    n += metrics->figures.timers[timer].buckets[b];
  return n;
}

/**
 * pge_metrics_get_timer_percentile_us:
 * @metrics: a #PgeMetrics
 * @timer: which timer
 * @quantile: between 0 and 1: 0.5 for the median, 0.99 for p99
 *
 * Estimates a percentile from the histogram, interpolating linearly
 * inside the bucket it falls in (as Prometheus' histogram_quantile()
 * does); a percentile in the last bucket is given as the largest finite
 * bound.
 *
 * Returns: the estimate in microseconds, or -1 when nothing was measured
 *
 * Since: 1.2
 */
gint64
pge_metrics_get_timer_percentile_us (PgeMetrics *metrics, PgeTimer timer, double quantile)
{
  const PgeTimerCells *t;
  double rank, seen = 0;

  g_return_val_if_fail (metrics != NULL, -1);
  g_return_val_if_fail (timer_is_valid (timer), -1);
  g_return_val_if_fail (quantile >= 0 && quantile <= 1, -1);
  t = &metrics->figures.timers[timer];
  if (t->count == 0)
    return -1;
  rank = quantile * (double) t->count;
  for (guint b = 0; b < PGE_METRICS_N_BUCKETS - 1; b++)
    {
      double lower = b == 0 ? 0 : (double) pge_metrics_bucket_bound_us (b - 1);

      if (t->buckets[b] > 0 && seen + (double) t->buckets[b] >= rank)
        return (gint64) llround (lower + ((double) pge_metrics_bucket_bound_us (b) - lower) *
                                 (rank - seen) / (double) t->buckets[b]);
      seen += (double) t->buckets[b];
    }
  return pge_metrics_bucket_bound_us (PGE_METRICS_N_BUCKETS - 2);
}

/* ---------------------------------------------------------- Prometheus */

static const struct {
  PgeCounter  counter;
  const char *name;
  const char *type;
  const char *help;
} counter_info[] = {
  { PGE_COUNTER_WORKERS, "pge_workers", "gauge", "Connections (worker slots)." },
  { PGE_COUNTER_BUSY, "pge_busy_workers", "gauge", "Connections running a job now." },
  { PGE_COUNTER_QUEUED, "pge_queued_requests", "gauge", "Calls waiting for a connection now." },
  { PGE_COUNTER_COMPLETED, "pge_jobs_completed_total", "counter", "Jobs finished without error." },
  { PGE_COUNTER_FAILED, "pge_jobs_failed_total", "counter", "Jobs finished with an error." },
  { PGE_COUNTER_CONNECTS, "pge_connects_total", "counter", "Connection attempts that succeeded." },
  { PGE_COUNTER_CONNECT_ERRORS, "pge_connect_errors_total", "counter", "Connection attempts that failed." },
  { PGE_COUNTER_PIPELINED, "pge_pipelined_statements_total", "counter",
    "Statements sent in a pipeline with others." },
  { PGE_COUNTER_CACHE_HITS, "pge_statement_cache_hits_total", "counter",
    "Statements run from the statement cache." },
  { PGE_COUNTER_CACHE_MISSES, "pge_statement_cache_misses_total", "counter",
    "Statements prepared into the statement cache." },
};

static const char *const timer_help[] = {
  "Time a call waited for a connection.",
  "Time a job ran on its connection.",
  "Time a connection attempt took.",
};

/* A label value, escaped as the exposition format wants. */
static void
append_label (GString *out, const char *value)
{
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '\\' || *p == '"')
        g_string_append_c (out, '\\');
      if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

static void
format_seconds (GString *out, gint64 us)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  /* Microseconds: six significant digits lose nothing below 1 s. */
  g_string_append (out, g_ascii_formatd (buffer, sizeof buffer, us < 1000000 ? "%.6g" : "%.6f",
                                         (double) us / 1e6));
}

static void
format_timer (GString *out, PgeMetrics **nodes, guint n_nodes, PgeTimer timer)
{
  g_string_append_printf (out, "# HELP pge_%s_seconds %s\n# TYPE pge_%s_seconds histogram\n",
                          timer_names[timer], timer_help[timer], timer_names[timer]);
  for (guint i = 0; i < n_nodes; i++)
    {
      const char *node = nodes[i]->node;

      for (guint b = 0; b < PGE_METRICS_N_BUCKETS; b++)
        {
          g_string_append_printf (out, "pge_%s_seconds_bucket{node=\"", timer_names[timer]);
          append_label (out, node);
          g_string_append (out, "\",le=\"");
          if (b + 1 < PGE_METRICS_N_BUCKETS)
            format_seconds (out, pge_metrics_bucket_bound_us (b));
          else
            g_string_append (out, "+Inf");
          g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n",
                                  pge_metrics_get_timer_bucket (nodes[i], timer, b));
        }
      g_string_append_printf (out, "pge_%s_seconds_sum{node=\"", timer_names[timer]);
      append_label (out, node);
      g_string_append (out, "\"} ");
      format_seconds (out, (gint64) nodes[i]->figures.timers[timer].sum_us);
      g_string_append_printf (out, "\npge_%s_seconds_count{node=\"", timer_names[timer]);
      append_label (out, node);
      g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", nodes[i]->figures.timers[timer].count);
    }
}

/**
 * pge_engine_format_metrics:
 * @engine: a #PgeEngine
 *
 * Takes a snapshot of every node's metrics (pge_engine_get_metrics()) and
 * formats it in Prometheus' text exposition format (version 0.0.4), one
 * series per node with a `node` label: histograms `pge_acquire_seconds`,
 * `pge_run_seconds`, `pge_connect_seconds`; gauges `pge_workers`,
 * `pge_busy_workers`, `pge_queued_requests`; counters
 * `pge_jobs_completed_total`, `pge_jobs_failed_total`,
 * `pge_connects_total`, `pge_connect_errors_total`,
 * `pge_pipelined_statements_total`, `pge_statement_cache_hits_total`,
 * `pge_statement_cache_misses_total`. A `/metrics` handler serves it
 * with the content type `text/plain; version=0.0.4`. Never blocks for
 * long; thread-safe.
 *
 * Returns: (transfer full): the text, freed with g_free()
 *
 * Since: 1.2
 */
char *
pge_engine_format_metrics (PgeEngine *engine)
{
  g_autoptr(GPtrArray) nodes = NULL;
  GString *out;
  GPtrArray *pools;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  out = g_string_sized_new (8192);
  nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_metrics_unref);
  pools = pge_engine_get_pools (engine);
  for (guint i = 0; i < pools->len; i++)
    {
      PgePool *pool = pools->pdata[i];
      PgeMetrics *metrics = metrics_new (pool->name);

      read_pool (pool, &metrics->figures);
      g_ptr_array_add (nodes, metrics);
    }
  for (guint t = 0; t < G_N_ELEMENTS (timer_names); t++)
    format_timer (out, (PgeMetrics **) nodes->pdata, nodes->len, (PgeTimer) t);
  for (guint c = 0; c < G_N_ELEMENTS (counter_info); c++)
    {
      g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", counter_info[c].name,
                              counter_info[c].help, counter_info[c].name, counter_info[c].type);
      for (guint i = 0; i < nodes->len; i++)
        {
          PgeMetrics *metrics = nodes->pdata[i];

          g_string_append_printf (out, "%s{node=\"", counter_info[c].name);
          append_label (out, metrics->node);
          g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n",
                                  metrics->figures.counters[counter_info[c].counter]);
        }
    }
  return g_string_free (out, FALSE);
}
