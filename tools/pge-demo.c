/* pge-demo — the main job: a tour of pgengine against a real server.
 *
 * Creates a table, fills it from several threads at once through futures,
 * reads it back, shows a transaction, a cursor batch, an atomic query list
 * and the engine's counters, and says how fast each step was.
 *
 *   pge-demo [CONNINFO]     (default: $PGE_DEMO_CONNINFO, then libpq's PG*)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <stdio.h>
#include <stdlib.h>

#define N_THREADS 4
#define ROWS_PER_THREAD 2500

typedef struct {
  PgeEngine *engine;
  guint      thread_index;
  guint      failures;
} Filler;

static double
ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "pge-demo: %s: %s\n", what, error ? error->message : "failed");
  exit (1);
}

/* Each thread queues all its inserts first, then waits: the futures let
 * one thread keep every worker busy. */
static gpointer
fill (gpointer data)
{
  Filler *filler = data;
  g_autoptr(GPtrArray) futures = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_future_unref);

  for (guint i = 0; i < ROWS_PER_THREAD; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();
      g_autofree char *label = g_strdup_printf ("thread %u row %u", filler->thread_index, i);

      pge_params_add_int64 (params, (gint64) filler->thread_index * ROWS_PER_THREAD + i);
      pge_params_add_text (params, label);
      g_ptr_array_add (futures, pge_engine_query (filler->engine,
                       "INSERT INTO demo_items (id, label) VALUES ($1, $2)", params));
    }
  for (guint i = 0; i < futures->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures->pdata[i], &error);

      if (error != NULL)
        filler->failures++;
    }
  return NULL;
}

static void
step_fill (PgeEngine *engine)
{
  Filler fillers[N_THREADS];
  GThread *threads[N_THREADS];
  guint failures = 0;
  gint64 start = g_get_monotonic_time ();
  double ms;

  for (guint t = 0; t < N_THREADS; t++)
    {
      fillers[t] = (Filler) { engine, t, 0 };
      threads[t] = g_thread_new ("filler", fill, &fillers[t]);
    }
  for (guint t = 0; t < N_THREADS; t++)
    {
      g_thread_join (threads[t]);
      failures += fillers[t].failures;
    }
  ms = ms_since (start);
  printf ("2. %u threads inserted %u rows through futures in %.1f ms (%.0f inserts/s), %u failed\n",
          N_THREADS, N_THREADS * ROWS_PER_THREAD, ms, N_THREADS * ROWS_PER_THREAD / (ms / 1000.0),
          failures);
  if (failures > 0)
    exit (1);
}

static void
step_read (PgeEngine *engine)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine,
      "SELECT count(*), min(id), max(id), count(DISTINCT label) FROM demo_items", NULL, &error);

  if (result == NULL)
    die ("count", error);
  printf ("3. read back: %" G_GINT64_FORMAT " rows, ids %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
          ", %" G_GINT64_FORMAT " distinct labels (%.2f ms)\n",
          pge_result_get_int64 (result, 0, 0), pge_result_get_int64 (result, 0, 1),
          pge_result_get_int64 (result, 0, 2), pge_result_get_int64 (result, 0, 3), ms_since (start));
}

static void
step_transaction (PgeEngine *engine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeResult) inside = NULL;
  g_autoptr(PgeResult) after = NULL;

  if (tx == NULL)
    die ("begin", error);
  /* While tx is current, engine-level calls on this thread run inside it. */
  if (!pge_engine_exec_sync (engine, "DELETE FROM demo_items WHERE id % 2 = 0", &error))
    die ("delete", error);
  inside = pge_engine_query_sync (engine, "SELECT count(*) FROM demo_items", NULL, &error);
  if (inside == NULL)
    die ("count inside", error);
  if (!pge_transaction_rollback (tx, &error))
    die ("rollback", error);
  after = pge_engine_query_sync (engine, "SELECT count(*) FROM demo_items", NULL, &error);
  if (after == NULL)
    die ("count after", error);
  printf ("4. transaction: deleted the even ids (%" G_GINT64_FORMAT " rows left inside it), rolled "
          "back: %" G_GINT64_FORMAT " rows again\n",
          pge_result_get_int64 (inside, 0, 0), pge_result_get_int64 (after, 0, 0));
}

static void
step_batch_and_atomic (PgeEngine *engine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (engine);
  guint chunks = 0, rows = 0;
  gint64 start = g_get_monotonic_time ();

  batch = pge_engine_batch (engine, "SELECT id, label FROM demo_items ORDER BY id", NULL, 1000, &error);
  if (batch == NULL)
    die ("batch", error);
  for (;;)
    {
      g_autoptr(PgeResult) chunk = pge_batch_next (batch, &error);

      if (chunk == NULL)
        break;
      chunks++;
      rows += pge_result_get_n_rows (chunk);
    }
  if (error != NULL || !pge_batch_close (batch, &error))
    die ("batch scan", error);
  printf ("5. batch: scanned %u rows in %u chunks of up to 1000 through a cursor (%.1f ms)\n",
          rows, chunks, ms_since (start));

  for (guint i = 0; i < 100; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_int64 (params, 100000 + i);
      pge_params_add_text (params, "atomic");
      pge_atomic_add (atomic, "INSERT INTO demo_items (id, label) VALUES ($1, $2)", params);
    }
  pge_atomic_add (atomic, "INSERT INTO demo_items (id, label) VALUES (0, 'duplicate')", NULL);
  start = g_get_monotonic_time ();
  if (pge_atomic_run_sync (atomic, &error))
    die ("the atomic should have failed", NULL);
  printf ("6. atomic: 101 queries in one round trip, the last a duplicate key: \"%s\"; nothing "
          "was kept (%.1f ms)\n", error->message, ms_since (start));
}

int
main (int argc, char **argv)
{
  const char *conninfo = argc > 1 ? argv[1] : g_getenv ("PGE_DEMO_CONNINFO");
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  PgeStats stats;
  gint64 start = g_get_monotonic_time ();

  pge_config_set_workers (config, 4);
  engine = pge_engine_new (config, &error);
  if (engine == NULL)
    die ("connect", error);
  printf ("1. connected %u workers to PostgreSQL %d in %.1f ms\n", pge_engine_get_n_workers (engine),
          pge_engine_get_server_version (engine), ms_since (start));
  if (!pge_engine_exec_sync (engine,
                             "DROP TABLE IF EXISTS demo_items;"
                             "CREATE TABLE demo_items (id int8 PRIMARY KEY, label text NOT NULL)",
                             &error))
    die ("create table", error);

  step_fill (engine);
  step_read (engine);
  step_transaction (engine);
  step_batch_and_atomic (engine);

  pge_engine_get_stats (engine, &stats);
  printf ("7. engine stats: %u workers, %" G_GUINT64_FORMAT " jobs completed, %" G_GUINT64_FORMAT
          " failed, %" G_GUINT64_FORMAT " reconnects\n", stats.n_workers, stats.n_completed,
          stats.n_failed, stats.n_reconnects);
  if (!pge_engine_exec_sync (engine, "DROP TABLE demo_items", &error))
    die ("drop table", error);
  pge_engine_close (engine);
  printf ("8. closed; done in %.1f ms\n", ms_since (start));
  return 0;
}
