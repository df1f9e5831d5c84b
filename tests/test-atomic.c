/* test-atomic.c — PgeAtomic: pipelined all-or-nothing query lists, their
 * results, failures that name the query, nesting, cancel, re-runs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "fixture.h"

TestSuite (atomic, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* ------------------------------------------------------------- helpers */

static void
exec_ok (PgeEngine *engine, const char *script)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_exec_sync (engine, script, &error), "%s: %s", script,
             error ? error->message : "");
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
add_insert (PgeAtomic *atomic, gint64 n)
{
  g_autoptr(PgeParams) params = pge_params_new ();

  pge_params_add_int64 (params, n);
  pge_atomic_add (atomic, "INSERT INTO items (n) VALUES ($1) RETURNING n", params);
}

static void
create_items (void)
{
  exec_ok (test_engine, "CREATE TABLE items (id serial, n int UNIQUE)");
}

/* ------------------------------------------------------------ successes */

Test (atomic, one_query_commits_and_gives_its_result)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) first = NULL;
  g_autoptr(GError) error = NULL;

  create_items ();
  add_insert (atomic, 7);
  cr_assert_eq (pge_atomic_get_n_queries (atomic), 1);
  future = pge_atomic_run (atomic);
  result = pge_future_wait (future, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 7);
  cr_assert_str_eq (pge_result_get_command_tag (result), "INSERT 0 1");
  first = pge_atomic_get_result (atomic, 0);
  cr_assert_eq (first, result, "the future's result is the last query's");
  cr_assert_eq (admin_count ("items"), 1);
}

Test (atomic, three_queries_give_three_results)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = pge_params_new ();

  create_items ();
  add_insert (atomic, 1);
  pge_params_add_int32 (params, 41);
  pge_atomic_add (atomic, "SELECT $1::int + 1 AS answer, 'x' AS other", params);
  pge_params_unref (g_steal_pointer (&params));   /* copied by add */
  pge_atomic_add (atomic, "UPDATE items SET n = n + 10", NULL);
  cr_assert (pge_atomic_run_sync (atomic, &error), "%s", error ? error->message : "");
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(PgeResult) result = pge_atomic_get_result (atomic, i);

      cr_assert_not_null (result, "result %u", i);
      if (i == 0)
        cr_assert_eq (pge_result_get_int64 (result, 0, 0), 1);
      if (i == 1)
        {
          cr_assert_eq (pge_result_get_int64 (result, 0, 0), 42);
          cr_assert_str_eq (pge_result_get_column_name (result, 1), "other");
        }
      if (i == 2)
        cr_assert_eq (pge_result_get_rows_affected (result), 1);
    }
  {
    g_autofree char *sql = g_strdup_printf ("SELECT n FROM %s.items", pge_test_schema ());
    g_autofree char *n = pge_test_admin_query (sql);

    cr_assert_str_eq (n, "11");
  }
}

Test (atomic, a_thousand_queries_in_one_run)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) last = NULL;
  g_autoptr(PgeResult) some = NULL;
  g_autoptr(GError) error = NULL;

  create_items ();
  for (gint64 i = 1; i <= 1000; i++)
    add_insert (atomic, i);
  cr_assert_eq (pge_atomic_get_n_queries (atomic), 1000);
  future = pge_atomic_run (atomic);
  last = pge_future_wait (future, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (last, 0, 0), 1000);
  some = pge_atomic_get_result (atomic, 499);
  cr_assert_eq (pge_result_get_int64 (some, 0, 0), 500);
  cr_assert_eq (admin_count ("items"), 1000);
}

Test (atomic, empty_atomic_succeeds_without_the_server)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (engine);
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(GError) error = NULL;

  /* Not even a closed engine matters: nothing is sent. */
  pge_engine_close (engine);
  future = pge_atomic_run (atomic);
  cr_assert (pge_future_is_done (future), "resolved at once");
  cr_assert_null (pge_future_wait (future, &error));
  cr_assert_null (error);
  cr_assert (pge_atomic_run_sync (atomic, &error));
  cr_assert_eq (pge_atomic_get_n_queries (atomic), 0);
}

