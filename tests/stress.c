/* stress.c — a concurrency workout for ThreadSanitizer (and valgrind).
 *
 * Criterion cannot run under ThreadSanitizer (its sandbox arena collides
 * with TSan's memory layout: Snaipe/Criterion#274), so CI runs this plain
 * program in the TSan build instead. Each scenario drives the engine from
 * several threads at once and checks every outcome; the whole run is
 * bounded (a few seconds per scenario on two cores, the mix PGE_STRESS_MIX_SECONDS).
 *
 *   pge-stress [CONNINFO]   (default $PGE_TEST_CONNINFO)
 *
 * Prints one line per scenario and "N passed, N failed"; exits non-zero on
 * any failure. The last scenario mixes 16 blocking threads, futures,
 * transactions and cancels for PGE_STRESS_MIX_SECONDS (default 60) with
 * every answer checked: what CI runs under ThreadSanitizer.
 *
 *   pge-stress --chaos [SECONDS] [CONNINFO]
 *
 * instead runs everything at once for SECONDS (default 60) under random
 * cancels, backend terminations and one server restart, and checks every
 * acknowledged write against the table at the end (tests/chaos.c).
 *
 *   pge-stress --failover [ROUNDS]
 *
 * instead makes ROUNDS (default 3) failovers, each on a primary and a
 * synchronous standby of its own (tools/pge-cluster): 8 writer threads on
 * a multi-host conninfo, the primary stopped with -m immediate, the
 * standby promoted; prints each round's outage and lost commits, and
 * fails on a lost commit, an unresolved future, a transaction that went
 * on across it, or writes that resumed 2 s or more after the promotion.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos.h"
#include "failover.h"
#include "patroni.h"

static const char *conninfo;
static gint failures;   /* atomic, within one scenario */

#define CHECK(cond, ...)                                         \
  do {                                                           \
    if (!(cond))                                                 \
      {                                                          \
        g_atomic_int_inc (&failures);                            \
        fprintf (stderr, "  check failed at line %d: ", __LINE__); \
        fprintf (stderr, __VA_ARGS__);                           \
        fputc ('\n', stderr);                                    \
      }                                                          \
  } while (0)

static PgeEngine *
new_engine (guint n_workers, const char *extra)
{
  g_autofree char *info = g_strdup_printf ("%s %s", conninfo, extra ? extra : "");
  g_autoptr(PgeConfig) config = pge_config_new (info);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_config_set_workers (config, n_workers);
  pge_config_set_acquire_timeout (config, 20000);
  engine = pge_engine_new (config, &error);
  if (engine == NULL)
    {
      fprintf (stderr, "pge-stress: %s\n", error->message);
      exit (2);
    }
  return engine;
}

static void
run_threads (guint n, GThreadFunc func, gpointer data)
{
  g_autofree GThread **threads = g_new0 (GThread *, n);

  for (guint i = 0; i < n; i++)
    threads[i] = g_thread_new ("stress", func, data);
  for (guint i = 0; i < n; i++)
    g_thread_join (threads[i]);
}

/* ------------------------------------------------------------ scenarios */

static gpointer
futures_thread (gpointer data)
{
  PgeEngine *engine = data;
  g_autoptr(GPtrArray) futures = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_future_unref);
  gint64 base = g_random_int_range (0, 1 << 20);

  for (guint i = 0; i < 300; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_int64 (params, base + i);
      g_ptr_array_add (futures, pge_engine_query (engine, "SELECT $1::int8 * 2", params));
    }
  for (guint i = 0; i < futures->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures->pdata[i], &error);

      CHECK (result != NULL && pge_result_get_int64 (result, 0, 0) == 2 * (base + i),
             "future %u: %s", i, error ? error->message : "wrong value");
    }
  return NULL;
}

static void
scenario_futures (PgeEngine *engine)
{
  run_threads (8, futures_thread, engine);
}

static void
count_callback (PgeFuture *future, gpointer user_data)
{
  g_atomic_int_inc ((gint *) user_data);
}

