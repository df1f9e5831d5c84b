/* test-faults.c — real faults: backends terminated under the engine, a
 * server restart; the engine recovers by itself.
 *
 * The cluster is shared by tests running in parallel processes, so a test
 * here only ever kills the backends of its own engine, found by a unique
 * application_name. A server restart, or a stopped postmaster, hits
 * everyone, so those tests (faults/server_*) run only when asked
 * (PGE_TEST_RESTART=1), alone:
 *
 *   PGE_TEST_RESTART=1 tests/pge-tests --filter 'faults/server_*'
 *
 * and is skipped when the run uses an outside server (PGE_TEST_CONNINFO).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

TestSuite (faults, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* An engine whose connections carry a name of their own. */
static PgeEngine *
new_named_engine (guint n_workers, char **app_name)
{
  g_autofree char *name = g_strdup_printf ("pge_fault_%d_%u", (int) getpid (), g_random_int ());
  g_autofree char *conninfo = g_strdup_printf ("%s application_name=%s",
                                               pge_test_schema_conninfo (), name);
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_config_set_workers (config, n_workers);
  pge_config_set_acquire_timeout (config, 10000);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  *app_name = g_steal_pointer (&name);
  return engine;
}

static guint
count_backends (const char *app_name)
{
  g_autofree char *sql = g_strdup_printf (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'", app_name);
  g_autofree char *count = pge_test_admin_query (sql);

  return (guint) g_ascii_strtoull (count, NULL, 10);
}

/* Terminates every backend named @app_name and waits (bounded) until
 * those processes are gone; the engine may already be connecting new ones
 * under the same name. Returns how many were terminated. */
static guint
terminate_backends (const char *app_name)
{
  g_autofree char *pids_sql = g_strdup_printf (
    "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE application_name = '%s'",
    app_name);
  g_autofree char *pids = pge_test_admin_query (pids_sql);
  g_autofree char *kill_sql = NULL;
  g_autofree char *left_sql = NULL;
  g_autofree char *count = NULL;
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  cr_assert_not_null (pids, "no backend is called %s", app_name);
  kill_sql = g_strdup_printf ("SELECT count(pg_terminate_backend(pid, 5000)) FROM "
                              "unnest('{%s}'::int[]) pid", pids);
  left_sql = g_strdup_printf ("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY ('{%s}'::int[])",
                              pids);
  count = pge_test_admin_query (kill_sql);
  for (;;)
    {
      g_autofree char *left = pge_test_admin_query (left_sql);

      if (g_strcmp0 (left, "0") == 0)
        break;
      cr_assert_lt (g_get_monotonic_time (), end, "backends %s did not go away", pids);
      g_usleep (10 * 1000);
    }
  return (guint) g_ascii_strtoull (count, NULL, 10);
}

static gboolean
wait_until_active (const char *app_name, double timeout_s)
{
  g_autofree char *sql = g_strdup_printf (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s' AND state = 'active'",
    app_name);
  gint64 end = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);

  while (g_get_monotonic_time () < end)
    {
      g_autofree char *count = pge_test_admin_query (sql);

      if (g_strcmp0 (count, "0") != 0)
        return TRUE;
      g_usleep (10 * 1000);
    }
  return FALSE;
}

/* Runs `SELECT $i` on every worker at once, so that each one is used. */
static void
assert_every_worker_answers (PgeEngine *engine, guint n_workers)
{
  g_autoptr(GPtrArray) futures = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_future_unref);

  for (guint i = 0; i < n_workers * 3; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_int32 (params, (gint32) i);
      /* A short sleep keeps several workers busy at once. */
      g_ptr_array_add (futures, pge_engine_query (engine, "SELECT $1, pg_sleep(0.02)", params));
    }
  for (guint i = 0; i < futures->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures->pdata[i], &error);

      cr_assert_null (error, "query %u after the fault: %s", i, error ? error->message : "");
      cr_assert_eq (pge_result_get_int64 (result, 0, 0), i);
    }
}

Test (faults, terminated_idle_backends_are_replaced_transparently)
{
  g_autofree char *app = NULL;
  g_autoptr(PgeEngine) engine = new_named_engine (2, &app);
  PgeStats before, after;

  assert_every_worker_answers (engine, 2);
  cr_assert_eq (count_backends (app), 2);
  pge_engine_get_stats (engine, &before);
  cr_assert_eq (terminate_backends (app), 2);

  assert_every_worker_answers (engine, 2);
  pge_engine_get_stats (engine, &after);
  cr_assert_geq (after.n_reconnects, before.n_reconnects + 1);
  cr_assert_eq (after.n_failed, before.n_failed, "a query failed after the terminate");
  cr_assert_geq (count_backends (app), 1);
}

