/* test-engine.c — PgeEngine: start, queries, routing, stats, close.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (engine, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* ------------------------------------------------------------- helpers */

/* Gate, gate_close () and gate_open () come from the fixture. */

/* Signals once started, then runs `SELECT pg_sleep(@seconds)`. */
typedef struct {
  Gate   gate;
  double seconds;
} Sleeper;

static PGresult *
sleeper_run (PGconn *conn, gpointer data, GError **error)
{
  Sleeper *sleeper = data;
  g_autofree char *sql = g_strdup_printf ("SELECT pg_sleep(%g), 'slept'", sleeper->seconds);

  g_mutex_lock (&sleeper->gate.lock);
  sleeper->gate.started = TRUE;
  g_cond_broadcast (&sleeper->gate.cond);
  g_mutex_unlock (&sleeper->gate.lock);
  return PQexec (conn, sql);
}

static PgeFuture *
sleeper_start (PgeEngine *engine, Sleeper *sleeper, double seconds)
{
  PgeFuture *future;

  sleeper->seconds = seconds;
  future = pge_engine_run_in_worker (engine, sleeper_run, sleeper, NULL);
  gate_wait_started (&sleeper->gate);
  return future;
}

static PgeEngine *
new_engine_with (PgeConfig *config)
{
  g_autoptr(GError) error = NULL;
  PgeEngine *engine = pge_engine_new (config, &error);

  cr_assert_null (error, "pge_engine_new: %s", error ? error->message : "");
  return engine;
}

/* --------------------------------------------------------------- start */

Test (engine, select_one_returns_one_row)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (test_engine, "SELECT 1 AS one", NULL, &error);

  cr_assert_null (error);
  cr_assert_eq (pge_result_get_n_rows (result), 1);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 1);
  cr_assert_str_eq (pge_result_get_column_name (result, 0), "one");
}

Test (engine, new_fails_fast_on_a_closed_port)
{
  g_autoptr(PgeConfig) config = pge_config_new ("host=127.0.0.1 port=1 dbname=postgres");
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  PgeEngine *engine = pge_engine_new (config, &error);

  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  cr_assert_lt (g_get_monotonic_time () - start, 5 * G_USEC_PER_SEC, "not fast");
  cr_assert_not_null (strstr (error->message, "refused"), "%s", error->message);
}

Test (engine, new_fails_with_the_servers_message_for_a_bad_database)
{
  g_autofree char *conninfo = g_strdup_printf ("%s dbname=pge_no_such_db", pge_test_conninfo ());
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine = pge_engine_new (config, &error);

  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  cr_assert_not_null (strstr (error->message, "database \"pge_no_such_db\" does not exist"), "%s",
                      error->message);
}

Test (engine, server_version_is_at_least_15)
{
  cr_assert_geq (pge_engine_get_server_version (test_engine), 150000);
}

Test (engine, n_workers_is_the_configured_count)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (3);

  cr_assert_eq (pge_engine_get_n_workers (test_engine), 4);
  cr_assert_eq (pge_engine_get_n_workers (engine), 3);
}

Test (engine, ref_keeps_it_open_and_the_type_is_a_gobject)
{
  PgeEngine *ref = pge_engine_ref (test_engine);
  g_autoptr(PgeResult) result = NULL;

  cr_assert_eq (ref, test_engine);
  pge_engine_unref (ref);
  result = pge_engine_query_sync (test_engine, "SELECT 1", NULL, NULL);
  cr_assert_not_null (result);
  cr_assert (G_TYPE_IS_OBJECT (pge_engine_get_type ()));
  cr_assert (G_IS_INITABLE (test_engine));
}

/* ------------------------------------------------------------- queries */

typedef struct {
  PgeEngine *engine;
  int        thread_index;
  int        n_bad;
} Hammer;

#define N_THREADS 8
#define N_PER_THREAD 200