static gpointer
cancel_thread (gpointer data)
{
  PgeEngine *engine = data;
  gint called = 0;

  for (guint i = 0; i < 40; i++)
    {
      g_autoptr(PgeFuture) future = pge_engine_query (engine, "SELECT pg_sleep(0.02)", NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = NULL;

      pge_future_on_done (future, NULL, count_callback, &called, NULL);
      if (i % 2 == 0)
        {
          g_usleep (g_random_int_range (0, 20000));
          pge_future_cancel (future);
        }
      result = pge_future_wait (future, &error);
      CHECK (result != NULL || g_error_matches (error, PGE_ERROR, PGE_ERROR_CANCELLED),
             "cancel %u: %s", i, error ? error->message : "?");
    }
  /* A NULL-context callback runs on the resolving thread right after the
   * waiters are woken, so the last one may still be on its way. */
  for (guint spins = 0; g_atomic_int_get (&called) < 40 && spins < 2000; spins++)
    g_usleep (1000);
  CHECK (g_atomic_int_get (&called) == 40, "callbacks: %d of 40", g_atomic_int_get (&called));
  return NULL;
}

static void
scenario_cancel (PgeEngine *engine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) after = NULL;

  run_threads (4, cancel_thread, engine);
  after = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  CHECK (after != NULL, "engine unusable after cancels: %s", error ? error->message : "");
}

static gpointer
transaction_thread (gpointer data)
{
  PgeEngine *engine = data;
  guint id = g_random_int ();

  for (guint i = 0; i < 30; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeTransaction) tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
      g_autoptr(PgeParams) params = pge_params_new ();
      g_autoptr(PgeResult) inserted = NULL;
      g_autoptr(PgeSavepoint) savepoint = NULL;

      CHECK (tx != NULL, "begin: %s", error ? error->message : "");
      if (tx == NULL)
        return NULL;
      pge_params_add_int64 (params, ((gint64) id << 8) + i);
      inserted = pge_engine_query_sync (engine, "INSERT INTO stress_rows (id) VALUES ($1)", params, &error);
      CHECK (inserted != NULL, "insert: %s", error ? error->message : "");
      g_clear_error (&error);
      savepoint = pge_transaction_savepoint (tx, NULL, &error);
      CHECK (savepoint != NULL, "savepoint: %s", error ? error->message : "");
      g_clear_error (&error);
      if (savepoint != NULL)
        CHECK (pge_savepoint_rollback_to (savepoint, &error), "rollback to: %s",
               error ? error->message : "");
      g_clear_error (&error);
      if (i % 3 == 0)
        CHECK (pge_transaction_rollback (tx, &error), "rollback: %s", error ? error->message : "");
      else
        CHECK (pge_transaction_commit (tx, &error), "commit: %s", error ? error->message : "");
    }
  return NULL;
}

static void
scenario_transactions (PgeEngine *engine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) count = NULL;

  CHECK (pge_engine_exec_sync (engine, "DROP TABLE IF EXISTS stress_rows;"
                               "CREATE TABLE stress_rows (id int8 PRIMARY KEY)", &error),
         "create: %s", error ? error->message : "");
  run_threads (4, transaction_thread, engine);
  count = pge_engine_query_sync (engine, "SELECT count(*) FROM stress_rows", NULL, &error);
  /* 30 per thread, every third rolled back: 20 committed per thread. */
  CHECK (count != NULL && pge_result_get_int64 (count, 0, 0) == 4 * 20, "rows: %s",
         count ? pge_result_get_value (count, 0, 0) : error->message);
}

static gpointer
batch_thread (gpointer data)
{
  PgeEngine *engine = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = pge_engine_batch (engine, "SELECT g FROM generate_series(1, 3000) g",
                                                NULL, 37, &error);
  gint64 expected = 1;

  CHECK (batch != NULL, "batch: %s", error ? error->message : "");
  while (batch != NULL)
    {
      g_autoptr(PgeResult) chunk = pge_batch_next (batch, &error);

      if (chunk == NULL)
        break;
      for (guint r = 0; r < pge_result_get_n_rows (chunk); r++)
        CHECK (pge_result_get_int64 (chunk, r, 0) == expected++, "batch row out of order");
    }
  CHECK (error == NULL && expected == 3001, "batch ended at %" G_GINT64_FORMAT ": %s", expected,
         error ? error->message : "");
  if (batch != NULL)
    CHECK (pge_batch_close (batch, NULL), "batch close");
  return NULL;
}