Test (faults, terminated_backends_are_replaced_again_and_again)
{
  g_autofree char *app = NULL;
  g_autoptr(PgeEngine) engine = new_named_engine (1, &app);
  PgeStats stats;

  for (int round = 0; round < 3; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = NULL;

      cr_assert_eq (terminate_backends (app), 1, "round %d", round);
      result = pge_engine_query_sync (engine, "SELECT 'back'", NULL, &error);
      cr_assert_null (error, "round %d: %s", round, error ? error->message : "");
      cr_assert_str_eq (pge_result_get_value (result, 0, 0), "back");
    }
  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_reconnects, 3);
  cr_assert_eq (stats.n_failed, 0);
}

Test (faults, query_running_during_terminate_fails_with_connection_error)
{
  g_autofree char *app = NULL;
  g_autoptr(PgeEngine) engine = new_named_engine (1, &app);
  g_autoptr(PgeFuture) running = pge_engine_query (engine, "SELECT pg_sleep(30)", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) next = NULL;
  PgeStats stats;

  cr_assert (wait_until_active (app, 10), "the query never started");
  terminate_backends (app);
  cr_assert (pge_future_wait_timeout (running, 5000), "the lost query did not resolve");
  result = pge_future_wait (running, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  g_clear_error (&error);

  next = pge_engine_query_sync (engine, "SELECT 'recovered'", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_value (next, 0, 0), "recovered");
  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_reconnects, 1);
  cr_assert_eq (stats.n_failed, 1);
}

Test (faults, jobs_queued_during_the_fault_all_run)
{
  g_autofree char *app = NULL;
  g_autoptr(PgeEngine) engine = new_named_engine (1, &app);
  g_autoptr(PgeFuture) running = pge_engine_query (engine, "SELECT pg_sleep(30)", NULL);
  PgeFuture *queued[10];

  cr_assert (wait_until_active (app, 10));
  for (int i = 0; i < 10; i++)
    queued[i] = pge_engine_query (engine, "SELECT 1", NULL);
  terminate_backends (app);
  cr_assert (pge_future_wait_timeout (running, 5000));
  for (int i = 0; i < 10; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (queued[i], &error);

      cr_assert_null (error, "queued job %d: %s", i, error ? error->message : "");
      cr_assert_eq (pge_result_get_int64 (result, 0, 0), 1);
      pge_future_unref (queued[i]);
    }
}

Test (faults, close_after_terminate_does_not_hang)
{
  g_autofree char *app = NULL;
  PgeEngine *engine = new_named_engine (2, &app);
  gint64 start;

  terminate_backends (app);
  start = g_get_monotonic_time ();
  pge_engine_close (engine);
  cr_assert_lt (g_get_monotonic_time () - start, 3 * G_USEC_PER_SEC);
  pge_engine_unref (engine);
}

Test (faults, server_restart_is_survived)
{
  g_autoptr(PgeEngine) engine = NULL;
  gboolean recovered = FALSE;
  PgeStats stats;
  gint64 end;

  if (g_strcmp0 (g_getenv ("PGE_TEST_RESTART"), "1") != 0)
    cr_skip_test ("restarts the shared server: set PGE_TEST_RESTART=1 and run it alone");
  engine = pge_test_new_engine (2);
  {
    g_autoptr(PgeResult) result = pge_engine_query_sync (engine, "SELECT 1", NULL, NULL);
    cr_assert_not_null (result);
  }
  if (!pge_test_restart_server ())
    cr_skip_test ("PGE_TEST_CONNINFO names an outside server: not restarting it");

  /* Bounded: the workers reconnect with backoff (at most 2 s apart). */
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!recovered && g_get_monotonic_time () < end)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_engine_query_sync (engine, "SELECT 'up'", NULL, &error);

      recovered = result != NULL;
      if (!recovered)
        {
          pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
          g_usleep (100 * 1000);
        }
    }
  cr_assert (recovered, "no query succeeded within 10 s of the restart");
  for (int i = 0; i < 20; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_engine_query_sync (engine, "SELECT 2", NULL, &error);

      cr_assert_null (error, "after recovery: %s", error ? error->message : "");
    }
  pge_engine_get_stats (engine, &stats);
  cr_assert_geq (stats.n_reconnects, 1);
}

/* ------------------------------------------------ a server that does not answer */

