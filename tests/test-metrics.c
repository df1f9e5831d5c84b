/* test-metrics.c — PgeMetrics: timers, histograms, counters per node,
 * reset, and the Prometheus text.
 *
 * Times are asserted only from below (a job held behind a gate waited at
 * least as long as the gate was closed): the machine is shared.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (metrics, .init = pge_test_engine_up, .fini = pge_test_engine_down, .timeout = 60);



static PgeMetrics *
metrics_of (PgeEngine *engine, const char *node)
{
  g_autoptr(GError) error = NULL;
  PgeMetrics *metrics = pge_engine_get_metrics (engine, node, &error);

  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_not_null (metrics);
  return metrics;
}

static void
run (PgeEngine *engine, const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
}

Test (metrics, acquire_wait_of_a_queued_call_is_timed)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  Gate gate = { 0 };
  g_autoptr(PgeFuture) held = gate_close (engine, &gate);
  g_autoptr(PgeFuture) queued = pge_engine_query (engine, "SELECT 1", NULL);
  g_autoptr(PgeMetrics) during = NULL;
  g_autoptr(PgeMetrics) after = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  during = metrics_of (engine, NULL);
  cr_assert_eq (pge_metrics_get_counter (during, PGE_COUNTER_QUEUED), 1);
  cr_assert_eq (pge_metrics_get_counter (during, PGE_COUNTER_BUSY), 1);
  g_usleep (100 * 1000);
  gate_open (&gate);
  result = pge_future_wait (queued, &error);
  cr_assert_null (error);
  after = metrics_of (engine, NULL);
  cr_assert_eq (pge_metrics_get_counter (after, PGE_COUNTER_QUEUED), 0);
  /* The gate's job and the query: two acquires, the query's >= 100 ms. */
  cr_assert_eq (pge_metrics_get_timer_count (after, PGE_TIMER_ACQUIRE), 2);
  cr_assert_geq (pge_metrics_get_timer_sum_us (after, PGE_TIMER_ACQUIRE), 100000);
  cr_assert_geq (pge_metrics_get_timer_percentile_us (after, PGE_TIMER_ACQUIRE, 1.0), 100000);
  cr_assert_eq (pge_metrics_get_timer_bucket (after, PGE_TIMER_ACQUIRE, pge_metrics_get_n_buckets () - 1), 2);
  /* 100 ms is above the 50 ms bound: one of the two is not in it. */
  for (guint b = 0; b < pge_metrics_get_n_buckets (); b++)
    if (pge_metrics_get_bucket_bound_us (b) == 50000)
      cr_assert_leq (pge_metrics_get_timer_bucket (after, PGE_TIMER_ACQUIRE, b), 1);
}

Test (metrics, run_time_and_outcomes_are_counted)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (2);
  g_autoptr(PgeResult) failed = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeMetrics) metrics = NULL;

  run (engine, "SELECT pg_sleep(0.05)");
  run (engine, "SELECT pg_sleep(0.05)");
  failed = pge_engine_query_sync (engine, "SELECT 1/0", NULL, &error);
  cr_assert_not_null (error);
  metrics = metrics_of (engine, "primary");
  cr_assert_str_eq (pge_metrics_get_node (metrics), "primary");
  cr_assert_eq (pge_metrics_get_timer_count (metrics, PGE_TIMER_RUN), 3);
  cr_assert_geq (pge_metrics_get_timer_sum_us (metrics, PGE_TIMER_RUN), 100000);
  /* Two of three took >= 50 ms: the median is at least that. */
  cr_assert_geq (pge_metrics_get_timer_percentile_us (metrics, PGE_TIMER_RUN, 0.9), 50000);
  cr_assert_eq (pge_metrics_get_counter (metrics, PGE_COUNTER_COMPLETED), 2);
  cr_assert_eq (pge_metrics_get_counter (metrics, PGE_COUNTER_FAILED), 1);
  cr_assert_eq (pge_metrics_get_counter (metrics, PGE_COUNTER_WORKERS), 2);
}