static gpointer
hammer_thread (gpointer data)
{
  Hammer *hammer = data;
  PgeFuture *futures[N_PER_THREAD];

  for (int i = 0; i < N_PER_THREAD; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_int64 (params, (gint64) hammer->thread_index * 1000000 + i);
      futures[i] = pge_engine_query (hammer->engine, "SELECT $1::int8 * 2, $1::int8", params);
    }
  for (int i = 0; i < N_PER_THREAD; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures[i], &error);
      gint64 sent = (gint64) hammer->thread_index * 1000000 + i;

      if (result == NULL || pge_result_get_int64 (result, 0, 0) != 2 * sent ||
          pge_result_get_int64 (result, 0, 1) != sent)
        hammer->n_bad++;
      pge_future_unref (futures[i]);
    }
  return NULL;
}

Test (engine, many_threads_many_futures_each_gets_its_own_result)
{
  Hammer hammers[N_THREADS];
  GThread *threads[N_THREADS];
  PgeStats before, after;

  pge_engine_get_stats (test_engine, &before);
  for (int t = 0; t < N_THREADS; t++)
    {
      hammers[t] = (Hammer) { test_engine, t, 0 };
      threads[t] = g_thread_new ("hammer", hammer_thread, &hammers[t]);
    }
  for (int t = 0; t < N_THREADS; t++)
    g_thread_join (threads[t]);
  for (int t = 0; t < N_THREADS; t++)
    cr_assert_eq (hammers[t].n_bad, 0, "thread %d: %d wrong results", t, hammers[t].n_bad);
  pge_engine_get_stats (test_engine, &after);
  cr_assert_eq (after.n_completed - before.n_completed, N_THREADS * N_PER_THREAD);
  cr_assert_eq (after.n_failed, before.n_failed);
}

Test (engine, null_sql_is_invalid_argument)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, NULL, NULL);
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_null (pge_engine_query_sync (test_engine, NULL, NULL, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}

Test (engine, empty_query_is_invalid_argument)
{
  const char *empties[] = { "", "   ", ";", "-- only a comment" };

  for (guint i = 0; i < G_N_ELEMENTS (empties); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_engine_query_sync (test_engine, empties[i], NULL, &error);

      cr_assert_null (result, "'%s'", empties[i]);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
    }
}

Test (engine, multiple_statements_in_a_query_are_a_query_error)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (test_engine, "SELECT 1; SELECT 2", NULL, &error);
  g_autoptr(PgeResult) next = NULL;

  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42601");
  g_clear_error (&error);
  next = pge_engine_query_sync (test_engine, "SELECT 1", NULL, &error);
  cr_assert_null (error);
}

Test (engine, copy_from_stdin_in_a_query_is_refused_without_hanging)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) count = NULL;
  PgeStats before, after;

  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE copied (v int)", &error));
  pge_engine_get_stats (engine, &before);
  result = pge_engine_query_sync (engine, "COPY copied FROM STDIN", NULL, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  result = pge_engine_query_sync (engine, "COPY copied TO STDOUT", NULL, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* Same worker, same connection, back in business. */
  count = pge_engine_query_sync (engine, "SELECT count(*) FROM copied", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (count, 0, 0), 0);
  pge_engine_get_stats (engine, &after);
  cr_assert_eq (after.n_reconnects, before.n_reconnects);
}

Test (engine, query_sync_with_null_error_returns_null_on_failure)
{
  cr_assert_null (pge_engine_query_sync (test_engine, "SELECT 1/0", NULL, NULL));
}

/* ----------------------------------------------------------- exec_sync */

Test (engine, exec_sync_runs_a_multi_statement_script)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  cr_assert (pge_engine_exec_sync (test_engine,
                                   "CREATE TABLE script (v int);\n"
                                   "INSERT INTO script VALUES (1);\n"
                                   "INSERT INTO script VALUES (2);\n"
                                   "UPDATE script SET v = v * 10;", &error));
  cr_assert_null (error);
  result = pge_engine_query_sync (test_engine, "SELECT sum(v) FROM script", NULL, &error);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 30);
}