/* The server timer cannot fire in a stopped backend: the client deadline
 * (statement timeout + grace) ends the wait with PGE_ERROR_TIMEOUT, and
 * that connection is replaced, never reused. The backend is stopped before
 * the statement is sent, so no load can let the statement finish first.
 * Only this engine's backend is stopped, so the test runs with the others. */
Test (faults, a_stopped_backend_times_out_on_the_client)
{
  g_autoptr(PgeConfig) config = pge_config_new (pge_test_schema_conninfo ());
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) before = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) after = NULL;
  g_autofree char *kill_sql = NULL;
  gint64 start, elapsed;
  int pid;

  pge_config_set_workers (config, 1);
  pge_config_set_statement_timeout (config, 300);
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "%s", error ? error->message : "");
  before = pge_engine_query_sync (engine, "SELECT pg_backend_pid()", NULL, &error);
  cr_assert_not_null (before, "%s", error ? error->message : "");
  pid = (int) pge_result_get_int64 (before, 0, 0);
  cr_assert_gt (pid, 0);
  kill (pid, SIGSTOP);
  start = g_get_monotonic_time ();
  future = pge_engine_query (engine, "SELECT pg_sleep(0.2)", NULL);
  result = pge_future_wait (future, &error);
  elapsed = g_get_monotonic_time () - start;
  kill (pid, SIGCONT);
  kill_sql = g_strdup_printf ("SELECT pg_terminate_backend(%d)", pid);
  g_free (pge_test_admin_query (kill_sql));
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  cr_assert_lt (elapsed, 2 * G_USEC_PER_SEC, "the wait took %" G_GINT64_FORMAT " ms", elapsed / 1000);
  g_clear_error (&error);
  after = pge_engine_query_sync (engine, "SELECT pg_backend_pid()", NULL, &error);
  cr_assert_not_null (after, "%s", error ? error->message : "");
  cr_assert_neq (pge_result_get_int64 (after, 0, 0), pid, "the timed-out connection was reused");
}

static PGresult *
keepalive_idle (PGconn *conn, gpointer data, GError **error)
{
  int on = 0, idle = 0;
  socklen_t length = sizeof on;
  g_autofree char *sql = NULL;

  getsockopt (PQsocket (conn), SOL_SOCKET, SO_KEEPALIVE, &on, &length);
  length = sizeof idle;
  getsockopt (PQsocket (conn), IPPROTO_TCP, TCP_KEEPIDLE, &idle, &length);
  sql = g_strdup_printf ("SELECT %d, %d", on, idle);
  return PQexec (conn, sql);
}

static void
assert_keepalive (PgeEngine *engine, gint64 idle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) future = pge_engine_run_in_worker (engine, keepalive_idle, NULL, NULL);
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  cr_assert_not_null (result, "%s", error ? error->message : "");
  cr_assert_neq (pge_result_get_int64 (result, 0, 0), 0, "SO_KEEPALIVE is off");
  cr_assert_eq (pge_result_get_int64 (result, 0, 1), idle);
}

/* Every connection (over TCP) is made with keepalives on, idle 30 s,
 * unless the conninfo says otherwise. */
Test (faults, connections_have_keepalives_by_default)
{
  g_autofree char *conninfo = g_strdup_printf ("%s keepalives_idle=77", pge_test_schema_conninfo ());
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;

  assert_keepalive (test_engine, 30);
  pge_config_set_workers (config, 1);
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "%s", error ? error->message : "");
  assert_keepalive (engine, 77);
}

static gpointer
resume_later (gpointer data)
{
  g_usleep (3 * G_USEC_PER_SEC);
  kill (GPOINTER_TO_INT (data), SIGCONT);
  return NULL;
}

/* libpq's cancel request goes through the postmaster, and waits for it
 * with no timeout: with the postmaster stopped, pge_future_cancel() and
 * close must still return at once. Stops the shared server's postmaster
 * for 3 s, so it runs alone (see the top). */