Test (atomic, running_again_runs_again_and_replaces_the_results)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeResult) first = NULL;
  g_autoptr(PgeResult) second = NULL;
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE runs (id serial)");
  pge_atomic_add (atomic, "INSERT INTO runs DEFAULT VALUES RETURNING id", NULL);
  cr_assert (pge_atomic_run_sync (atomic, &error), "%s", error ? error->message : "");
  first = pge_atomic_get_result (atomic, 0);
  cr_assert (pge_atomic_run_sync (atomic, &error), "%s", error ? error->message : "");
  second = pge_atomic_get_result (atomic, 0);
  cr_assert_eq (pge_result_get_int64 (first, 0, 0), 1);
  cr_assert_eq (pge_result_get_int64 (second, 0, 0), 2);
  cr_assert_eq (admin_count ("runs"), 2);
  /* Queries added later join the next run. */
  pge_atomic_add (atomic, "SELECT count(*) FROM runs", NULL);
  cr_assert (pge_atomic_run_sync (atomic, &error));
  g_clear_pointer (&second, pge_result_unref);
  second = pge_atomic_get_result (atomic, 1);
  cr_assert_eq (pge_result_get_int64 (second, 0, 0), 3);
}

Test (atomic, a_comment_only_query_gives_an_empty_result)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  pge_atomic_add (atomic, "SELECT 1", NULL);
  pge_atomic_add (atomic, "-- nothing", NULL);
  cr_assert (pge_atomic_run_sync (atomic, &error), "%s", error ? error->message : "");
  result = pge_atomic_get_result (atomic, 1);
  cr_assert_eq (pge_result_get_n_rows (result), 0);
}

/* ------------------------------------------------------------- failures */

/* Five inserts of 1..5 where query @bad (1-based) is a duplicate of a row
 * that already exists: it must fail naming @bad, and leave the table as
 * it was. */
static void
fail_at (guint bad)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = g_strdup_printf ("query %u of 5 failed: ", bad);

  create_items ();
  exec_ok (test_engine, "INSERT INTO items (n) VALUES (100)");
  for (guint i = 1; i <= 5; i++)
    add_insert (atomic, i == bad ? 100 : i);
  future = pge_atomic_run (atomic);
  result = pge_future_wait (future, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_UNIQUE_VIOLATION);
  cr_assert (g_str_has_prefix (error->message, expected), "message: %s", error->message);
  cr_assert (strstr (error->message, "duplicate key") != NULL, "message: %s", error->message);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "23505");
  cr_assert_eq (admin_count ("items"), 1, "nothing of the atomic was committed");
  cr_assert_null (pge_atomic_get_result (atomic, 0), "no results after a failed run");
  g_clear_error (&error);
  /* The worker's connection is clean: the next atomic works. */
  g_clear_pointer (&atomic, pge_atomic_unref);
  atomic = pge_engine_atomic (test_engine);
  add_insert (atomic, 1);
  cr_assert (pge_atomic_run_sync (atomic, &error), "%s", error ? error->message : "");
  cr_assert_eq (admin_count ("items"), 2);
}

Test (atomic, failure_at_the_first_query)
{
  fail_at (1);
}

Test (atomic, failure_at_a_middle_query)
{
  fail_at (3);
}

Test (atomic, failure_at_the_last_query)
{
  fail_at (5);
}

