/* test-batch.c — PgeBatch: server-side cursors read in chunks, prefetch,
 * close and unref, errors, batches inside transactions.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "fixture.h"

TestSuite (batch, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* ------------------------------------------------------------- helpers */

static gint64
count_rows (PgeEngine *engine, const char *table)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s", table);
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  return pge_result_get_int64 (result, 0, 0);
}

/* Counted on a separate connection: outside any transaction of the test. */
static gint64
admin_count (const char *table)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s.%s", pge_test_schema (), table);
  g_autofree char *value = pge_test_admin_query (sql);

  return g_ascii_strtoll (value, NULL, 10);
}

static void
exec_ok (PgeEngine *engine, const char *script)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_exec_sync (engine, script, &error), "%s: %s", script,
             error ? error->message : "");
}

/* Scans generate_series(1, n_rows) in chunks of @batch_size and checks
 * that every row comes once, in order, in full chunks but the last. */
static void
scan_and_check (PgeEngine *engine, guint n_rows, guint batch_size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeBatch) batch = NULL;
  PgeResult *chunk;
  gint64 expected = 1;
  guint n_chunks = 0;

  pge_params_add_int64 (params, n_rows);
  batch = pge_engine_batch (engine, "SELECT g FROM generate_series(1, $1::bigint) g ORDER BY g",
                            params, batch_size, &error);
  cr_assert_null (error, "batch: %s", error ? error->message : "");
  while ((chunk = pge_batch_next (batch, &error)) != NULL)
    {
      guint n = pge_result_get_n_rows (chunk);

      cr_assert_gt (n, 0, "an empty chunk instead of NULL");
      cr_assert_leq (n, batch_size);
      for (guint row = 0; row < n; row++)
        cr_assert_eq (pge_result_get_int64 (chunk, row, 0), expected++,
                      "row %u of chunk %u out of order", row, n_chunks);
      if (expected <= n_rows)
        cr_assert_eq (n, batch_size, "a short chunk before the end");
      n_chunks++;
      pge_result_unref (chunk);
    }
  cr_assert_null (error, "next: %s", error ? error->message : "");
  cr_assert_eq (expected, (gint64) n_rows + 1, "saw %" G_GINT64_FORMAT " rows", expected - 1);
  cr_assert_eq (n_chunks, (n_rows + batch_size - 1) / batch_size);
  /* Exhausted: NULL and no error, every time. */
  for (int i = 0; i < 3; i++)
    {
      cr_assert_null (pge_batch_next (batch, &error));
      cr_assert_null (error);
    }
  cr_assert (pge_batch_close (batch, &error), "close: %s", error ? error->message : "");
}

/* ---------------------------------------------------------------- scans */

Test (batch, scans_10k_rows_in_chunks_of_7)
{
  scan_and_check (test_engine, 10000, 7);
}

Test (batch, scans_10k_rows_in_chunks_of_333)
{
  scan_and_check (test_engine, 10000, 333);
}

Test (batch, scans_10k_rows_in_one_chunk_of_exactly_10000)
{
  scan_and_check (test_engine, 10000, 10000);
}

Test (batch, scans_10k_rows_in_one_short_chunk_of_10001)
{
  scan_and_check (test_engine, 10000, 10001);
}

Test (batch, scans_without_prefetch_too)
{
  g_setenv ("PGE_BATCH_PREFETCH", "0", TRUE);   /* read at creation */
  scan_and_check (test_engine, 10000, 333);
  scan_and_check (test_engine, 200, 100);
  g_unsetenv ("PGE_BATCH_PREFETCH");
}

Test (batch, exact_multiple_ends_with_null)
{
  scan_and_check (test_engine, 200, 100);
}