Test (engine, exec_sync_of_null_is_invalid_argument)
{
  g_autoptr(GError) error = NULL;

  cr_assert_not (pge_engine_exec_sync (test_engine, NULL, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}

Test (engine, exec_sync_of_empty_script_succeeds)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_exec_sync (test_engine, "", &error));
  cr_assert_null (error);
}

Test (engine, failing_script_rolls_back_every_statement)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  cr_assert_not (pge_engine_exec_sync (test_engine,
                                       "CREATE TABLE half (v int);"
                                       "INSERT INTO half VALUES (1);"
                                       "SELECT 1/0;"
                                       "INSERT INTO half VALUES (2);", &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "22012");
  g_clear_error (&error);
  result = pge_engine_query_sync (test_engine, "SELECT to_regclass('half') IS NULL", NULL, &error);
  cr_assert_null (error);
  cr_assert (pge_result_get_boolean (result, 0, 0), "the table of a failed script exists");
}

Test (engine, script_with_syntax_error_is_query_error)
{
  g_autoptr(GError) error = NULL;

  cr_assert_not (pge_engine_exec_sync (test_engine, "CREATE TABLE ok (v int); CREAT oops", &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42601");
}

/* ------------------------------------------------------------- routing */

Test (engine, query_on_node_routes_by_name)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeFuture) on_replica = NULL;
  g_autoptr(PgeFuture) on_null = NULL;
  g_autoptr(PgeFuture) null_sql = NULL;
  g_autoptr(PgeFuture) unknown = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = pge_params_new ();

  pge_config_add_node (config, "replica", pge_test_schema_conninfo (), 1);
  engine = new_engine_with (config);
  pge_params_add_int32 (params, 20);
  on_replica = pge_engine_query_on_node (engine, "replica", "SELECT $1 + 1", params);
  result = pge_future_wait (on_replica, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 21);

  unknown = pge_engine_query_on_node (engine, "Replica", "SELECT 1", NULL);
  cr_assert (pge_future_is_done (unknown));
  cr_assert_null (pge_future_wait (unknown, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  on_null = pge_engine_query_on_node (engine, NULL, "SELECT 1", NULL);
  cr_assert_null (pge_future_wait (on_null, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  null_sql = pge_engine_query_on_node (engine, "replica", NULL, NULL);
  cr_assert_null (pge_future_wait (null_sql, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}

Test (engine, a_busy_node_does_not_hold_up_the_other)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeFuture) blocker = NULL;
  g_autoptr(PgeFuture) on_replica = NULL;
  g_autoptr(PgeResult) result = NULL;
  Gate gate = { 0 };

  pge_config_add_node (config, "replica", pge_test_schema_conninfo (), 1);
  engine = new_engine_with (config);
  blocker = gate_close (engine, &gate);   /* the primary's only worker */
  on_replica = pge_engine_query_on_node (engine, "replica", "SELECT 'free'", NULL);
  result = pge_future_wait (on_replica, NULL);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "free");
  cr_assert_not (pge_future_is_done (blocker));
  gate_open (&gate);
}

/* --------------------------------------------------------------- close */

Test (engine, close_with_pending_work_fails_queued_and_finishes_running)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  Sleeper sleeper = { 0 };
  g_autoptr(PgeFuture) running = sleeper_start (engine, &sleeper, 0.5);
  PgeFuture *queued[20];
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  gint64 start;

  for (int i = 0; i < 20; i++)
    queued[i] = pge_engine_query (engine, "SELECT 1", NULL);
  start = g_get_monotonic_time ();
  pge_engine_close (engine);
  cr_assert_lt (g_get_monotonic_time () - start, 4 * G_USEC_PER_SEC, "close took too long");
  cr_assert (pge_future_is_done (running));
  result = pge_future_wait (running, &error);
  cr_assert_null (error, "the running job failed: %s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "slept");
  for (int i = 0; i < 20; i++)
    {
      g_autoptr(GError) queued_error = NULL;
      g_autoptr(PgeResult) none = NULL;

      cr_assert (pge_future_is_done (queued[i]));
      none = pge_future_wait (queued[i], &queued_error);
      cr_assert_null (none);
      pge_assert_error (queued_error, PGE_ERROR, PGE_ERROR_CLOSED);
      pge_future_unref (queued[i]);
    }
}

Test (engine, close_is_idempotent)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (2);

  pge_engine_close (engine);
  pge_engine_close (engine);
  pge_engine_close (engine);
  cr_assert (pge_engine_is_closed (engine));
  cr_assert_not (pge_engine_is_closed (test_engine));
}

Test (engine, work_after_close_fails_closed)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeFuture) call = NULL;
  g_autoptr(PgeResult) result = NULL;
  PgeStats stats;

  pge_engine_close (engine);
  future = pge_engine_query (engine, "SELECT 1", NULL);
  cr_assert (pge_future_is_done (future));
  result = pge_future_wait (future, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
  g_clear_error (&error);
  cr_assert_null (pge_engine_query_sync (engine, "SELECT 1", NULL, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
  g_clear_error (&error);
  cr_assert_not (pge_engine_exec_sync (engine, "SELECT 1", &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
  g_clear_error (&error);
  call = pge_engine_run_in_worker (engine, gate_hold, NULL, NULL);
  cr_assert_null (pge_future_wait (call, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
  /* Stats and metadata still answer. */
  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_workers, 1);
  cr_assert_eq (stats.n_busy, 0);
  cr_assert_geq (pge_engine_get_server_version (engine), 150000);
}

Test (engine, last_unref_closes_and_fails_queued_jobs)
{
  PgeEngine *engine = pge_test_new_engine (1);
  Sleeper sleeper = { 0 };
  g_autoptr(PgeFuture) running = sleeper_start (engine, &sleeper, 0.2);
  g_autoptr(PgeFuture) queued = pge_engine_query (engine, "SELECT 1", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) none = NULL;

  pge_engine_unref (engine);
  cr_assert (pge_future_is_done (running));
  cr_assert (pge_future_is_done (queued));
  result = pge_future_wait (running, &error);
  cr_assert_null (error);
  none = pge_future_wait (queued, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
}

static void
unref_engine_in_callback (PgeFuture *future, gpointer user_data)
{
  pge_engine_unref (user_data);
}

Test (engine, last_unref_from_a_worker_callback_does_not_deadlock)
{
  PgeEngine *engine = pge_test_new_engine (2);
  g_autoptr(PgeFuture) future = pge_engine_query (engine, "SELECT pg_sleep(0.05)", NULL);
  g_autoptr(PgeFuture) later = NULL;

  /* The callback (on a worker) drops the last reference. */
  pge_future_on_done (future, NULL, unref_engine_in_callback, engine, NULL);
  cr_assert (pge_future_wait_timeout (future, 10000));
  /* Nothing to assert on the engine (it is gone); the process must not
   * hang or crash, and the test engine still works. */
  later = pge_engine_query (test_engine, "SELECT 1", NULL);
  cr_assert (pge_future_wait_timeout (later, 10000));
}

/* --------------------------------------------------------------- stats */

Test (engine, stats_count_workers_busy_queue_and_outcomes)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) blocker = NULL;
  PgeFuture *queued[3];
  Gate gate = { 0 };
  PgeStats stats;
  g_autoptr(PgeResult) ok = NULL;
  g_autoptr(PgeResult) bad = NULL;

  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_workers, 1);
  cr_assert_eq (stats.n_busy, 0);
  cr_assert_eq (stats.n_pinned, 0);
  cr_assert_eq (stats.queue_length, 0);
  cr_assert_eq (stats.n_completed, 0);
  cr_assert_eq (stats.n_failed, 0);
  cr_assert_eq (stats.n_reconnects, 0);

  blocker = gate_close (engine, &gate);
  for (int i = 0; i < 3; i++)
    queued[i] = pge_engine_query (engine, i == 2 ? "SELECT 1/0" : "SELECT 1", NULL);
  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_busy, 1);
  cr_assert_eq (stats.queue_length, 3);
  gate_open (&gate);
  for (int i = 0; i < 3; i++)
    {
      cr_assert (pge_future_wait_timeout (queued[i], 10000));
      pge_future_unref (queued[i]);
    }
  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.queue_length, 0);
  cr_assert_eq (stats.n_busy, 0);
  cr_assert_eq (stats.n_completed, 3);   /* the gate and two SELECT 1 */
  cr_assert_eq (stats.n_failed, 1);

  ok = pge_engine_query_sync (engine, "SELECT 1", NULL, NULL);
  bad = pge_engine_query_sync (engine, "SELECT * FROM nowhere_at_all", NULL, NULL);
  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_completed, 4);
  cr_assert_eq (stats.n_failed, 2);
}

Test (engine, stats_show_busy_during_a_sleep)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (2);
  Sleeper sleeper = { 0 };
  g_autoptr(PgeFuture) running = sleeper_start (engine, &sleeper, 0.3);
  PgeStats stats;

  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_workers, 2);
  cr_assert_eq (stats.n_busy, 1);
  cr_assert (pge_future_wait_timeout (running, 10000));
  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_busy, 0);
}