static gpointer
atomic_thread (gpointer data)
{
  PgeEngine *engine = data;

  for (guint run = 0; run < 10; run++)
    {
      g_autoptr(PgeAtomic) atomic = pge_engine_atomic (engine);
      g_autoptr(GError) error = NULL;

      for (guint i = 0; i < 20; i++)
        pge_atomic_add (atomic, "SELECT 1", NULL);
      CHECK (pge_atomic_run_sync (atomic, &error), "atomic: %s", error ? error->message : "");
    }
  return NULL;
}

static void
scenario_batches_and_atomics (PgeEngine *engine)
{
  GThread *threads[4];

  threads[0] = g_thread_new ("batch", batch_thread, engine);
  threads[1] = g_thread_new ("batch", batch_thread, engine);
  threads[2] = g_thread_new ("atomic", atomic_thread, engine);
  threads[3] = g_thread_new ("futures", futures_thread, engine);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
}

static void
scenario_terminate (PgeEngine *unused)
{
  g_autofree char *app = g_strdup_printf ("application_name=pge_stress_%d", (int) g_random_int_range (0, 1 << 30));
  g_autoptr(PgeEngine) engine = new_engine (3, app);
  g_autoptr(PgeEngine) admin = new_engine (1, NULL);
  g_autofree char *kill = g_strdup_printf (
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '%s'",
      app + strlen ("application_name="));
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) killed = pge_engine_query_sync (admin, kill, NULL, &error);

  CHECK (killed != NULL && pge_result_get_int64 (killed, 0, 0) == 3, "terminate: %s",
         killed ? pge_result_get_value (killed, 0, 0) : error->message);
  /* pg_terminate_backend() only signals: wait until the backends are gone,
   * so that the engine meets dead connections, not dying ones (a query
   * sent to a dying backend fails with 57P01, as it must). */
  for (guint spins = 0; spins < 500; spins++)
    {
      g_autofree char *left_sql = g_strdup_printf (
          "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'",
          app + strlen ("application_name="));
      g_autoptr(PgeResult) left = pge_engine_query_sync (admin, left_sql, NULL, NULL);

      if (left != NULL && pge_result_get_int64 (left, 0, 0) == 0)
        break;
      g_usleep (10000);
    }
  for (guint i = 0; i < 3; i++)
    futures_thread (engine);
}

static gpointer
closing_submitter (gpointer data)
{
  PgeEngine *engine = data;

  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(PgeFuture) future = pge_engine_query (engine, "SELECT 1", NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (future, &error);

      CHECK (result != NULL || g_error_matches (error, PGE_ERROR, PGE_ERROR_CLOSED),
             "during close: %s", error ? error->message : "?");
    }
  return NULL;
}

static void
scenario_close (PgeEngine *unused)
{
  PgeEngine *engine = new_engine (2, NULL);
  GThread *threads[3];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("closing", closing_submitter, pge_engine_ref (engine));
  g_usleep (20000);
  pge_engine_close (engine);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    pge_engine_unref (engine);
  pge_engine_unref (engine);
}

/* ------------------------------------------------------------------ mix */

/* Everything the engine's fast paths serve, at once, for mix_seconds
 * (PGE_STRESS_MIX_SECONDS, default 60): 16 threads of blocking queries
 * on 4 workers (direct path, queue and pipelines), futures in sliding
 * windows, transactions, and cancels of fast and slow queries. Every
 * answer is checked: a query's value, or, only for a job that was
 * cancelled, PGE_ERROR_CANCELLED; a cancel that landed on anyone else's
 * query would show as a wrong answer there. Committed rows are counted
 * against the table at the end. */