Test (batch, empty_result_gives_null_at_once_and_forever)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = pge_engine_batch (test_engine,
                                                "SELECT g FROM generate_series(1, 0) g",
                                                NULL, 10, &error);

  cr_assert_null (error);
  for (int i = 0; i < 4; i++)
    {
      cr_assert_null (pge_batch_next (batch, &error));
      cr_assert_null (error);
    }
  cr_assert (pge_batch_close (batch, &error));
}

Test (batch, null_forever_after_the_end)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = pge_engine_batch (test_engine,
                                                "SELECT g FROM generate_series(1, 250) g",
                                                NULL, 100, &error);
  guint sizes[3];

  cr_assert_null (error);
  for (int i = 0; i < 3; i++)
    {
      g_autoptr(PgeResult) chunk = pge_batch_next (batch, &error);

      cr_assert_not_null (chunk, "chunk %d: %s", i, error ? error->message : "");
      sizes[i] = pge_result_get_n_rows (chunk);
    }
  cr_assert_eq (sizes[0], 100);
  cr_assert_eq (sizes[1], 100);
  cr_assert_eq (sizes[2], 50);
  for (int i = 0; i < 10; i++)
    {
      g_autoptr(PgeFuture) future = pge_batch_fetch (batch);

      cr_assert_null (pge_batch_next (batch, &error));
      cr_assert_null (error);
      cr_assert_null (pge_future_wait (future, &error));
      cr_assert_null (error);
    }
}

Test (batch, batch_size_zero_means_100)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = pge_engine_batch (test_engine,
                                                "SELECT g FROM generate_series(1, 250) g",
                                                NULL, 0, &error);
  g_autoptr(PgeResult) chunk = NULL;

  cr_assert_null (error);
  cr_assert_eq (pge_batch_get_batch_size (batch), 100);
  chunk = pge_batch_next (batch, &error);
  cr_assert_eq (pge_result_get_n_rows (chunk), 100);
}

Test (batch, keeps_columns_and_parameters)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeResult) chunk = NULL;

  pge_params_add_text (params, "x");
  pge_params_add_int32 (params, 3);
  batch = pge_engine_batch (test_engine,
                            "SELECT g AS n, $1::text || g AS label FROM generate_series(1, $2::int) g",
                            params, 10, &error);
  g_clear_pointer (&params, pge_params_unref);   /* copied at creation */
  cr_assert_null (error, "%s", error ? error->message : "");
  chunk = pge_batch_next (batch, &error);
  cr_assert_eq (pge_result_get_n_rows (chunk), 3);
  cr_assert_str_eq (pge_result_get_column_name (chunk, 1), "label");
  cr_assert_str_eq (pge_result_get_value (chunk, 2, 1), "x3");
}

Test (batch, fetch_and_next_mixed_stay_in_order)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = pge_engine_batch (test_engine,
                                                "SELECT g FROM generate_series(1, 35) g",
                                                NULL, 10, &error);
  g_autoptr(PgeFuture) f1 = NULL;
  g_autoptr(PgeFuture) f3 = NULL;
  g_autoptr(PgeFuture) f5 = NULL;
  g_autoptr(PgeResult) r1 = NULL;
  g_autoptr(PgeResult) r2 = NULL;
  g_autoptr(PgeResult) r3 = NULL;
  g_autoptr(PgeResult) r4 = NULL;
  g_autoptr(PgeResult) r5 = NULL;

  cr_assert_null (error);
  f1 = pge_batch_fetch (batch);
  r2 = pge_batch_next (batch, &error);
  f3 = pge_batch_fetch (batch);
  r4 = pge_batch_next (batch, &error);
  cr_assert_null (error);
  r1 = pge_future_wait (f1, &error);
  r3 = pge_future_wait (f3, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (r1, 0, 0), 1);
  cr_assert_eq (pge_result_get_int64 (r2, 0, 0), 11);
  cr_assert_eq (pge_result_get_int64 (r3, 0, 0), 21);
  cr_assert_eq (pge_result_get_int64 (r4, 0, 0), 31);
  cr_assert_eq (pge_result_get_n_rows (r4), 5);
  f5 = pge_batch_fetch (batch);
  r5 = pge_future_wait (f5, &error);
  cr_assert_null (r5);
  cr_assert_null (error);
}