Test (atomic, failure_on_every_worker_leaves_them_clean)
{
  g_autoptr(GError) error = NULL;

  create_items ();
  /* More failures than workers: each worker gets some. */
  for (int i = 0; i < 12; i++)
    {
      g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);

      add_insert (atomic, 1000 + i);
      pge_atomic_add (atomic, "SELECT 1 / 0", NULL);
      cr_assert_not (pge_atomic_run_sync (atomic, &error));
      cr_assert_str_eq (pge_error_get_sqlstate (error), "22012");
      cr_assert (g_str_has_prefix (error->message, "query 2 of 2 failed: "), "%s", error->message);
      g_clear_error (&error);
    }
  cr_assert_eq (admin_count ("items"), 0);
  for (int i = 0; i < 8; i++)
    {
      g_autoptr(PgeResult) result = pge_engine_query_sync (test_engine, "SELECT 1", NULL, &error);

      cr_assert_null (error, "%s", error ? error->message : "");
    }
}

Test (atomic, failing_commit_commits_nothing)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine,
           "CREATE TABLE parent (id int PRIMARY KEY);"
           "CREATE TABLE child (p int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)");
  pge_atomic_add (atomic, "INSERT INTO parent VALUES (1)", NULL);
  pge_atomic_add (atomic, "INSERT INTO child VALUES (2)", NULL);   /* checked at COMMIT */
  cr_assert_not (pge_atomic_run_sync (atomic, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_FOREIGN_KEY_VIOLATION);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "23503");
  cr_assert (strstr (error->message, "COMMIT") != NULL, "%s", error->message);
  cr_assert_eq (admin_count ("parent"), 0);
}

Test (atomic, null_sql_fails_the_run_naming_it_and_sends_nothing)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(GError) error = NULL;

  create_items ();
  add_insert (atomic, 1);
  pge_atomic_add (atomic, NULL, NULL);
  add_insert (atomic, 3);
  cr_assert_eq (pge_atomic_get_n_queries (atomic), 3);
  future = pge_atomic_run (atomic);
  cr_assert_null (pge_future_wait (future, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert (strstr (error->message, "query 2 of 3") != NULL, "%s", error->message);
  g_clear_error (&error);

  g_clear_pointer (&atomic, pge_atomic_unref);
  atomic = pge_engine_atomic (test_engine);
  add_insert (atomic, 1);
  pge_atomic_add (atomic, "  \n ", NULL);
  cr_assert_not (pge_atomic_run_sync (atomic, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert (strstr (error->message, "query 2 of 2 is empty") != NULL, "%s", error->message);
  cr_assert_eq (admin_count ("items"), 0);
}

Test (atomic, cancel_stops_it_and_commits_nothing)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (engine);
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  exec_ok (engine, "CREATE TABLE items (id serial, n int UNIQUE)");
  add_insert (atomic, 1);
  pge_atomic_add (atomic, "SELECT pg_sleep(10)", NULL);
  add_insert (atomic, 2);
  start = g_get_monotonic_time ();
  future = pge_atomic_run (atomic);
  cr_assert_not (pge_future_wait_timeout (future, 200), "pg_sleep(10) ended early");
  pge_future_cancel (future);
  result = pge_future_wait (future, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  cr_assert (g_str_has_prefix (error->message, "query 2 of 3 failed: "), "%s", error->message);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "57014");
  cr_assert_lt (g_get_monotonic_time () - start, 5 * G_TIME_SPAN_SECOND);
  g_clear_error (&error);
  cr_assert_eq (admin_count ("items"), 0);
  /* The only worker's connection is usable, outside any transaction. */
  g_clear_pointer (&result, pge_result_unref);
  result = pge_engine_query_sync (engine, "SELECT count(*) FROM items", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 0);
}

Test (atomic, cancel_while_queued_never_runs)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (engine);
  g_autoptr(PgeFuture) busy = NULL;
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) done = NULL;
  g_autoptr(GError) error = NULL;

  exec_ok (engine, "CREATE TABLE items (id serial, n int UNIQUE)");
  busy = pge_engine_query (engine, "SELECT pg_sleep(0.3)", NULL);   /* holds the worker */
  add_insert (atomic, 1);
  future = pge_atomic_run (atomic);
  pge_future_cancel (future);
  cr_assert_null (pge_future_wait (future, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  g_clear_error (&error);
  done = pge_future_wait (busy, &error);
  cr_assert_null (error);
  cr_assert_eq (admin_count ("items"), 0);
}

Test (atomic, results_are_not_available_before_a_successful_run)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  pge_atomic_add (atomic, "SELECT 1", NULL);
  cr_assert_null (pge_atomic_get_result (atomic, 0));        /* critical: before any run */
  cr_assert (pge_atomic_run_sync (atomic, &error));
  result = pge_atomic_get_result (atomic, 0);
  cr_assert_not_null (result);
  cr_assert_null (pge_atomic_get_result (atomic, 1));        /* critical: out of range */
}

Test (atomic, bad_input_is_an_error_not_a_crash)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (engine);
  g_autoptr(GError) error = NULL;

  /* Programming errors: a critical and a neutral return value. */
  cr_assert_null (pge_engine_atomic (NULL));
  cr_assert_null (pge_atomic_ref (NULL));
  pge_atomic_unref (NULL);
  pge_atomic_add (NULL, "SELECT 1", NULL);
  cr_assert_eq (pge_atomic_get_n_queries (NULL), 0);
  cr_assert_null (pge_atomic_run (NULL));
  cr_assert_not (pge_atomic_run_sync (NULL, NULL));
  cr_assert_null (pge_atomic_get_result (NULL, 0));
  cr_assert_neq (pge_atomic_get_type (), G_TYPE_INVALID);

  /* Errors the caller causes at run time. */
  pge_atomic_add (atomic, "SELECT 1", NULL);
  pge_engine_close (engine);
  cr_assert_not (pge_atomic_run_sync (atomic, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
}

Test (atomic, too_many_parameters_fail_before_sending)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 65536; i++)
    pge_params_add_null (params);
  pge_atomic_add (atomic, "SELECT 1", NULL);
  pge_atomic_add (atomic, "SELECT $1", params);
  cr_assert_not (pge_atomic_run_sync (atomic, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert (strstr (error->message, "query 2 of 2") != NULL, "%s", error->message);
}

/* ------------------------------------------------------------- logging */

static guint n_logged;
static GString *logged;

static GLogWriterOutput
count_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  (void) level;
  (void) user_data;
  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].key, "MESSAGE") == 0)
      {
        const char *message = fields[i].value;

        if (strstr (message, "pge_atomic_marker") != NULL)
          n_logged++;
        g_string_append_printf (logged, "%s\n", message);
      }
  return G_LOG_WRITER_HANDLED;
}