typedef struct {
  PgeEngine *engine;
  gint64     end;        /* monotonic µs */
  gint       next_id;    /* atomic: transaction thread ids */
  gint       committed;  /* atomic */
  gint       answers;    /* atomic: answers checked */
  gint       cancelled;  /* atomic: cancels that took effect */
} Mix;

static guint mix_seconds = 60;

static gboolean
mix_running (Mix *mix)
{
  return g_get_monotonic_time () < mix->end;
}

static PgeParams *
int_param (gint64 value)
{
  PgeParams *params = pge_params_new ();

  pge_params_add_int64 (params, value);
  return params;
}

static void
check_doubled (Mix *mix, const char *what, PgeResult *result, const GError *error, gint64 value)
{
  CHECK (result != NULL && pge_result_get_n_rows (result) == 1 &&
         pge_result_get_int64 (result, 0, 0) == 2 * value,
         "%s %" G_GINT64_FORMAT ": %s", what, value,
         error ? error->message : result ? pge_result_get_value (result, 0, 0) : "no result");
  g_atomic_int_inc (&mix->answers);
}

static gpointer
mix_sync_thread (gpointer data)
{
  Mix *mix = data;

  while (mix_running (mix))
    {
      gint64 value = g_random_int_range (0, 1 << 30);
      g_autoptr(PgeParams) params = int_param (value);
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_engine_query_sync (mix->engine, "SELECT $1::int8 * 2", params, &error);

      check_doubled (mix, "sync", result, error, value);
    }
  return NULL;
}

#define MIX_WINDOW 16

static gpointer
mix_futures_thread (gpointer data)
{
  Mix *mix = data;
  PgeFuture *window[MIX_WINDOW] = { NULL };
  gint64 values[MIX_WINDOW];

  for (guint i = 0; mix_running (mix) || window[i % MIX_WINDOW] != NULL; i++)
    {
      guint slot = i % MIX_WINDOW;

      if (window[slot] != NULL)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(PgeResult) result = pge_future_wait (window[slot], &error);

          check_doubled (mix, "future", result, error, values[slot]);
          g_clear_pointer (&window[slot], pge_future_unref);
        }
      if (mix_running (mix))
        {
          g_autoptr(PgeParams) params = NULL;

          values[slot] = g_random_int_range (0, 1 << 30);
          params = int_param (values[slot]);
          window[slot] = pge_engine_query (mix->engine, "SELECT $1::int8 * 2", params);
        }
    }
  return NULL;
}

static gpointer
mix_transaction_thread (gpointer data)
{
  Mix *mix = data;
  gint64 id = (gint64) g_atomic_int_add (&mix->next_id, 1) << 32;

  for (guint i = 0; mix_running (mix); i++, id++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeTransaction) tx = pge_engine_transaction (mix->engine, PGE_TRANSACTION_DEFAULT, &error);
      g_autoptr(PgeParams) params = int_param (id);
      g_autoptr(PgeResult) inserted = NULL;
      g_autoptr(PgeResult) seen = NULL;

      CHECK (tx != NULL, "begin: %s", error ? error->message : "");
      if (tx == NULL)
        return NULL;
      inserted = pge_transaction_query_sync (tx, "INSERT INTO stress_mix (id) VALUES ($1)", params, &error);
      CHECK (inserted != NULL, "insert: %s", error ? error->message : "");
      g_clear_error (&error);
      /* Pinned: the row is visible inside, on the same connection. */
      seen = pge_engine_query_sync (mix->engine, "SELECT count(*) FROM stress_mix WHERE id = $1", params, &error);
      CHECK (seen != NULL && pge_result_get_int64 (seen, 0, 0) == 1, "own row inside: %s",
             error ? error->message : "not seen");
      g_clear_error (&error);
      g_atomic_int_inc (&mix->answers);
      if (i % 3 == 0)
        CHECK (pge_transaction_rollback (tx, &error), "rollback: %s", error ? error->message : "");
      else if (pge_transaction_commit (tx, &error))
        g_atomic_int_inc (&mix->committed);
      else
        CHECK (FALSE, "commit: %s", error ? error->message : "");
    }
  return NULL;
}