typedef struct {
  PgeBatch *batch;
  GMutex    lock;
  GArray   *seen;       /* gint64 */
  gboolean  failed;
} SharedScan;

static gpointer
scan_thread (gpointer data)
{
  SharedScan *scan = data;
  PgeResult *chunk;
  GError *error = NULL;

  while ((chunk = pge_batch_next (scan->batch, &error)) != NULL)
    {
      g_mutex_lock (&scan->lock);
      for (guint row = 0; row < pge_result_get_n_rows (chunk); row++)
        {
          gint64 value = pge_result_get_int64 (chunk, row, 0);

          g_array_append_val (scan->seen, value);
        }
      g_mutex_unlock (&scan->lock);
      pge_result_unref (chunk);
    }
  if (error != NULL)
    {
      scan->failed = TRUE;
      g_error_free (error);
    }
  return NULL;
}

static gint
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

Test (batch, threads_sharing_a_batch_see_every_row_once)
{
  g_autoptr(GError) error = NULL;
  SharedScan scan = { 0 };
  GThread *threads[4];

  scan.batch = pge_engine_batch (test_engine, "SELECT g FROM generate_series(1, 5000) g",
                                 NULL, 37, &error);
  cr_assert_null (error);
  g_mutex_init (&scan.lock);
  scan.seen = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (int i = 0; i < 4; i++)
    threads[i] = g_thread_new ("scan", scan_thread, &scan);
  for (int i = 0; i < 4; i++)
    g_thread_join (threads[i]);
  cr_assert_not (scan.failed);
  cr_assert_eq (scan.seen->len, 5000);
  g_array_sort (scan.seen, compare_int64);
  for (guint i = 0; i < scan.seen->len; i++)
    cr_assert_eq (g_array_index (scan.seen, gint64, i), (gint64) i + 1);
  g_array_unref (scan.seen);
  g_mutex_clear (&scan.lock);
  cr_assert (pge_batch_close (scan.batch, &error));
  pge_batch_unref (scan.batch);
}

/* --------------------------------------------------- close, unref, workers */

/* A function with a side effect, so that commit and rollback of the
 * batch's own transaction can be told apart. */
static void
create_logging_function (PgeEngine *engine)
{
  exec_ok (engine,
           "CREATE TABLE seen (n int);"
           "CREATE FUNCTION see(n int) RETURNS int LANGUAGE sql VOLATILE AS "
           "$$ INSERT INTO seen VALUES (n); SELECT n $$;");
}

Test (batch, close_commits_its_own_transaction_and_is_idempotent)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeResult) chunk = NULL;
  g_autoptr(PgeResult) after = NULL;
  PgeStats stats;

  create_logging_function (test_engine);
  batch = pge_engine_batch (test_engine, "SELECT see(g) FROM generate_series(1, 30) g",
                            NULL, 10, &error);
  cr_assert_null (error);
  chunk = pge_batch_next (batch, &error);
  cr_assert_eq (pge_result_get_n_rows (chunk), 10);
  /* Not committed yet: another connection sees nothing. */
  cr_assert_eq (count_rows (test_engine, "seen"), 0);
  cr_assert (pge_batch_close (batch, &error), "%s", error ? error->message : "");
  /* What was fetched (and prefetched) is committed; the rest never ran. */
  cr_assert_geq (count_rows (test_engine, "seen"), 10);
  cr_assert_leq (count_rows (test_engine, "seen"), 20);
  pge_engine_get_stats (test_engine, &stats);
  cr_assert_eq (stats.n_pinned, 0, "close returns once the worker is back");

  cr_assert (pge_batch_close (batch, &error));
  cr_assert_null (error);
  after = pge_batch_next (batch, &error);
  cr_assert_null (after);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
}