Test (engine, stats_with_null_arguments_do_not_crash)
{
  PgeStats stats = { .n_workers = 77 };

  pge_engine_get_stats (NULL, &stats);
  cr_assert_eq (stats.n_workers, 77);
  pge_engine_get_stats (test_engine, NULL);
}

/* ------------------------------------------------------- limits, timeouts */

Test (engine, max_queue_refuses_with_queue_full)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeFuture) blocker = NULL;
  g_autoptr(PgeFuture) first = NULL;
  g_autoptr(PgeFuture) second = NULL;
  g_autoptr(PgeFuture) third = NULL;
  g_autoptr(PgeFuture) after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) none = NULL;
  Gate gate = { 0 };

  pge_config_set_max_queue (config, 2);
  engine = new_engine_with (config);
  blocker = gate_close (engine, &gate);   /* running: not in the queue */
  first = pge_engine_query (engine, "SELECT 1", NULL);
  second = pge_engine_query (engine, "SELECT 2", NULL);
  third = pge_engine_query (engine, "SELECT 3", NULL);
  cr_assert (pge_future_is_done (third), "QUEUE_FULL must be immediate");
  none = pge_future_wait (third, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUEUE_FULL);
  g_clear_error (&error);
  cr_assert_not (pge_future_is_done (first));
  cr_assert_not (pge_future_is_done (second));
  gate_open (&gate);
  cr_assert (pge_future_wait_timeout (second, 10000));
  g_clear_pointer (&none, pge_result_unref);
  none = pge_future_wait (second, &error);
  cr_assert_null (error);
  /* Room again. */
  after = pge_engine_query (engine, "SELECT 4", NULL);
  g_clear_pointer (&none, pge_result_unref);
  none = pge_future_wait (after, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (none, 0, 0), 4);
}