/* Fast queries (pipelined with everyone else's) and slow ones, half of
 * them cancelled at a random moment: queued, in a pipeline, running, or
 * already done. */
static gpointer
mix_cancel_thread (gpointer data)
{
  Mix *mix = data;

  while (mix_running (mix))
    {
      gint64 value = g_random_int_range (0, 1 << 30);
      g_autoptr(PgeParams) params = int_param (value);
      gboolean slow = g_random_boolean ();
      g_autoptr(PgeFuture) future = pge_engine_query (
          mix->engine, slow ? "SELECT $1::int8 * 2 FROM pg_sleep(0.002)" : "SELECT $1::int8 * 2", params);
      gboolean cancel = g_random_boolean ();
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = NULL;

      if (cancel)
        {
          g_usleep (g_random_int_range (0, 3000));
          pge_future_cancel (future);
        }
      result = pge_future_wait (future, &error);
      if (cancel && g_error_matches (error, PGE_ERROR, PGE_ERROR_CANCELLED))
        {
          g_atomic_int_inc (&mix->cancelled);
          g_atomic_int_inc (&mix->answers);
          continue;
        }
      check_doubled (mix, cancel ? "cancelled but kept" : "never cancelled", result, error, value);
    }
  return NULL;
}

static void
scenario_mix (PgeEngine *unused)
{
  g_autoptr(PgeEngine) engine = new_engine (4, NULL);
  Mix mix = { engine, g_get_monotonic_time () + (gint64) mix_seconds * G_USEC_PER_SEC, 1, 0, 0, 0 };
  struct { GThreadFunc func; guint n; } kinds[] = {
    { mix_sync_thread, 16 }, { mix_futures_thread, 2 }, { mix_transaction_thread, 2 },
    { mix_cancel_thread, 2 },
  };
  GPtrArray *threads = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) count = NULL;

  CHECK (pge_engine_exec_sync (engine, "DROP TABLE IF EXISTS stress_mix;"
                               "CREATE TABLE stress_mix (id int8 PRIMARY KEY)", &error),
         "create: %s", error ? error->message : "");
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    for (guint i = 0; i < kinds[k].n; i++)
      g_ptr_array_add (threads, g_thread_new ("mix", kinds[k].func, &mix));
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (threads->pdata[i]);
  g_ptr_array_unref (threads);
  count = pge_engine_query_sync (engine, "SELECT count(*) FROM stress_mix", NULL, &error);
  CHECK (count != NULL && pge_result_get_int64 (count, 0, 0) == g_atomic_int_get (&mix.committed),
         "committed %d, rows %s", g_atomic_int_get (&mix.committed),
         count ? pge_result_get_value (count, 0, 0) : error->message);
  pge_engine_exec_sync (engine, "DROP TABLE IF EXISTS stress_mix", NULL);
  printf ("  mix: %d answers checked in %u s, %d transactions committed, %d cancels took effect\n",
          g_atomic_int_get (&mix.answers), mix_seconds, g_atomic_int_get (&mix.committed),
          g_atomic_int_get (&mix.cancelled));
  CHECK (g_atomic_int_get (&mix.answers) > 0, "no answer at all");
}

/* ----------------------------------------------------------------- main */

typedef struct {
  const char *name;
  void (*run) (PgeEngine *engine);
} Scenario;