Test (batch, unref_without_close_rolls_back_and_frees_the_only_worker)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  create_logging_function (engine);
  for (int i = 0; i < 3; i++)
    {
      PgeBatch *batch = pge_engine_batch (engine, "SELECT see(g) FROM generate_series(1, 50) g",
                                          NULL, 10, &error);
      PgeResult *chunk;

      cr_assert_null (error, "batch %d: %s", i, error ? error->message : "");
      chunk = pge_batch_next (batch, &error);   /* a prefetch is now queued too */
      cr_assert_eq (pge_result_get_n_rows (chunk), 10);
      pge_result_unref (chunk);
      pge_batch_unref (batch);                  /* never blocks */
    }
  /* The single worker came back (or this would time out) ... */
  result = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  /* ... after rolling back what the batches' functions wrote. */
  cr_assert_eq (count_rows (engine, "seen"), 0);
}

Test (batch, unref_of_a_fresh_batch_frees_the_only_worker)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  for (int i = 0; i < 5; i++)
    {
      PgeBatch *batch = pge_engine_batch (engine, "SELECT 1", NULL, 10, &error);

      cr_assert_null (error);
      pge_batch_unref (batch);
    }
  result = pge_engine_query_sync (engine, "SELECT 2", NULL, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 2);
}

static void
unref_batch_in_callback (PgeFuture *future, gpointer user_data)
{
  (void) future;
  pge_batch_unref (user_data);
}

Test (batch, last_unref_on_a_worker_thread_does_not_block)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeFuture) future = NULL;
  PgeBatch *batch = pge_engine_batch (engine, "SELECT g FROM generate_series(1, 100) g",
                                      NULL, 10, &error);

  cr_assert_null (error);
  future = pge_batch_fetch (batch);
  /* The callback runs on the worker, holding the last reference. */
  pge_future_on_done (future, NULL, unref_batch_in_callback, batch, NULL);
  result = pge_engine_query_sync (engine, "SELECT 3", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 3);
}

Test (batch, a_pinned_worker_is_not_shared)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) first = NULL;
  g_autoptr(PgeBatch) second = NULL;
  g_autoptr(PgeBatch) third = NULL;

  pge_config_set_acquire_timeout (config, 300);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error);
  first = pge_engine_batch (engine, "SELECT 1", NULL, 0, &error);
  cr_assert_null (error);
  second = pge_engine_batch (engine, "SELECT 1", NULL, 0, &error);
  cr_assert_null (second);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  g_clear_error (&error);
  cr_assert (pge_batch_close (first, &error));
  third = pge_engine_batch (engine, "SELECT 1", NULL, 0, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
}

/* --------------------------------------------------------------- errors */

Test (batch, bad_sql_fails_at_creation_and_frees_the_worker)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  PgeBatch *batch;

  batch = pge_engine_batch (engine, "SELECT * FROM no_such_table", NULL, 10, &error);
  cr_assert_null (batch);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_UNDEFINED_TABLE);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42P01");
  cr_assert (strstr (error->message, "no_such_table") != NULL, "%s", error->message);
  g_clear_error (&error);

  batch = pge_engine_batch (engine, "SELEC 1", NULL, 10, &error);
  cr_assert_null (batch);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42601");
  g_clear_error (&error);

  /* Not a query that returns rows. */
  batch = pge_engine_batch (engine, "CREATE TABLE x (a int)", NULL, 10, &error);
  cr_assert_null (batch);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  g_clear_error (&error);

  result = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  cr_assert_null (error, "the worker did not come back: %s", error ? error->message : "");
}