Test (atomic, logs_every_query)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeAtomic) atomic = NULL;
  g_autoptr(GError) error = NULL;

  logged = g_string_new (NULL);
  g_log_set_writer_func (count_writer, NULL, NULL);
  pge_config_set_log_queries (config, TRUE);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error);
  atomic = pge_engine_atomic (engine);
  for (int i = 0; i < 3; i++)
    pge_atomic_add (atomic, "SELECT 'pge_atomic_marker'", NULL);
  cr_assert (pge_atomic_run_sync (atomic, &error));
  cr_assert_eq (n_logged, 3, "log:\n%s", logged->str);
  cr_assert (strstr (logged->str, "BEGIN") != NULL, "log:\n%s", logged->str);
  cr_assert (strstr (logged->str, "COMMIT") != NULL, "log:\n%s", logged->str);
}

/* --------------------------------------------------------- transactions */

Test (atomic, inside_a_transaction_commits_with_it)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) seen = NULL;

  create_items ();
  add_insert (atomic, 1);
  add_insert (atomic, 2);
  tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert (pge_atomic_run_sync (atomic, &error), "%s", error ? error->message : "");
  /* Inside the transaction: visible there, not outside yet. */
  seen = pge_transaction_query_sync (tx, "SELECT count(*) FROM items", NULL, &error);
  cr_assert_eq (pge_result_get_int64 (seen, 0, 0), 2);
  cr_assert_eq (admin_count ("items"), 0);
  cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
  cr_assert_eq (admin_count ("items"), 2);
}