Test (engine, acquire_timeout_fails_a_job_that_waits_too_long)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeFuture) busy = NULL;
  g_autoptr(PgeFuture) queued = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) busy_result = NULL;
  gint64 start;

  pge_config_set_acquire_timeout (config, 200);
  engine = new_engine_with (config);
  busy = pge_engine_query (engine, "SELECT pg_sleep(2)", NULL);
  start = g_get_monotonic_time ();
  queued = pge_engine_query (engine, "SELECT 1", NULL);
  result = pge_future_wait (queued, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  cr_assert_null (pge_error_get_sqlstate (error));
  cr_assert_geq (g_get_monotonic_time () - start, 150 * 1000, "timed out too early");
  cr_assert_lt (g_get_monotonic_time () - start, 1800 * 1000, "timed out too late");
  cr_assert_not (pge_future_is_done (busy));
  g_clear_error (&error);
  busy_result = pge_future_wait (busy, &error);
  cr_assert_null (error, "the running job must not be affected");
}

Test (engine, statement_timeout_is_timeout_57014_and_connection_survives)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) next = NULL;
  PgeStats before, after;
  gint64 start;

  pge_config_set_statement_timeout (config, 100);
  engine = new_engine_with (config);
  pge_engine_get_stats (engine, &before);
  start = g_get_monotonic_time ();
  result = pge_engine_query_sync (engine, "SELECT pg_sleep(1)", NULL, &error);
  cr_assert_lt (g_get_monotonic_time () - start, 900 * 1000);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "57014");
  g_clear_error (&error);
  next = pge_engine_query_sync (engine, "SELECT current_setting('statement_timeout')", NULL, &error);
  cr_assert_null (error);
  cr_assert_str_eq (pge_result_get_value (next, 0, 0), "100ms");
  pge_engine_get_stats (engine, &after);
  cr_assert_eq (after.n_reconnects, before.n_reconnects);
}