static int
stress_failover (guint rounds)
{
  g_autofree char *tool = g_build_filename (PGE_TEST_SRCDIR, "tools", "pge-cluster", NULL);
  guint failed = 0;
  gint64 worst = 0;

  for (guint r = 0; r < MAX (rounds, 1); r++)
    {
      PgeFailoverRun run = { .n_writers = 8, .run_after_ms = 1000 };
      gboolean ok = pge_failover_run (tool, g_get_tmp_dir (), &run);
      gboolean good = ok && run.n_lost == 0 && run.n_async_resolved == run.n_async &&
                      run.tx_failed && run.recovery_ms >= 0 && run.recovery_ms < 2000 &&
                      run.n_server_switches >= 1;

      if (ok)
        printf ("[%s] failover %u: %" G_GUINT64_FORMAT " commits acknowledged, %" G_GUINT64_FORMAT
                " lost, %" G_GUINT64_FORMAT " failed; write outage %" G_GINT64_FORMAT " ms, "
                "%" G_GINT64_FORMAT " ms after the promotion (halt to promoted: %" G_GINT64_FORMAT " ms); "
                "open transaction %s; "
                "%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " futures resolved; switches %" G_GUINT64_FORMAT
                " (now %s)\n", good ? "PASS" : "FAIL", r + 1, run.n_acknowledged, run.n_lost,
                run.n_failed, run.outage_ms, run.recovery_ms, run.switch_ms, run.tx_failed ? "failed" : "WENT ON",
                run.n_async_resolved, run.n_async, run.n_server_switches, run.server_after);
      else
        printf ("[FAIL] failover %u: %s\n", r + 1, run.error);
      worst = MAX (worst, run.outage_ms);
      failed += !good;
      pge_failover_clear (&run);
    }
  printf ("worst write outage %" G_GINT64_FORMAT " ms\n", worst);
  printf ("%u passed, %u failed\n", MAX (rounds, 1) - failed, failed);
  return failed ? 1 : 0;
}

int
main (int argc, char **argv)
{
  static const Scenario scenarios[] = {
    { "8 threads x 300 futures", scenario_futures },
    { "cancel storm", scenario_cancel },
    { "transactions + savepoints from 4 threads", scenario_transactions },
    { "batches, atomics and futures together", scenario_batches_and_atomics },
    { "backends terminated, engine recovers", scenario_terminate },
    { "close while 3 threads submit", scenario_close },
    { "16 sync threads, futures, transactions and cancels at once", scenario_mix },
  };
  g_autoptr(PgeEngine) engine = NULL;
  guint passed = 0, failed = 0;

  if (argc > 1 && strcmp (argv[1], "--chaos") == 0)
    {
      guint seconds = 60;
      int next = 2;

      if (argc > next && argv[next][0] != '\0' && strspn (argv[next], "0123456789") == strlen (argv[next]))
        seconds = (guint) g_ascii_strtoull (argv[next++], NULL, 10);
      conninfo = argc > next ? argv[next] : g_getenv ("PGE_TEST_CONNINFO");
      return pge_stress_chaos (conninfo ? conninfo : "", seconds);
    }
  if (argc > 1 && strcmp (argv[1], "--patroni") == 0)
    {
      g_autofree char *tool = g_build_filename (PGE_TEST_SRCDIR, "tools", "pge-patroni", NULL);

      return pge_patroni_run (tool, g_get_tmp_dir ());
    }
  if (argc > 1 && strcmp (argv[1], "--failover") == 0)
    return stress_failover (argc > 2 ? (guint) g_ascii_strtoull (argv[2], NULL, 10) : 3);
  conninfo = argc > 1 ? argv[1] : g_getenv ("PGE_TEST_CONNINFO");
  if (conninfo == NULL)
    conninfo = "";
  if (g_getenv ("PGE_STRESS_MIX_SECONDS") != NULL)
    mix_seconds = (guint) g_ascii_strtoull (g_getenv ("PGE_STRESS_MIX_SECONDS"), NULL, 10);
  engine = new_engine (4, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (scenarios); i++)
    {
      gint64 start = g_get_monotonic_time ();

      g_atomic_int_set (&failures, 0);
      scenarios[i].run (engine);
      if (g_atomic_int_get (&failures) == 0)
        passed++;
      else
        failed++;
      printf ("[%s] %s (%.0f ms)\n", g_atomic_int_get (&failures) ? "FAIL" : "PASS", scenarios[i].name,
              (g_get_monotonic_time () - start) / 1000.0);
    }
  pge_engine_exec_sync (engine, "DROP TABLE IF EXISTS stress_rows", NULL);
  printf ("%u passed, %u failed\n", passed, failed);
  return failed ? 1 : 0;
}
