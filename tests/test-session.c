/* test-session.c — PgeSession: one connection held outside any
 * transaction, routing of the thread's calls into it, the reset before
 * the connection serves anyone else, faults.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (session, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* ------------------------------------------------------------- helpers */

static char *
session_text (PgeSession *session, const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_session_query_sync (session, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  return g_strdup (pge_result_get_value (result, 0, 0));
}

static gint64
session_int (PgeSession *session, const char *sql)
{
  g_autofree char *text = session_text (session, sql);

  return g_ascii_strtoll (text, NULL, 10);
}

static char *
engine_text (PgeEngine *engine, const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  return g_strdup (pge_result_get_value (result, 0, 0));
}

static gint64
engine_int (PgeEngine *engine, const char *sql)
{
  g_autofree char *text = engine_text (engine, sql);

  return g_ascii_strtoll (text, NULL, 10);
}

static PgeSession *
session_new (PgeEngine *engine)
{
  g_autoptr(GError) error = NULL;
  PgeSession *session = pge_engine_session (engine, &error);

  cr_assert_null (error, "pge_engine_session: %s", error ? error->message : "");
  cr_assert_not_null (session);
  return session;
}

static gint64
advisory_locks_held (gint64 key)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                          "AND objid = %" G_GINT64_FORMAT " AND granted", key);
  g_autofree char *count = pge_test_admin_query (sql);

  return g_ascii_strtoll (count, NULL, 10);
}

/* --------------------------------------------------------------- state */

Test (session, temp_table_is_used_across_the_session)
{
  g_autoptr(PgeSession) session = session_new (test_engine);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  cr_assert (pge_session_exec_sync (session, "CREATE TEMP TABLE scratch (n int)", &error),
             "%s", error ? error->message : "");
  for (int i = 0; i < 10; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_int64 (params, i);
      result = pge_session_query_sync (session, "INSERT INTO scratch VALUES ($1)", params, &error);
      cr_assert_null (error, "%s", error ? error->message : "");
      g_clear_pointer (&result, pge_result_unref);
    }
  /* Engine-level calls from this thread go into the session too. */
  result = pge_engine_query_sync (test_engine, "INSERT INTO scratch VALUES (10)", NULL, &error);
  cr_assert_null (error, "routed into the session: %s", error ? error->message : "");
  cr_assert_eq (session_int (session, "SELECT count(*) FROM scratch"), 11);
  cr_assert_eq (engine_int (test_engine, "SELECT sum(n) FROM scratch"), 55);
  cr_assert (pge_session_end (session, &error));
}

static gpointer
show_work_mem_thread (gpointer data)
{
  return engine_text (data, "SHOW work_mem");
}

Test (session, set_is_seen_only_inside_the_session)
{
  g_autoptr(PgeSession) session = session_new (test_engine);
  g_autofree char *inside = NULL;
  g_autofree char *outside = NULL;
  g_autofree char *routed = NULL;

  cr_assert (pge_session_exec_sync (session, "SET work_mem = '7MB'", NULL));
  inside = session_text (session, "SHOW work_mem");
  routed = engine_text (test_engine, "SHOW work_mem");
  /* Another thread has no session: it gets another connection. */
  outside = g_thread_join (g_thread_new ("outside", show_work_mem_thread, test_engine));
  cr_assert_str_eq (inside, "7MB");
  cr_assert_str_eq (routed, "7MB");
  cr_assert_str_neq (outside, "7MB");
}

Test (session, is_the_current_session_of_its_thread_only)
{
  g_autoptr(PgeSession) session = session_new (test_engine);
  g_autoptr(GError) error = NULL;

  cr_assert_eq (pge_engine_get_current_session (test_engine), session);
  cr_assert_eq (pge_session_get_engine (session), test_engine);
  cr_assert_not (pge_session_is_ended (session));
  cr_assert (pge_session_end (session, &error));
  cr_assert (pge_session_is_ended (session));
  cr_assert_null (pge_engine_get_current_session (test_engine));
}

Test (session, advisory_lock_is_released_by_end)
{
  g_autoptr(PgeSession) session = session_new (test_engine);
  g_autoptr(GError) error = NULL;
  gint64 key = 4700000 + g_random_int_range (0, 100000);
  g_autofree char *lock = g_strdup_printf ("SELECT pg_advisory_lock(%" G_GINT64_FORMAT ")", key);

  g_free (session_text (session, lock));
  /* Held between statements: a session lock, no transaction. */
  g_free (session_text (session, "SELECT 1"));
  cr_assert_eq (advisory_locks_held (key), 1);
  cr_assert (pge_session_end (session, &error), "%s", error ? error->message : "");
  cr_assert_eq (advisory_locks_held (key), 0);
}