/* ------------------------------------------------------- run_in_worker */

static PGresult *
select_42 (PGconn *conn, gpointer data, GError **error)
{
  return PQexec (conn, "SELECT 42 AS answer");
}

static PGresult *
return_nothing (PGconn *conn, gpointer data, GError **error)
{
  return NULL;
}

static PGresult *
set_an_error (PGconn *conn, gpointer data, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "user code failed");
  return NULL;
}

static PGresult *
return_an_error_result (PGconn *conn, gpointer data, GError **error)
{
  return PQexec (conn, "SELECT * FROM not_a_table_here");
}

static PGresult *
leave_a_transaction_open (PGconn *conn, gpointer data, GError **error)
{
  PQclear (PQexec (conn, "BEGIN"));
  PQclear (PQexec (conn, "CREATE TABLE leaked (v int)"));
  *(PGTransactionStatusType *) data = PQtransactionStatus (conn);
  return NULL;
}

static PGresult *
report_transaction_status (PGconn *conn, gpointer data, GError **error)
{
  *(PGTransactionStatusType *) data = PQtransactionStatus (conn);
  return PQexec (conn, "SELECT to_regclass('leaked') IS NULL");
}

typedef struct {
  GMutex lock;
  GCond  cond;
  gint   n_notified;
} NotifyCount;

static void
count_notify (gpointer data)
{
  NotifyCount *count = data;

  g_mutex_lock (&count->lock);
  count->n_notified++;
  g_cond_broadcast (&count->cond);
  g_mutex_unlock (&count->lock);
}

static void
wait_notified (NotifyCount *count, gint n)
{
  g_mutex_lock (&count->lock);
  while (count->n_notified < n)
    g_cond_wait (&count->cond, &count->lock);
  g_mutex_unlock (&count->lock);
}

Test (engine, run_in_worker_result_becomes_the_futures_result)
{
  g_autoptr(PgeFuture) future = pge_engine_run_in_worker (test_engine, select_42, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  cr_assert_null (error);
  cr_assert_str_eq (pge_result_get_column_name (result, 0), "answer");
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 42);
}