Test (batch, error_mid_scan_is_returned_then_the_worker_is_freed)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  PgeResult *chunk;
  guint n_rows = 0;

  create_logging_function (engine);
  batch = pge_engine_batch (engine,
                            "SELECT see(g) / (5000 - g) FROM generate_series(1, 10000) g",
                            NULL, 1000, &error);
  cr_assert_null (error);
  while ((chunk = pge_batch_next (batch, &error)) != NULL)
    {
      n_rows += pge_result_get_n_rows (chunk);
      pge_result_unref (chunk);
    }
  cr_assert_eq (n_rows, 4000, "the chunks before the failing one arrive");
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "22012");
  /* Later calls fail the same way; never a hang, never rows. */
  for (int i = 0; i < 3; i++)
    {
      g_clear_error (&error);
      cr_assert_null (pge_batch_next (batch, &error));
      cr_assert_not_null (error);
      cr_assert (error->code == PGE_ERROR_QUERY || error->code == PGE_ERROR_TRANSACTION_STATE,
                 "%s", error->message);
    }
  g_clear_error (&error);
  /* The own transaction was rolled back, and the only worker is free. */
  cr_assert_eq (count_rows (engine, "seen"), 0);
  result = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  cr_assert_null (error);
  cr_assert (pge_batch_close (batch, &error), "nothing left to close");
}

Test (batch, cancelling_a_fetch_ends_the_scan)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;

  batch = pge_engine_batch (engine, "SELECT pg_sleep(10) FROM generate_series(1, 3)",
                            NULL, 1, &error);
  cr_assert_null (error);
  future = pge_batch_fetch (batch);
  cr_assert_not (pge_future_wait_timeout (future, 200));
  pge_future_cancel (future);
  result = pge_future_wait (future, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  g_clear_error (&error);
  cr_assert_null (pge_batch_next (batch, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  g_clear_error (&error);
  /* The queued prefetch skipped the server: the worker is back at once. */
  result = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
}

Test (batch, bad_input_is_an_error_not_a_crash)
{
  g_autoptr(GError) error = NULL;
  PgeBatch *batch;

  batch = pge_engine_batch (test_engine, NULL, NULL, 10, &error);
  cr_assert_null (batch);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  batch = pge_engine_batch (test_engine, "SELECT 1", NULL, G_MAXUINT, &error);
  cr_assert_null (batch);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Programming errors: a critical and a neutral return value. */
  cr_assert_null (pge_engine_batch (NULL, "SELECT 1", NULL, 10, NULL));
  cr_assert_null (pge_transaction_batch (NULL, "SELECT 1", NULL, 10, NULL));
  cr_assert_null (pge_batch_ref (NULL));
  pge_batch_unref (NULL);
  cr_assert_null (pge_batch_next (NULL, NULL));
  cr_assert_null (pge_batch_fetch (NULL));
  cr_assert_not (pge_batch_close (NULL, NULL));
  cr_assert_eq (pge_batch_get_batch_size (NULL), 0);
  cr_assert_neq (pge_batch_get_type (), G_TYPE_INVALID);
}

Test (batch, closed_engine_refuses_a_batch)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  PgeBatch *batch;

  pge_engine_close (engine);
  batch = pge_engine_batch (engine, "SELECT 1", NULL, 10, &error);
  cr_assert_null (batch);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
}

Test (batch, engine_close_under_an_open_batch_fails_its_fetches)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = pge_engine_batch (engine, "SELECT g FROM generate_series(1, 100) g",
                                                NULL, 10, &error);
  g_autoptr(PgeResult) chunk = NULL;

  cr_assert_null (error);
  chunk = pge_batch_next (batch, &error);
  cr_assert_not_null (chunk);
  pge_engine_close (engine);
  g_clear_pointer (&chunk, pge_result_unref);
  /* The prefetched chunk may have arrived before the close; after it,
   * only errors. Never a hang. */
  for (int i = 0; i < 3 && error == NULL; i++)
    {
      g_clear_pointer (&chunk, pge_result_unref);
      chunk = pge_batch_next (batch, &error);
    }
  cr_assert_not_null (error);
  cr_assert (error->code == PGE_ERROR_CLOSED || error->code == PGE_ERROR_TRANSACTION_STATE,
             "%s", error->message);
  g_clear_error (&error);
  pge_batch_close (batch, NULL);
}