/* With one worker the next user gets the very connection the session
 * had (same backend), and finds none of what the session left. */
Test (session, is_reset_before_the_connection_serves_anyone_else)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = pge_params_new ();
  gint64 pid, key = 4800000 + g_random_int_range (0, 100000);
  g_autofree char *lock = g_strdup_printf ("SELECT pg_advisory_lock(%" G_GINT64_FORMAT ")", key);
  g_autofree char *default_work_mem = engine_text (engine, "SHOW work_mem");
  g_autofree char *default_path = engine_text (engine, "SHOW search_path");
  g_autofree char *path_after = NULL;
  g_autofree char *work_mem_after = NULL;
  g_autoptr(PgeResult) cached = NULL;

  /* A statement the engine has prepared (its cache) before the session. */
  pge_params_add_int64 (params, 5);
  cached = pge_engine_query_sync (engine, "SELECT $1::int8 * 2", params, &error);
  cr_assert_null (error);
  {
    g_autoptr(PgeSession) session = session_new (engine);

    pid = session_int (session, "SELECT pg_backend_pid()");
    cr_assert (pge_session_exec_sync (session, "CREATE TEMP TABLE leftover (n int); "
                                      "SET work_mem = '9MB'; PREPARE mine AS SELECT 42", &error),
               "%s", error ? error->message : "");
    g_free (session_text (session, lock));
    cr_assert (pge_session_end (session, &error), "%s", error ? error->message : "");
  }
  cr_assert_eq (engine_int (engine, "SELECT pg_backend_pid()"), pid, "not the same connection");
  cr_assert_eq (engine_int (engine, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'mine'"), 0);
  cr_assert_eq (engine_int (engine, "SELECT count(*) FROM pg_class WHERE relname = 'leftover' "
                                    "AND relpersistence = 't' AND pg_table_is_visible(oid)"), 0);
  work_mem_after = engine_text (engine, "SHOW work_mem");
  path_after = engine_text (engine, "SHOW search_path");
  cr_assert_str_eq (work_mem_after, default_work_mem);
  /* The connection's own settings (the test schema) survive the reset. */
  cr_assert_str_eq (path_after, default_path);
  cr_assert_eq (advisory_locks_held (key), 0);
  /* The engine's cache forgot what DISCARD ALL deallocated. */
  g_clear_pointer (&cached, pge_result_unref);
  cached = pge_engine_query_sync (engine, "SELECT $1::int8 * 2", params, &error);
  cr_assert_null (error, "cached statement after the reset: %s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (cached, 0, 0), 10);
}

Test (session, dropped_without_end_is_reset_too)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  PgeSession *session = session_new (engine);
  g_autoptr(GError) error = NULL;

  cr_assert (pge_session_exec_sync (session, "CREATE TEMP TABLE dropped (n int); SET work_mem = '9MB'",
                                    &error), "%s", error ? error->message : "");
  pge_session_unref (session);
  cr_assert_null (pge_engine_get_current_session (engine));
  cr_assert_eq (engine_int (engine, "SELECT count(*) FROM pg_class WHERE relname = 'dropped' "
                                    "AND relpersistence = 't' AND pg_table_is_visible(oid)"), 0);
  {
    g_autofree char *work_mem = engine_text (engine, "SHOW work_mem");

    cr_assert_str_neq (work_mem, "9MB");
  }
}

Test (session, statement_timeout_survives_the_reset)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *timeout = NULL;

  pge_config_set_statement_timeout (config, 4321);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error);
  {
    g_autoptr(PgeSession) session = session_new (engine);

    cr_assert (pge_session_exec_sync (session, "SET statement_timeout = 0", NULL));
  }
  timeout = engine_text (engine, "SHOW statement_timeout");
  cr_assert_str_eq (timeout, "4321ms");
}

/* ------------------------------------------------------- transactions */