Test (metrics, connects_and_reconnects_are_counted_and_timed)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeMetrics) before = metrics_of (engine, NULL);
  g_autoptr(PgeMetrics) after = NULL;
  g_autoptr(PgeResult) pid = pge_engine_query_sync (engine, "SELECT pg_backend_pid()", NULL, NULL);

  cr_assert_eq (pge_metrics_get_counter (before, PGE_COUNTER_CONNECTS), 1);
  cr_assert_eq (pge_metrics_get_counter (before, PGE_COUNTER_CONNECT_ERRORS), 0);
  cr_assert_eq (pge_metrics_get_timer_count (before, PGE_TIMER_CONNECT), 1);
  cr_assert_gt (pge_metrics_get_timer_sum_us (before, PGE_TIMER_CONNECT), 0);
  pge_test_terminate_backend (pge_result_get_int64 (pid, 0, 0));
  /* The next call finds the connection dead and reconnects first. */
  run (engine, "SELECT 1");
  after = metrics_of (engine, NULL);
  cr_assert_eq (pge_metrics_get_counter (after, PGE_COUNTER_CONNECTS), 2);
  cr_assert_eq (pge_metrics_get_timer_count (after, PGE_TIMER_CONNECT), 2);
}

Test (metrics, each_node_has_its_own_figures)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeMetrics) gone = NULL;
  g_autoptr(PgeMetrics) primary = NULL;
  g_autoptr(PgeMetrics) all = NULL;

  /* Port 1 on loopback: nobody listens, the connect is refused at once. */
  pge_config_add_replica (config, "gone", "host=127.0.0.1 port=1 dbname=postgres", 2);
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "%s", error ? error->message : "");
  run (engine, "SELECT 1");
  gone = metrics_of (engine, "gone");
  primary = metrics_of (engine, "primary");
  all = metrics_of (engine, NULL);
  cr_assert_null (pge_metrics_get_node (all));
  cr_assert_geq (pge_metrics_get_counter (gone, PGE_COUNTER_CONNECT_ERRORS), 2);
  cr_assert_eq (pge_metrics_get_counter (gone, PGE_COUNTER_CONNECTS), 0);
  cr_assert_eq (pge_metrics_get_counter (gone, PGE_COUNTER_COMPLETED), 0);
  cr_assert_eq (pge_metrics_get_counter (gone, PGE_COUNTER_WORKERS), 2);
  cr_assert_eq (pge_metrics_get_counter (primary, PGE_COUNTER_CONNECT_ERRORS), 0);
  cr_assert_eq (pge_metrics_get_counter (primary, PGE_COUNTER_COMPLETED), 1);
  cr_assert_eq (pge_metrics_get_counter (all, PGE_COUNTER_WORKERS), 3);
  cr_assert_geq (pge_metrics_get_counter (all, PGE_COUNTER_CONNECT_ERRORS),
                 pge_metrics_get_counter (gone, PGE_COUNTER_CONNECT_ERRORS));
}

Test (metrics, statement_cache_hits_and_misses_are_counted)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeMetrics) metrics = NULL;

  for (guint i = 0; i < 5; i++)
    run (engine, "SELECT 'cached'");
  run (engine, "SELECT 'other'");
  metrics = metrics_of (engine, NULL);
  cr_assert_eq (pge_metrics_get_counter (metrics, PGE_COUNTER_CACHE_MISSES), 2);
  cr_assert_eq (pge_metrics_get_counter (metrics, PGE_COUNTER_CACHE_HITS), 4);
}

/* Eight queries queued behind a held worker: those it sends together
 * are counted as pipelined, one by one. Which go together is the
 * scheduler's choice (a waiting thread may run the first itself; a
 * statement the machine made slow is sent alone), so each round counts 0
 * or 2 to 8, and some round of five pipelines. */
static guint64
pipelined_round (PgeEngine *engine)
{
  g_autoptr(PgeMetrics) before = metrics_of (engine, NULL);
  g_autoptr(PgeMetrics) after = NULL;
  g_autoptr(PgeFuture) held = NULL;
  PgeFuture *futures[8];
  Gate gate = { 0 };

  run (engine, "SELECT 42");
  held = gate_close (engine, &gate);
  for (guint i = 0; i < G_N_ELEMENTS (futures); i++)
    futures[i] = pge_engine_query (engine, "SELECT 42", NULL);
  gate_open (&gate);
  for (guint i = 0; i < G_N_ELEMENTS (futures); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures[i], &error);

      cr_assert_null (error);
      pge_future_unref (futures[i]);
    }
  after = metrics_of (engine, NULL);
  /* Pipelined or not, every query's run is timed once. */
  cr_assert_eq (pge_metrics_get_timer_count (after, PGE_TIMER_RUN) -
                pge_metrics_get_timer_count (before, PGE_TIMER_RUN), 1 + 1 + G_N_ELEMENTS (futures));
  return pge_metrics_get_counter (after, PGE_COUNTER_PIPELINED) -
         pge_metrics_get_counter (before, PGE_COUNTER_PIPELINED);
}