/* --------------------------------------------------------- transactions */

Test (batch, inside_a_transaction_sees_its_uncommitted_rows)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeResult) chunk = NULL;
  g_autoptr(PgeResult) insert = NULL;

  exec_ok (test_engine, "CREATE TABLE items (n int)");
  tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  insert = pge_engine_query_sync (test_engine, "INSERT INTO items SELECT generate_series(1, 25)",
                                  NULL, &error);
  cr_assert_null (error);
  /* The thread's current transaction is used. */
  batch = pge_engine_batch (test_engine, "SELECT n FROM items ORDER BY n", NULL, 10, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  for (int i = 0; i < 3; i++)
    {
      g_clear_pointer (&chunk, pge_result_unref);
      chunk = pge_batch_next (batch, &error);
      cr_assert_not_null (chunk, "%s", error ? error->message : "");
    }
  cr_assert_eq (pge_result_get_n_rows (chunk), 5);
  cr_assert_eq (pge_result_get_int64 (chunk, 4, 0), 25);
  cr_assert_null (pge_batch_next (batch, &error));
  cr_assert_null (error);
  /* Closing the batch does not commit the transaction. */
  cr_assert (pge_batch_close (batch, &error), "%s", error ? error->message : "");
  cr_assert_eq (admin_count ("items"), 0);
  cr_assert (pge_transaction_rollback (tx, &error));
  cr_assert_eq (count_rows (test_engine, "items"), 0);
}

Test (batch, transaction_batch_works_from_any_thread_and_leaves_commit_to_the_caller)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeResult) chunk = NULL;
  g_autoptr(PgeResult) insert = NULL;

  exec_ok (test_engine, "CREATE TABLE items (n int)");
  tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  insert = pge_transaction_query_sync (tx, "INSERT INTO items VALUES (1), (2), (3)", NULL, &error);
  cr_assert_null (error);
  batch = pge_transaction_batch (tx, "SELECT n FROM items ORDER BY n", NULL, 2, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  chunk = pge_batch_next (batch, &error);
  cr_assert_eq (pge_result_get_n_rows (chunk), 2);
  /* Dropping the batch unclosed queues a CLOSE; the transaction goes on. */
  g_clear_pointer (&batch, pge_batch_unref);
  g_clear_pointer (&insert, pge_result_unref);
  insert = pge_transaction_query_sync (tx, "INSERT INTO items VALUES (4)", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
  cr_assert_eq (admin_count ("items"), 4);
}

Test (batch, fetch_after_the_transaction_ended_fails_with_transaction_state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeResult) chunk = NULL;

  tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  batch = pge_engine_batch (test_engine, "SELECT g FROM generate_series(1, 100) g", NULL, 10, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
  /* The prefetch, if any, was queued before the commit: skip it. */
  for (int i = 0; i < 3 && error == NULL; i++)
    {
      g_clear_pointer (&chunk, pge_result_unref);
      chunk = pge_batch_next (batch, &error);
    }
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  g_clear_error (&error);
  cr_assert (pge_batch_close (batch, &error), "the cursor ended with the transaction");
  g_clear_pointer (&batch, pge_batch_unref);
  batch = pge_transaction_batch (tx, "SELECT 1", NULL, 10, &error);
  cr_assert_null (batch);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
}

Test (batch, bad_sql_inside_a_transaction_aborts_it)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeResult) result = NULL;
  PgeStats stats;

  tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  batch = pge_engine_batch (test_engine, "SELECT * FROM no_such_table", NULL, 10, &error);
  cr_assert_null (batch);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42P01");
  g_clear_error (&error);
  /* As with any failed statement, the transaction is aborted ... */
  result = pge_transaction_query_sync (tx, "SELECT 1", NULL, &error);
  cr_assert_null (result);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "25P02");
  g_clear_error (&error);
  cr_assert (pge_transaction_rollback (tx, &error), "%s", error ? error->message : "");
  g_clear_pointer (&tx, pge_transaction_unref);
  /* ... and no worker stays pinned by the batch. */
  result = pge_engine_query_sync (test_engine, "SELECT 1", NULL, &error);
  cr_assert_null (error);
  pge_engine_get_stats (test_engine, &stats);
  cr_assert_eq (stats.n_pinned, 0);
}