Test (session, transaction_inside_runs_on_the_session_connection)
{
  g_autoptr(PgeSession) session = session_new (test_engine);
  g_autoptr(GError) error = NULL;
  gint64 pid = session_int (session, "SELECT pg_backend_pid()");

  cr_assert (pge_session_exec_sync (session, "CREATE TEMP TABLE t (n int)", &error));
  {
    g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
    g_autoptr(PgeResult) result = NULL;

    cr_assert_null (error, "%s", error ? error->message : "");
    result = pge_transaction_query_sync (tx, "SELECT pg_backend_pid()", NULL, &error);
    cr_assert_eq (pge_result_get_int64 (result, 0, 0), pid);
    cr_assert (pge_transaction_exec_sync (tx, "INSERT INTO t VALUES (1)", &error));
    cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
  }
  {
    g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);

    cr_assert (pge_transaction_exec_sync (tx, "INSERT INTO t VALUES (2)", &error));
    cr_assert (pge_transaction_rollback (tx, &error));
  }
  {
    /* Dropped while open: rolled back, and the session goes on. */
    g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);

    cr_assert (pge_transaction_exec_sync (tx, "INSERT INTO t VALUES (3)", &error));
  }
  cr_assert_eq (session_int (session, "SELECT count(*) FROM t"), 1);
  cr_assert_eq (session_int (session, "SELECT sum(n) FROM t"), 1);
  cr_assert_eq (session_int (session, "SELECT pg_backend_pid()"), pid);
  cr_assert (pge_session_end (session, &error));
}

/* --------------------------------------------------------- bad input */