Test (faults, server_stopped_cancel_and_close_return_at_once)
{
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeFuture) running = NULL;
  g_autoptr(PgeFuture) queued = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  GThread *resumer;
  gint64 start, cancel_us, close_us;
  int postmaster;

  if (g_strcmp0 (g_getenv ("PGE_TEST_RESTART"), "1") != 0)
    cr_skip_test ("stops the shared server: set PGE_TEST_RESTART=1 and run it alone");
  postmaster = pge_test_postmaster_pid ();
  if (postmaster == 0)
    cr_skip_test ("PGE_TEST_CONNINFO names an outside server: not stopping it");
  engine = pge_test_new_engine (1);
  running = pge_engine_query (engine, "SELECT pg_sleep(30)", NULL);
  queued = pge_engine_query (engine, "SELECT 'never'", NULL);
  g_usleep (300 * 1000);
  kill (postmaster, SIGSTOP);
  resumer = g_thread_new ("resume", resume_later, GINT_TO_POINTER (postmaster));
  start = g_get_monotonic_time ();
  pge_future_cancel (running);
  pge_future_cancel (queued);
  cancel_us = g_get_monotonic_time () - start;
  g_thread_join (resumer);
  result = pge_future_wait (running, &error);
  cr_assert_lt (cancel_us, 100 * 1000, "pge_future_cancel() took %" G_GINT64_FORMAT " ms", cancel_us / 1000);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  cr_assert (pge_future_is_done (queued));

  /* Close with a statement running while the postmaster is stopped: the
   * grace period, then the cancel, then the connection is abandoned. */
  g_clear_pointer (&running, pge_future_unref);
  running = pge_engine_query (engine, "SELECT pg_sleep(30)", NULL);
  g_usleep (300 * 1000);
  kill (postmaster, SIGSTOP);
  resumer = g_thread_new ("resume", resume_later, GINT_TO_POINTER (postmaster));
  start = g_get_monotonic_time ();
  pge_engine_close (engine);
  close_us = g_get_monotonic_time () - start;
  g_thread_join (resumer);
  cr_assert_lt (close_us, 8 * G_USEC_PER_SEC, "close took %" G_GINT64_FORMAT " ms", close_us / 1000);
  cr_assert (pge_future_is_done (running));
}


/* LISTEN across a server restart (runs alone, with the server_* tests):
 * the listener hears that it may have missed notifications, once its
 * channel is listened to again, and then gets what is sent. */
typedef struct {
  guint     n_missed;
  GPtrArray *payloads;
} RestartSeen;

static void
restart_on_notify (const char *channel, const char *payload, gint pid, gboolean missed, gpointer data)
{
  RestartSeen *seen = data;

  if (missed)
    seen->n_missed++;
  else
    g_ptr_array_add (seen->payloads, g_strdup (payload));
}

static gboolean
restart_tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates @context until *@count reaches @n, at most 20 s. */
static void
restart_wait (GMainContext *context, guint *count, guint n)
{
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  g_autoptr(GSource) ticker = g_timeout_source_new (20);

  g_source_set_callback (ticker, restart_tick, NULL, NULL);
  g_source_attach (ticker, context);
  while (*count < n && g_get_monotonic_time () < end)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (ticker);
  cr_assert_geq (*count, n, "got %u, want %u", *count, n);
}

Test (faults, server_restart_notify_says_missed_then_delivers)
{
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *channel = g_strdup_printf ("restart_%d", (int) getpid ());
  RestartSeen seen = { .payloads = g_ptr_array_new_with_free_func (g_free) };
  gboolean sent = FALSE;
  guint id;
  gint64 end;

  if (g_strcmp0 (g_getenv ("PGE_TEST_RESTART"), "1") != 0)
    cr_skip_test ("restarts the shared server: set PGE_TEST_RESTART=1 and run it alone");
  engine = pge_test_new_engine (2);
  id = pge_engine_listen (engine, channel, context, restart_on_notify, &seen, NULL, &error);
  cr_assert_neq (id, 0, "%s", error ? error->message : "");
  cr_assert (pge_engine_notify_sync (engine, channel, "before", &error));
  restart_wait (context, &seen.payloads->len, 1);
  if (!pge_test_restart_server ())
    cr_skip_test ("PGE_TEST_CONNINFO names an outside server: not restarting it");

  restart_wait (context, &seen.n_missed, 1);
  cr_assert_eq (seen.payloads->len, 1, "nothing arrives before the missed call");
  /* The pool's workers may still be reconnecting: retry the sender. */
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!sent && g_get_monotonic_time () < end)
    {
      g_clear_error (&error);
      sent = pge_engine_notify_sync (engine, channel, "after", &error);
      if (!sent)
        g_usleep (100 * 1000);
    }
  cr_assert (sent, "%s", error ? error->message : "");
  restart_wait (context, &seen.payloads->len, 2);
  cr_assert_str_eq (seen.payloads->pdata[1], "after");
  cr_assert_eq (seen.n_missed, 1);
  cr_assert (pge_engine_unlisten (engine, id, NULL));
  g_ptr_array_unref (seen.payloads);
}