Test (engine, run_in_worker_returning_null_gives_null_and_no_error)
{
  g_autoptr(PgeFuture) future = pge_engine_run_in_worker (test_engine, return_nothing, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  cr_assert_null (result);
  cr_assert_null (error);
  cr_assert (pge_future_is_done (future));
}

Test (engine, run_in_worker_error_reaches_the_future)
{
  g_autoptr(PgeFuture) future = pge_engine_run_in_worker (test_engine, set_an_error, NULL, NULL);
  g_autoptr(PgeFuture) failed = pge_engine_run_in_worker (test_engine, return_an_error_result, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  cr_assert_null (result);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  cr_assert_str_eq (error->message, "user code failed");
  g_clear_error (&error);
  cr_assert_null (pge_future_wait (failed, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_UNDEFINED_TABLE);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42P01");
}

Test (engine, run_in_worker_null_func_is_invalid_argument_and_notifies)
{
  NotifyCount count = { 0 };
  g_autoptr(PgeFuture) future = pge_engine_run_in_worker (test_engine, NULL, &count, count_notify);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_eq (count.n_notified, 1);
}

Test (engine, run_in_worker_notifies_exactly_once)
{
  NotifyCount count = { 0 };
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) ok = pge_engine_run_in_worker (engine, select_42, &count, count_notify);
  g_autoptr(PgeFuture) failing = pge_engine_run_in_worker (engine, set_an_error, &count, count_notify);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (ok, &error);
  g_autoptr(PgeResult) none = pge_future_wait (failing, NULL);

  wait_notified (&count, 2);
  /* Closing joins the workers: any late second notify would show here. */
  pge_engine_close (engine);
  g_clear_pointer (&ok, pge_future_unref);
  g_clear_pointer (&failing, pge_future_unref);
  cr_assert_eq (count.n_notified, 2);
}

Test (engine, run_in_worker_queued_at_close_still_notifies)
{
  NotifyCount count = { 0 };
  Gate gate = { 0 };
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) blocker = gate_close (engine, &gate);
  g_autoptr(PgeFuture) queued = pge_engine_run_in_worker (engine, select_42, &count, count_notify);
  g_autoptr(GError) error = NULL;

  pge_future_cancel (queued);
  cr_assert_null (pge_future_wait (queued, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  gate_open (&gate);
  pge_engine_close (engine);
  g_clear_pointer (&queued, pge_future_unref);
  cr_assert_eq (count.n_notified, 1);
}

Test (engine, transaction_left_open_by_a_job_is_rolled_back)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  PGTransactionStatusType inside = PQTRANS_UNKNOWN;
  PGTransactionStatusType next = PQTRANS_UNKNOWN;
  g_autoptr(PgeFuture) leaker = pge_engine_run_in_worker (engine, leave_a_transaction_open, &inside, NULL);
  g_autoptr(PgeFuture) checker = pge_engine_run_in_worker (engine, report_transaction_status, &next, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) none = pge_future_wait (leaker, &error);
  g_autoptr(PgeResult) result = pge_future_wait (checker, &error);

  cr_assert_null (error);
  cr_assert_eq (inside, PQTRANS_INTRANS);
  cr_assert_eq (next, PQTRANS_IDLE, "the next job got a connection inside a transaction");
  cr_assert (pge_result_get_boolean (result, 0, 0), "the leaked transaction was committed");
}

/* ------------------------------------------------------------- GIO async */

typedef struct {
  GMainLoop    *loop;
  PgeEngine    *engine;
  PgeResult    *result;
  GError       *error;
  GThread      *thread;
  GMainContext *context;
} AsyncOutcome;

static void
async_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AsyncOutcome *outcome = user_data;

  outcome->thread = g_thread_self ();
  outcome->context = g_main_context_get_thread_default ();
  outcome->result = pge_engine_query_finish (outcome->engine, res, &outcome->error);
  g_main_loop_quit (outcome->loop);
}

static void
async_outcome_clear (AsyncOutcome *outcome)
{
  g_clear_pointer (&outcome->loop, g_main_loop_unref);
  g_clear_pointer (&outcome->result, pge_result_unref);
  g_clear_error (&outcome->error);
}

Test (engine, query_async_calls_back_in_the_callers_context)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  AsyncOutcome outcome = { 0 };
  g_autoptr(PgeParams) params = pge_params_new ();

  g_main_context_push_thread_default (context);
  outcome.loop = g_main_loop_new (context, FALSE);
  outcome.engine = test_engine;
  pge_params_add_int32 (params, 6);
  pge_engine_query_async (test_engine, "SELECT $1 * 7", params, NULL, async_done, &outcome);
  cr_assert_null (outcome.thread, "called back inside the call");
  g_main_loop_run (outcome.loop);
  g_main_context_pop_thread_default (context);
  cr_assert_null (outcome.error, "%s", outcome.error ? outcome.error->message : "");
  cr_assert_eq (pge_result_get_int64 (outcome.result, 0, 0), 42);
  cr_assert_eq (outcome.thread, g_thread_self ());
  cr_assert_eq (outcome.context, context);
  async_outcome_clear (&outcome);
}