Test (session, bad_input_is_an_error)
{
  g_autoptr(PgeSession) session = session_new (test_engine);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_session_query_sync (session, NULL, NULL, &error);
  g_autoptr(PgeFuture) future = pge_session_query (session, NULL, NULL);

  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  result = pge_future_wait (future, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_not (pge_session_exec_sync (session, NULL, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* A server error leaves the session usable. */
  result = pge_session_query_sync (session, "SELECT 1/0", NULL, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  g_clear_error (&error);
  cr_assert_eq (session_int (session, "SELECT 7"), 7);
}

Test (session, refused_inside_a_transaction)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeSession) session = NULL;

  cr_assert_null (error);
  session = pge_engine_session (test_engine, &error);
  cr_assert_null (session);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_NESTED);
}

Test (session, end_twice_and_use_after_end_are_errors)
{
  g_autoptr(PgeSession) session = session_new (test_engine);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeFuture) future = NULL;

  cr_assert (pge_session_end (session, &error));
  cr_assert_not (pge_session_end (session, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  g_clear_error (&error);
  result = pge_session_query_sync (session, "SELECT 1", NULL, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  g_clear_error (&error);
  future = pge_session_query (session, "SELECT 1", NULL);
  result = pge_future_wait (future, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  g_clear_error (&error);
  /* The thread's calls go to the pool again. */
  cr_assert_eq (engine_int (test_engine, "SELECT 3"), 3);
}

Test (session, waits_at_most_the_acquire_timeout)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeSession) held = NULL;
  g_autoptr(PgeSession) second = NULL;
  g_autoptr(GError) error = NULL;

  pge_config_set_acquire_timeout (config, 200);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error);
  held = session_new (engine);
  second = pge_engine_session (engine, &error);
  cr_assert_null (second);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
}

/* -------------------------------------------------------------- faults */

Test (session, engine_close_with_an_open_session)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (2);
  g_autoptr(PgeSession) session = session_new (engine);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  cr_assert (pge_session_exec_sync (session, "SET work_mem = '9MB'", NULL));
  pge_engine_close (engine);
  result = pge_session_query_sync (session, "SELECT 1", NULL, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
  g_clear_error (&error);
  cr_assert (pge_session_end (session, &error), "%s", error ? error->message : "");
}

Test (session, terminated_connection_fails_the_session_not_the_engine)
{
  g_autoptr(PgeSession) session = session_new (test_engine);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  gint64 pid = session_int (session, "SELECT pg_backend_pid()");

  cr_assert (pge_session_exec_sync (session, "CREATE TEMP TABLE gone (n int)", NULL));
  pge_test_terminate_backend (pid);
  result = pge_session_query_sync (session, "SELECT count(*) FROM gone", NULL, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  /* No transaction was open: the error does not speak of one. */
  cr_assert (strstr (error->message, "session") != NULL, "%s", error->message);
  cr_assert (strstr (error->message, "transaction") == NULL, "%s", error->message);
  g_clear_error (&error);
  /* Never silently on another connection, where the table is not. */
  result = pge_session_query_sync (session, "SELECT 1", NULL, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  cr_assert (strstr (error->message, "transaction") == NULL, "%s", error->message);
  g_clear_error (&error);
  cr_assert (pge_session_end (session, &error), "%s", error ? error->message : "");
  for (int i = 0; i < 8; i++)
    cr_assert_eq (engine_int (test_engine, "SELECT 5"), 5);
}

/* With a transaction block open in the session (BEGIN by hand), the
 * error says that the server rolled it back. */
Test (session, terminated_connection_inside_a_begin_names_the_rolled_back_transaction)
{
  g_autoptr(PgeSession) session = session_new (test_engine);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  gint64 pid = session_int (session, "SELECT pg_backend_pid()");

  cr_assert (pge_session_exec_sync (session, "BEGIN; CREATE TEMP TABLE gone (n int)", NULL));
  pge_test_terminate_backend (pid);
  result = pge_session_query_sync (session, "SELECT count(*) FROM gone", NULL, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  cr_assert (strstr (error->message, "session") != NULL, "%s", error->message);
  cr_assert (strstr (error->message, "rolled back the transaction") != NULL, "%s", error->message);
  g_clear_error (&error);
  cr_assert (pge_session_end (session, &error), "%s", error ? error->message : "");
}

/* ------------------------------------------------- statement hygiene */

/* The engine's cache evicts its own statements one by one (DEALLOCATE
 * name), never DEALLOCATE ALL: what the user PREPAREd in a session lives
 * on however many statements go through the cache. */
Test (session, user_prepared_statement_survives_cache_eviction)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeSession) session = NULL;
  g_autoptr(GError) error = NULL;
  gint64 cached;

  pge_config_set_statement_cache (config, 2);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error);
  session = session_new (engine);
  cr_assert (pge_session_exec_sync (session, "PREPARE mine (int) AS SELECT $1 + 1000", &error));
  for (int i = 0; i < 20; i++)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT $1::int + %d", i);
      g_autoptr(PgeParams) params = pge_params_new ();
      g_autoptr(PgeResult) result = NULL;

      pge_params_add_int64 (params, i);
      result = pge_session_query_sync (session, sql, params, &error);
      cr_assert_null (error, "%s", error ? error->message : "");
      cr_assert_eq (pge_result_get_int64 (result, 0, 0), 2 * i);
    }
  /* The cache holds 2 of its own at most: the rest were evicted. */
  cached = session_int (session, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pge\\_%'");
  cr_assert_leq (cached, 3);
  cr_assert_eq (session_int (session, "EXECUTE mine (5)"), 1005);
}

/* ---------------------------------------------------------------- async */

typedef struct {
  GMainLoop  *loop;
  PgeSession *session;
  GError     *error;
} AsyncWait;

static void
session_taken (GObject *source, GAsyncResult *res, gpointer data)
{
  AsyncWait *wait = data;

  wait->session = pge_engine_session_finish (test_engine, res, &wait->error);
  g_main_loop_quit (wait->loop);
}

/* The same for any engine: @source is the engine the call was made on. */
static void
session_taken_on (GObject *source, GAsyncResult *res, gpointer data)
{
  AsyncWait *wait = data;

  wait->session = pge_engine_session_finish (PGE_ENGINE (source), res, &wait->error);
  g_main_loop_quit (wait->loop);
}

Test (session, async_session_is_not_current_but_holds_its_connection)
{
  AsyncWait wait = { .loop = g_main_loop_new (NULL, FALSE) };
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 pid;

  pge_engine_session_async (test_engine, NULL, session_taken, &wait);
  g_main_loop_run (wait.loop);
  cr_assert_null (wait.error, "%s", wait.error ? wait.error->message : "");
  cr_assert_not_null (wait.session);
  cr_assert_null (pge_engine_get_current_session (test_engine));
  pid = session_int (wait.session, "SELECT pg_backend_pid()");
  cr_assert (pge_session_exec_sync (wait.session, "CREATE TEMP TABLE a (n int)", NULL));
  future = pge_session_query (wait.session, "SELECT count(*), pg_backend_pid() FROM a", NULL);
  result = pge_future_wait (future, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (g_ascii_strtoll (pge_result_get_value (result, 0, 1), NULL, 10), pid);
  cr_assert (pge_session_end (wait.session, &error));
  g_clear_pointer (&wait.session, pge_session_unref);

  /* Cancelled before it starts: nothing is taken. */
  g_cancellable_cancel (cancellable);
  pge_engine_session_async (test_engine, cancellable, session_taken, &wait);
  g_main_loop_run (wait.loop);
  cr_assert_null (wait.session);
  cr_assert (g_error_matches (wait.error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error (&wait.error);
  g_main_loop_unref (wait.loop);
}

/* The engine closed under a session ends it: the doc says so. */
Test (session, is_ended_once_the_engine_closed)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeSession) session = pge_engine_session (engine, &error);
  g_autoptr(PgeResult) result = NULL;

  cr_assert_not_null (session, "%s", error ? error->message : "");
  cr_assert_not (pge_session_is_ended (session));
  pge_engine_close (engine);
  cr_assert (pge_session_is_ended (session), "the session is not ended after pge_engine_close()");
  result = pge_session_query_sync (session, "SELECT 1", NULL, &error);
  cr_assert_null (result);
  cr_assert_not_null (error);
}

/* The connection an async session held is reset before anyone else gets
 * it, as a blocking session's is: temp tables, SETs, advisory locks and
 * prepared statements are gone (the lease is marked for reset at
 * pge_engine_session_async(), not only at pge_engine_session()). */
Test (session, async_session_is_reset_before_the_connection_serves_anyone_else)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  AsyncWait wait = { .loop = g_main_loop_new (NULL, FALSE) };
  g_autoptr(GError) error = NULL;
  gint64 pid, key = 4900000 + g_random_int_range (0, 100000);
  g_autofree char *lock = g_strdup_printf ("SELECT pg_advisory_lock(%" G_GINT64_FORMAT ")", key);
  g_autofree char *default_work_mem = engine_text (engine, "SHOW work_mem");
  g_autofree char *work_mem_after = NULL;

  pge_engine_session_async (engine, NULL, session_taken_on, &wait);
  g_main_loop_run (wait.loop);
  cr_assert_null (wait.error, "%s", wait.error ? wait.error->message : "");
  pid = session_int (wait.session, "SELECT pg_backend_pid()");
  cr_assert (pge_session_exec_sync (wait.session, "CREATE TEMP TABLE async_leftover (n int); "
                                    "SET work_mem = '9MB'; PREPARE async_mine AS SELECT 42", &error),
             "%s", error ? error->message : "");
  g_free (session_text (wait.session, lock));
  cr_assert_eq (advisory_locks_held (key), 1);
  cr_assert (pge_session_end (wait.session, &error), "%s", error ? error->message : "");
  g_clear_pointer (&wait.session, pge_session_unref);
  g_main_loop_unref (wait.loop);

  cr_assert_eq (engine_int (engine, "SELECT pg_backend_pid()"), pid, "not the same connection");
  cr_assert_eq (engine_int (engine, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'async_mine'"), 0);
  cr_assert_eq (engine_int (engine, "SELECT count(*) FROM pg_class WHERE relname = 'async_leftover' "
                                    "AND relpersistence = 't' AND pg_table_is_visible(oid)"), 0);
  work_mem_after = engine_text (engine, "SHOW work_mem");
  cr_assert_str_eq (work_mem_after, default_work_mem);
  cr_assert_eq (advisory_locks_held (key), 0);
}

/* DISCARD ALL deallocates the engine's prepared statements too: the
 * connection's statement cache must forget them, or the next transaction
 * on that connection runs a cached statement the server no longer has
 * (26000), which aborts it. Outside a transaction a miss is retried
 * unprepared and never seen; inside one it is not, so only this shows it. */
Test (session, cached_statement_runs_in_a_transaction_after_the_reset)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = pge_params_new ();
  const char *sql = "SELECT $1::int8 * 3";
  gint64 pid;

  pge_params_add_int64 (params, 7);
  {
    g_autoptr(PgeResult) cached = pge_engine_query_sync (engine, sql, params, &error);

    cr_assert_null (error, "%s", error ? error->message : "");
    pid = engine_int (engine, "SELECT pg_backend_pid()");
  }
  {
    g_autoptr(PgeSession) session = session_new (engine);

    cr_assert_eq (session_int (session, "SELECT pg_backend_pid()"), pid, "not the same connection");
    cr_assert (pge_session_end (session, &error), "%s", error ? error->message : "");
  }
  {
    g_autoptr(PgeTransaction) tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
    g_autoptr(PgeResult) result = NULL;
    g_autoptr(PgeResult) backend = NULL;

    cr_assert_null (error, "%s", error ? error->message : "");
    backend = pge_transaction_query_sync (tx, "SELECT pg_backend_pid()", NULL, &error);
    cr_assert_null (error, "%s", error ? error->message : "");
    cr_assert_eq (pge_result_get_int64 (backend, 0, 0), pid, "not the same connection");
    result = pge_transaction_query_sync (tx, sql, params, &error);
    cr_assert_null (error, "cached statement in a transaction after the reset: %s",
                    error ? error->message : "");
    cr_assert_eq (pge_result_get_int64 (result, 0, 0), 21);
    cr_assert (pge_transaction_commit (tx, &error), "commit: %s", error ? error->message : "");
  }
}