Test (metrics, pipelined_statements_are_counted)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeMetrics) alone = NULL;
  guint64 pipelined = 0;

  /* Blocking calls one at a time are never pipelined. */
  for (guint i = 0; i < 5; i++)
    run (engine, "SELECT 42");
  alone = metrics_of (engine, NULL);
  cr_assert_eq (pge_metrics_get_counter (alone, PGE_COUNTER_PIPELINED), 0);
  for (guint round = 0; round < 5 && pipelined == 0; round++)
    {
      pipelined = pipelined_round (engine);
      cr_assert (pipelined == 0 || (pipelined >= 2 && pipelined <= 8), "%" G_GUINT64_FORMAT, pipelined);
    }
  cr_assert_geq (pipelined, 2, "no round of five pipelined");
}

Test (metrics, reset_starts_counters_and_timers_again_and_keeps_gauges)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (2);
  g_autoptr(PgeMetrics) before = NULL;
  g_autoptr(PgeMetrics) reset = NULL;
  g_autoptr(PgeMetrics) after = NULL;
  PgeStats stats;

  run (engine, "SELECT 1");
  run (engine, "SELECT 1");
  before = metrics_of (engine, NULL);
  cr_assert_eq (pge_metrics_get_counter (before, PGE_COUNTER_COMPLETED), 2);
  pge_engine_reset_metrics (engine);
  reset = metrics_of (engine, NULL);
  for (PgeCounter c = PGE_COUNTER_COMPLETED; c <= PGE_COUNTER_CACHE_MISSES; c++)
    cr_assert_eq (pge_metrics_get_counter (reset, c), 0, "counter %d", c);
  for (PgeTimer t = PGE_TIMER_ACQUIRE; t <= PGE_TIMER_CONNECT; t++)
    {
      cr_assert_eq (pge_metrics_get_timer_count (reset, t), 0);
      cr_assert_eq (pge_metrics_get_timer_sum_us (reset, t), 0);
      cr_assert_eq (pge_metrics_get_timer_percentile_us (reset, t, 0.5), -1);
    }
  cr_assert_eq (pge_metrics_get_counter (reset, PGE_COUNTER_WORKERS), 2);
  run (engine, "SELECT 1");
  after = metrics_of (engine, NULL);
  cr_assert_eq (pge_metrics_get_counter (after, PGE_COUNTER_COMPLETED), 1);
  cr_assert_eq (pge_metrics_get_counter (after, PGE_COUNTER_CACHE_HITS), 1);
  cr_assert_eq (pge_metrics_get_timer_count (after, PGE_TIMER_RUN), 1);
  /* The snapshot taken before is a snapshot: unchanged. */
  cr_assert_eq (pge_metrics_get_counter (before, PGE_COUNTER_COMPLETED), 2);
  /* PgeStats does not reset. */
  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_completed, 3);
}