Test (atomic, inside_a_transaction_rolls_back_with_it)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;

  create_items ();
  add_insert (atomic, 1);
  tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert (pge_atomic_run_sync (atomic, &error), "%s", error ? error->message : "");
  cr_assert (pge_transaction_rollback (tx, &error));
  cr_assert_eq (admin_count ("items"), 0);
}

Test (atomic, failure_inside_a_transaction_undoes_only_the_atomic)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) before = NULL;
  g_autoptr(PgeResult) after = NULL;
  g_autoptr(PgeResult) seen = NULL;

  create_items ();
  add_insert (atomic, 2);
  add_insert (atomic, 1);      /* duplicate of the transaction's row */
  tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  before = pge_engine_query_sync (test_engine, "INSERT INTO items (n) VALUES (1)", NULL, &error);
  cr_assert_null (error);
  cr_assert_not (pge_atomic_run_sync (atomic, &error));
  cr_assert_str_eq (pge_error_get_sqlstate (error), "23505");
  cr_assert (g_str_has_prefix (error->message, "query 2 of 2 failed: "), "%s", error->message);
  g_clear_error (&error);
  /* The transaction is still usable and kept its own row, not the atomic's. */
  seen = pge_transaction_query_sync (tx, "SELECT count(*), max(n) FROM items", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (seen, 0, 0), 1);
  cr_assert_eq (pge_result_get_int64 (seen, 0, 1), 1);
  after = pge_engine_query_sync (test_engine, "INSERT INTO items (n) VALUES (3)", NULL, &error);
  cr_assert_null (error);
  cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
  cr_assert_eq (admin_count ("items"), 2);
}

Test (atomic, cancel_inside_a_transaction_leaves_it_usable)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  create_items ();
  tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  add_insert (atomic, 1);
  pge_atomic_add (atomic, "SELECT pg_sleep(10)", NULL);
  future = pge_atomic_run (atomic);
  cr_assert_not (pge_future_wait_timeout (future, 200));
  pge_future_cancel (future);
  result = pge_future_wait (future, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_pointer (&result, pge_result_unref);
  result = pge_transaction_query_sync (tx, "INSERT INTO items (n) VALUES (5)", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
  cr_assert_eq (admin_count ("items"), 1);
}

/* libpq hands a COPY result back forever in pipeline mode: the atomic must
 * end the COPY itself, fail, and leave the worker usable (it once spun on
 * the worker thread, and engine close then never returned). */
Test (atomic, copy_fails_instead_of_hanging_the_worker)
{
  const char *copies[] = { "COPY (SELECT 1) TO STDOUT", "COPY pg_catalog.pg_description FROM STDIN" };

  for (guint i = 0; i < G_N_ELEMENTS (copies); i++)
    {
      g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
      g_autoptr(PgeAtomic) atomic = pge_engine_atomic (engine);
      g_autoptr(PgeFuture) future = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = NULL;
      g_autoptr(PgeResult) after = NULL;

      pge_atomic_add (atomic, copies[i], NULL);
      pge_atomic_add (atomic, "SELECT 2", NULL);
      future = pge_atomic_run (atomic);
      cr_assert (pge_future_wait_timeout (future, 10000), "%s: the atomic hung", copies[i]);
      result = pge_future_wait (future, &error);
      cr_assert_null (result);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
      cr_assert (strstr (error->message, "query 1 of 2") != NULL, "%s", error->message);
      g_clear_error (&error);
      after = pge_engine_query_sync (engine, "SELECT 3", NULL, &error);
      cr_assert_not_null (after, "%s", error ? error->message : "");
      cr_assert_eq (pge_result_get_int64 (after, 0, 0), 3);
    }
}