Test (engine, query_async_server_error_is_pge_error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  AsyncOutcome outcome = { 0 };

  g_main_context_push_thread_default (context);
  outcome.loop = g_main_loop_new (context, FALSE);
  outcome.engine = test_engine;
  pge_engine_query_async (test_engine, "SELECT 1/0", NULL, NULL, async_done, &outcome);
  g_main_loop_run (outcome.loop);
  g_main_context_pop_thread_default (context);
  cr_assert_null (outcome.result);
  pge_assert_error (outcome.error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (outcome.error), "22012");
  async_outcome_clear (&outcome);
}

Test (engine, query_async_cancelled_before_gives_g_io_error_cancelled)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) count = NULL;
  AsyncOutcome outcome = { 0 };

  cr_assert (pge_engine_exec_sync (test_engine, "CREATE TABLE async_never (v int)", &error));
  g_cancellable_cancel (cancellable);
  g_main_context_push_thread_default (context);
  outcome.loop = g_main_loop_new (context, FALSE);
  outcome.engine = test_engine;
  pge_engine_query_async (test_engine, "INSERT INTO async_never VALUES (1)", NULL, cancellable,
                          async_done, &outcome);
  g_main_loop_run (outcome.loop);
  g_main_context_pop_thread_default (context);
  cr_assert_null (outcome.result);
  pge_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  count = pge_engine_query_sync (test_engine, "SELECT count(*) FROM async_never", NULL, &error);
  cr_assert_eq (pge_result_get_int64 (count, 0, 0), 0, "a cancelled-before query ran");
  async_outcome_clear (&outcome);
}

static gboolean
cancel_soon (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

Test (engine, query_async_cancelled_while_running_ends_quickly)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSource) timer = g_timeout_source_new (300);
  g_autoptr(PgeResult) next = NULL;
  g_autoptr(GError) error = NULL;
  AsyncOutcome outcome = { 0 };
  gint64 start;

  g_main_context_push_thread_default (context);
  outcome.loop = g_main_loop_new (context, FALSE);
  outcome.engine = test_engine;
  g_source_set_callback (timer, cancel_soon, cancellable, NULL);
  g_source_attach (timer, context);
  start = g_get_monotonic_time ();
  pge_engine_query_async (test_engine, "SELECT pg_sleep(30)", NULL, cancellable, async_done, &outcome);
  g_main_loop_run (outcome.loop);
  g_main_context_pop_thread_default (context);
  cr_assert_lt (g_get_monotonic_time () - start, 5 * G_USEC_PER_SEC, "the cancel did not stop it");
  cr_assert_null (outcome.result);
  pge_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  async_outcome_clear (&outcome);
  next = pge_engine_query_sync (test_engine, "SELECT 1", NULL, &error);
  cr_assert_null (error);
}

/* A failing main node with a good extra node: the extra node's pool was
 * never started, and closing it must not wait for threads it never had. */
Test (engine, new_fails_fast_when_the_main_node_fails_and_a_node_is_good)
{
  g_autoptr(PgeConfig) config = pge_config_new ("host=127.0.0.1 port=1 dbname=postgres");
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  gint64 start = g_get_monotonic_time ();

  pge_config_set_workers (config, 1);
  pge_config_add_node (config, "replica", pge_test_schema_conninfo (), 1);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  cr_assert_lt (g_get_monotonic_time () - start, 10 * G_USEC_PER_SEC);
}