Test (metrics, unknown_node_is_invalid_argument)
{
  g_autoptr(GError) error = NULL;

  cr_assert_null (pge_engine_get_metrics (test_engine, "nowhere", &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert (strstr (error->message, "nowhere") != NULL);
}

static void
count_critical (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  (*(guint *) data)++;
}

/* Programmer errors (a bad enum value, a bucket out of range, a quantile
 * outside [0, 1], NULL) are preconditions: a critical and a neutral
 * answer, never a crash or a read out of bounds. */
Test (metrics, bad_arguments_are_preconditions)
{
  g_autoptr(PgeMetrics) metrics = metrics_of (test_engine, NULL);
  guint n_criticals = 0;

  g_log_set_handler ("pgengine", G_LOG_LEVEL_CRITICAL, count_critical, &n_criticals);
  cr_assert_eq (pge_metrics_get_counter (metrics, (PgeCounter) 99), 0);
  cr_assert_eq (pge_metrics_get_timer_count (metrics, (PgeTimer) 3), 0);
  cr_assert_eq (pge_metrics_get_timer_sum_us (metrics, (PgeTimer) -1), 0);
  cr_assert_eq (pge_metrics_get_timer_bucket (metrics, PGE_TIMER_RUN, pge_metrics_get_n_buckets ()), 0);
  cr_assert_eq (pge_metrics_get_bucket_bound_us (pge_metrics_get_n_buckets ()), -1);
  cr_assert_eq (pge_metrics_get_timer_percentile_us (metrics, PGE_TIMER_RUN, 1.5), -1);
  cr_assert_eq (pge_metrics_get_timer_percentile_us (metrics, PGE_TIMER_RUN, -0.1), -1);
  cr_assert_null (pge_metrics_get_node (NULL));
  cr_assert_null (pge_engine_get_metrics (NULL, NULL, NULL));
  cr_assert_null (pge_engine_format_metrics (NULL));
  pge_engine_reset_metrics (NULL);
  cr_assert_eq (n_criticals, 11);
  pge_metrics_unref (NULL);  /* fine, like g_free (NULL) */
}

Test (metrics, bucket_bounds_grow_and_end_unbounded)
{
  guint n = pge_metrics_get_n_buckets ();

  cr_assert_geq (n, 10);
  for (guint b = 1; b + 1 < n; b++)
    cr_assert_gt (pge_metrics_get_bucket_bound_us (b), pge_metrics_get_bucket_bound_us (b - 1));
  cr_assert_eq (pge_metrics_get_bucket_bound_us (n - 1), -1);
}

/* Every line of the exposition is a comment or `name{labels} value`,
 * and each histogram's +Inf bucket equals its count. */
Test (metrics, prometheus_text_has_every_series_per_node)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint n_series = 0;

  run (engine, "SELECT 1");
  text = pge_engine_format_metrics (engine);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      if (lines[i][0] == '#')
        {
          cr_assert (g_str_has_prefix (lines[i], "# HELP pge_") || g_str_has_prefix (lines[i], "# TYPE pge_"),
                     "%s", lines[i]);
          continue;
        }
      cr_assert (g_regex_match_simple ("^pge_[a-z_]+\\{node=\"primary\"(,le=\"([0-9.e+-]+|\\+Inf)\")?\\} [0-9.e+-]+$",
                                       lines[i], 0, 0),
                 "%s", lines[i]);
      n_series++;
    }
  cr_assert_geq (n_series, 3 * (pge_metrics_get_n_buckets () + 2) + 10);
  cr_assert (strstr (text, "pge_run_seconds_bucket{node=\"primary\",le=\"+Inf\"} 1\n") != NULL, "%s", text);
  cr_assert (strstr (text, "pge_run_seconds_count{node=\"primary\"} 1\n") != NULL);
  cr_assert (strstr (text, "pge_connects_total{node=\"primary\"} 1\n") != NULL);
  cr_assert (strstr (text, "pge_jobs_completed_total{node=\"primary\"} 1\n") != NULL);
  cr_assert (strstr (text, "# TYPE pge_acquire_seconds histogram\n") != NULL);
  cr_assert (strstr (text, "pge_workers{node=\"primary\"} 1\n") != NULL);
}

typedef struct {
  PgeEngine *engine;
  gint       stop;
} Load;

static gpointer
query_until_stopped (gpointer data)
{
  Load *load = data;

  while (!g_atomic_int_get (&load->stop))
    run (load->engine, "SELECT 1");
  return NULL;
}

/* Snapshots taken while other threads' queries are timed: each one's
 * histogram adds up to its count (its +Inf bucket is its count, as
 * Prometheus requires), however the reads and the writes interleave. */
Test (metrics, a_snapshot_under_load_has_a_histogram_that_adds_up)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (4);
  Load load = { engine, 0 };
  GThread *threads[4];
  guint last = pge_metrics_get_n_buckets () - 1;

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("querier", query_until_stopped, &load);
  for (guint i = 0; i < 50000; i++)
    {
      g_autoptr(PgeMetrics) metrics = metrics_of (engine, "primary");

      for (PgeTimer t = PGE_TIMER_ACQUIRE; t <= PGE_TIMER_RUN; t++)
        cr_assert_eq (pge_metrics_get_timer_bucket (metrics, t, last),
                      pge_metrics_get_timer_count (metrics, t),
                      "snapshot %u, timer %d: +Inf bucket %" G_GUINT64_FORMAT " != count %" G_GUINT64_FORMAT,
                      i, (int) t, pge_metrics_get_timer_bucket (metrics, t, last),
                      pge_metrics_get_timer_count (metrics, t));
    }
  g_atomic_int_set (&load.stop, 1);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
}