/* ------------------------------------------------------ worker threads */

typedef struct {
  PgeBatch    *batch;
  GAsyncQueue *codes;   /* of GINT_TO_POINTER (code + 1) */
} CallbackCheck;

static void
next_in_callback (PgeFuture *future, gpointer user_data)
{
  CallbackCheck *check = user_data;
  GError *error = NULL;
  PgeResult *result = pge_batch_next (check->batch, &error);
  gboolean closed;

  (void) future;
  g_assert (result == NULL);
  g_async_queue_push (check->codes, GINT_TO_POINTER (error ? error->code + 1 : 0));
  g_clear_error (&error);
  closed = pge_batch_close (check->batch, &error);
  g_assert (!closed);
  g_async_queue_push (check->codes, GINT_TO_POINTER (error ? error->code + 1 : 0));
  g_clear_error (&error);
}

Test (batch, blocking_calls_on_a_worker_thread_fail_instead_of_hanging)
{
  g_autoptr(GError) error = NULL;
  /* Each fetch takes 100 ms (10 rows of 10 ms), so the callback is
   * attached before it is done and runs on the worker, not here. */
  g_autoptr(PgeBatch) batch = pge_engine_batch (test_engine,
                                                "SELECT g, pg_sleep(0.01) FROM generate_series(1, 50) g",
                                                NULL, 10, &error);
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) chunk = NULL;
  CallbackCheck check = { batch, g_async_queue_new () };

  cr_assert_null (error);
  future = pge_batch_fetch (batch);
  pge_future_on_done (future, NULL, next_in_callback, &check, NULL);
  cr_assert_eq (GPOINTER_TO_INT (g_async_queue_pop (check.codes)), PGE_ERROR_WOULD_DEADLOCK + 1);
  cr_assert_eq (GPOINTER_TO_INT (g_async_queue_pop (check.codes)), PGE_ERROR_WOULD_DEADLOCK + 1);
  g_async_queue_unref (check.codes);
  /* Still usable from an ordinary thread. */
  chunk = pge_batch_next (batch, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (chunk, 0, 0), 11);
}

/* A fetch cancelled while still queued never ran: the cursor is still
 * open in the caller's transaction, and close must close it anyway. */
Test (batch, close_in_a_transaction_closes_the_cursor_after_a_cancelled_fetch)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeFuture) sleeper = NULL;
  g_autoptr(PgeFuture) fetch = NULL;
  g_autoptr(PgeResult) chunk = NULL;
  g_autoptr(PgeResult) cursors = NULL;

  cr_assert_not_null (tx, "%s", error ? error->message : "");
  batch = pge_transaction_batch (tx, "SELECT g FROM generate_series(1, 1000) g", NULL, 10, &error);
  cr_assert_not_null (batch, "%s", error ? error->message : "");
  sleeper = pge_transaction_query (tx, "SELECT pg_sleep(0.3)", NULL);
  fetch = pge_batch_fetch (batch);
  pge_future_cancel (fetch);
  chunk = pge_future_wait (fetch, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  g_clear_error (&error);
  cr_assert (pge_batch_close (batch, &error), "%s", error ? error->message : "");
  /* The unnamed portal of this very query shows up too. */
  cursors = pge_transaction_query_sync (tx, "SELECT count(*) FROM pg_cursors WHERE name <> ''", NULL, &error);
  cr_assert_not_null (cursors, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (cursors, 0, 0), 0, "the cursor is still open");
  cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
}
