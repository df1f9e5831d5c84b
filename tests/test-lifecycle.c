/* test-lifecycle.c — connection lifetime and idle limits, recycling, and
 * giving up on an unreachable node (engine/lifecycle.c).
 *
 * Backends are told apart by pg_backend_pid() and found in
 * pg_stat_activity by an application_name of the test's own. Lifetimes
 * are short (200 ms) so the tests run fast; they wait for changes with a
 * bound rather than for a fixed time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include "fixture.h"

TestSuite (lifecycle, .init = pge_test_engine_up, .fini = pge_test_engine_down);

#define WAIT_US (10 * G_USEC_PER_SEC)

static char *
unique_name (void)
{
  return g_strdup_printf ("pge_life_%d_%u", (int) getpid (), g_random_int ());
}

static PgeConfig *
named_config (guint n_workers, const char *app_name)
{
  g_autofree char *conninfo = g_strdup_printf ("%s application_name=%s",
                                               pge_test_schema_conninfo (), app_name);
  PgeConfig *config = pge_config_new (conninfo);

  pge_config_set_workers (config, n_workers);
  pge_config_set_acquire_timeout (config, 10000);
  return config;
}

static PgeEngine *
engine_new_ok (PgeConfig *config)
{
  g_autoptr(GError) error = NULL;
  PgeEngine *engine = pge_engine_new (config, &error);

  cr_assert_null (error, "pge_engine_new: %s", error ? error->message : "");
  return engine;
}

static int
backend_pid (PgeEngine *engine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, "SELECT pg_backend_pid()", NULL, &error);

  cr_assert_null (error, "%s", error ? error->message : "");
  return (int) pge_result_get_int64 (result, 0, 0);
}

/* The PIDs of the backends named @app_name, sorted, as "1,2,3" ("" for none). */
static char *
backends_of (const char *app_name)
{
  g_autofree char *sql = g_strdup_printf (
    "SELECT coalesce(string_agg(pid::text, ',' ORDER BY pid), '') FROM pg_stat_activity "
    "WHERE application_name = '%s'", app_name);

  return pge_test_admin_query (sql);
}

static gboolean
pid_is_alive (int pid)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
  g_autofree char *count = pge_test_admin_query (sql);

  return g_strcmp0 (count, "1") == 0;
}

/* For 800 ms, four lifetimes of 200 ms: @engine's calls still run on
 * backend @pid (pinned by @what). */
static void
assert_pid_kept (PgeEngine *engine, int pid, const char *what)
{
  gint64 end = g_get_monotonic_time () + 800 * 1000;

  while (g_get_monotonic_time () < end)
    {
      cr_assert_eq (backend_pid (engine), pid, "the connection was replaced inside a %s", what);
      g_usleep (50 * 1000);
    }
}

/* Waits (bounded) until backend @pid is gone. */
static gboolean
wait_pid_gone (int pid)
{
  gint64 end = g_get_monotonic_time () + WAIT_US;

  while (pid_is_alive (pid))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_usleep (20 * 1000);
    }
  return TRUE;
}

static void
count_signal (PgeEngine *engine, const char *node, gpointer data)
{
  (*(guint *) data)++;
}

static void
iterate_default_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---------------------------------------------------------------- config */

Test (lifecycle, defaults_are_one_hour_no_idle_limit_and_five_minutes)
{
  g_autoptr(PgeConfig) config = pge_config_new (NULL);

  cr_assert_eq (pge_config_get_max_lifetime (config), 3600000);
  cr_assert_eq (pge_config_get_max_idle (config), 0);
  cr_assert_eq (pge_config_get_reconnect_timeout (config), 300000);
  pge_config_set_max_lifetime (config, 1000);
  pge_config_set_max_idle (config, 2000);
  pge_config_set_reconnect_timeout (config, 0);
  cr_assert_eq (pge_config_get_max_lifetime (config), 1000);
  cr_assert_eq (pge_config_get_max_idle (config), 2000);
  cr_assert_eq (pge_config_get_reconnect_timeout (config), 0);
}

Test (lifecycle, too_short_limits_are_invalid_argument)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeEngine) engine = NULL;

  pge_config_set_max_lifetime (config, 10);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  pge_config_set_max_lifetime (config, 0);
  pge_config_set_max_idle (config, 99);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}

/* -------------------------------------------------------------- lifetime */

Test (lifecycle, connection_past_its_lifetime_is_replaced_without_a_loss)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (1, name);
  g_autoptr(PgeEngine) engine = NULL;
  guint lost = 0;
  int first, later;
  gint64 end = g_get_monotonic_time () + WAIT_US;

  pge_config_set_max_lifetime (config, 200);
  engine = engine_new_ok (config);
  g_signal_connect (engine, "connection-lost", G_CALLBACK (count_signal), &lost);
  first = backend_pid (engine);
  do
    {
      cr_assert_lt (g_get_monotonic_time (), end, "backend %d was never replaced", first);
      g_usleep (50 * 1000);
      later = backend_pid (engine);
    }
  while (later == first);
  cr_assert (wait_pid_gone (first), "the old backend %d was not closed", first);
  iterate_default_context ();
  cr_assert_eq (lost, 0, "a planned replacement was reported as connection-lost");
}

Test (lifecycle, lifetime_never_ends_a_transaction)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (1, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;
  int pid;

  pge_config_set_max_lifetime (config, 200);
  engine = engine_new_ok (config);
  tx = pge_engine_transaction (engine, 0, &error);
  cr_assert_null (error);
  pid = backend_pid (engine);
  assert_pid_kept (engine, pid, "transaction");
  cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
  /* Due long ago: replaced once the transaction let it go. */
  cr_assert (wait_pid_gone (pid), "backend %d outlived its lifetime after the commit", pid);
  cr_assert_neq (backend_pid (engine), pid);
}

Test (lifecycle, lifetime_never_ends_a_session)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (1, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeSession) session = NULL;
  g_autoptr(GError) error = NULL;
  int pid;

  pge_config_set_max_lifetime (config, 200);
  engine = engine_new_ok (config);
  session = pge_engine_session (engine, &error);
  cr_assert_null (error);
  pid = backend_pid (engine);
  assert_pid_kept (engine, pid, "session");
  cr_assert (pge_session_end (session, &error), "%s", error ? error->message : "");
  cr_assert (wait_pid_gone (pid), "backend %d outlived its lifetime after the session", pid);
}

Test (lifecycle, lifetime_never_ends_a_batch)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (1, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(GError) error = NULL;
  guint rows = 0;
  int pid = 0;

  pge_config_set_max_lifetime (config, 200);
  engine = engine_new_ok (config);
  batch = pge_engine_batch (engine, "SELECT pg_backend_pid() FROM generate_series(1, 8)", NULL, 2, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  /* Four pages, 150 ms apart: its cursor outlives three lifetimes. */
  for (;;)
    {
      g_autoptr(PgeResult) page = pge_batch_next (batch, &error);

      cr_assert_null (error, "page after %u rows: %s", rows, error ? error->message : "");
      if (page == NULL)
        break;
      for (guint i = 0; i < pge_result_get_n_rows (page); i++, rows++)
        {
          pid = pid == 0 ? (int) pge_result_get_int64 (page, i, 0) : pid;
          cr_assert_eq (pge_result_get_int64 (page, i, 0), pid);
        }
      g_usleep (150 * 1000);
    }
  cr_assert_eq (rows, 8);
  cr_assert (pge_batch_close (batch, &error));
  cr_assert (wait_pid_gone (pid), "backend %d outlived its lifetime after the batch", pid);
}

Test (lifecycle, lifetimes_are_jittered_so_connections_do_not_expire_together)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (4, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_auto(GStrv) pids = NULL;
  g_autofree char *list = NULL;
  g_autofree char *spread_sql = NULL;
  g_autofree char *spread = NULL;
  g_autofree char *first_spread = NULL;

  pge_config_set_max_lifetime (config, 2000);
  engine = engine_new_ok (config);
  list = backends_of (name);
  pids = g_strsplit (list, ",", -1);
  cr_assert_eq (g_strv_length (pids), 4, "backends: %s", list);
  spread_sql = g_strdup_printf ("SELECT round(extract(epoch FROM max(backend_start) - min(backend_start)) "
                                "* 1000) FROM pg_stat_activity WHERE application_name = '%s'", name);
  first_spread = pge_test_admin_query (spread_sql);
  /* The four first-generation backends, connected together, go; their
   * replacements connect when each one's lifetime ends. */
  for (guint i = 0; i < 4; i++)
    cr_assert (wait_pid_gone (atoi (pids[i])), "backend %s outlived its lifetime", pids[i]);
  g_clear_pointer (&list, g_free);
  for (gint64 end = g_get_monotonic_time () + WAIT_US;;)
    {
      g_auto(GStrv) now = NULL;

      g_clear_pointer (&list, g_free);
      list = backends_of (name);
      now = g_strsplit (list, ",", -1);
      if (g_strv_length (now) == 4)
        break;
      cr_assert_lt (g_get_monotonic_time (), end, "backends: %s", list);
      g_usleep (20 * 1000);
    }
  /* 2 s ± 10%: four draws spread over a 400 ms window; all four within
   * 20 ms of each other would mean no jitter (p < 0.001 with it). */
  spread = pge_test_admin_query (spread_sql);
  cr_assert_gt (atoi (spread), 20, "replacements connected within %s ms of each other "
                "(the first ones within %s ms)", spread, first_spread);
}

/* ------------------------------------------------------------------ idle */

Test (lifecycle, idle_connection_is_closed_and_reopened_on_demand)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (1, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autofree char *after = NULL;
  guint lost = 0;
  int first, second;

  pge_config_set_max_idle (config, 200);
  engine = engine_new_ok (config);
  g_signal_connect (engine, "connection-lost", G_CALLBACK (count_signal), &lost);
  first = backend_pid (engine);
  cr_assert (wait_pid_gone (first), "the idle backend %d was never closed", first);
  after = backends_of (name);
  cr_assert_str_eq (after, "", "the engine reconnected without being asked: %s", after);
  second = backend_pid (engine);
  cr_assert_neq (second, first);
  iterate_default_context ();
  cr_assert_eq (lost, 0, "closing an idle connection was reported as connection-lost");
}

Test (lifecycle, busy_connections_are_not_closed_for_idleness)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (1, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  int pid;

  pge_config_set_max_idle (config, 200);
  engine = engine_new_ok (config);
  pid = backend_pid (engine);
  /* Runs for three idle limits: busy is not idle. */
  result = pge_engine_query_sync (engine, "SELECT pg_backend_pid(), pg_sleep(0.6)", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), pid);
}

/* --------------------------------------------------------------- recycle */

Test (lifecycle, recycle_replaces_idle_at_once_busy_after_the_job_pinned_after_release)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (3, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeFuture) busy = NULL;
  g_autoptr(PgeResult) busy_result = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) all = NULL;
  g_autofree char *list = NULL;
  int pinned, busy_pid = 0, idle_pid = 0;
  gint64 end = g_get_monotonic_time () + WAIT_US;

  engine = engine_new_ok (config);
  list = backends_of (name);
  all = g_strsplit (list, ",", -1);
  cr_assert_eq (g_strv_length (all), 3, "backends: %s", list);
  tx = pge_engine_transaction (engine, 0, &error);
  cr_assert_null (error);
  pinned = backend_pid (engine);
  /* From another thread's point of view (no current transaction there):
   * a future, run by a worker. */
  busy = pge_engine_query_on_node (engine, "primary", "SELECT pg_backend_pid(), pg_sleep(1)", NULL);
  /* Find the busy one: the backend running pg_sleep. */
  while (busy_pid == 0)
    {
      g_autofree char *sql = g_strdup_printf (
        "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = '%s' "
        "AND query LIKE '%%pg_sleep(1)%%' AND state = 'active'", name);
      g_autofree char *pid = pge_test_admin_query (sql);

      busy_pid = atoi (pid);
      cr_assert_lt (g_get_monotonic_time (), end, "the sleeping query never started");
    }
  for (guint i = 0; i < 3; i++)
    if (atoi (all[i]) != pinned && atoi (all[i]) != busy_pid)
      idle_pid = atoi (all[i]);
  cr_assert_neq (idle_pid, 0, "pinned %d busy %d of %s", pinned, busy_pid, list);

  pge_engine_recycle (engine);
  cr_assert (wait_pid_gone (idle_pid), "the idle backend was not replaced at once");
  cr_assert (pid_is_alive (busy_pid), "the busy backend was closed under its job");
  cr_assert_eq (backend_pid (engine), pinned, "the transaction lost its connection");

  busy_result = pge_future_wait (busy, &error);
  cr_assert_null (error, "the busy job failed: %s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (busy_result, 0, 0), busy_pid);
  cr_assert (wait_pid_gone (busy_pid), "the busy backend was not replaced after its job");
  cr_assert (pid_is_alive (pinned), "the pinned backend was closed inside its transaction");

  cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
  cr_assert (wait_pid_gone (pinned), "the pinned backend was not replaced after its release");
  g_clear_pointer (&list, g_free);
  /* Three new ones, all answering. */
  end = g_get_monotonic_time () + WAIT_US;
  for (;;)
    {
      g_auto(GStrv) now = NULL;

      g_clear_pointer (&list, g_free);
      list = backends_of (name);
      now = g_strsplit (list, ",", -1);
      if (g_strv_length (now) == 3)
        break;
      cr_assert_lt (g_get_monotonic_time (), end, "backends after recycle: %s", list);
      g_usleep (20 * 1000);
    }
}

Test (lifecycle, recycle_runs_the_on_connect_setup_again)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (1, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  int pid;

  pge_config_set_connect_sql (config, "SET work_mem = '1MB'");
  engine = engine_new_ok (config);
  pid = backend_pid (engine);
  /* What a migration or a rotation would change: here, the script. The
   * engine keeps its snapshot, so the server-side default moves instead. */
  cr_assert (pge_engine_exec_sync (engine, "SET work_mem = '2MB'", &error));
  pge_engine_recycle (engine);
  cr_assert (wait_pid_gone (pid));
  result = pge_engine_query_sync (engine, "SELECT current_setting('work_mem')", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "1MB");
}

Test (lifecycle, recycle_on_a_closed_engine_does_nothing)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);

  pge_engine_close (engine);
  pge_engine_recycle (engine);
  cr_assert (pge_engine_is_closed (engine));
}

/* --------------------------------------------------------------- give-up */

typedef struct {
  gint refuse;   /* atomic: the connect function fails */
} Door;

static gboolean
door_connect (PGconn *conn, gpointer data, GError **error)
{
  Door *door = data;

  if (!g_atomic_int_get (&door->refuse))
    return TRUE;
  g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CONNECTION, "the door is shut");
  return FALSE;
}

/* Shuts @door (every connect of @engine's worker now fails) and
 * terminates the worker's backend, waiting until it is gone. */
static void
shut_out (PgeEngine *engine, const char *name, Door *door)
{
  g_autofree char *kill = g_strdup_printf (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '%s'", name);
  int pid = backend_pid (engine);

  g_atomic_int_set (&door->refuse, TRUE);
  g_free (pge_test_admin_query (kill));
  cr_assert (wait_pid_gone (pid));
}

static void
wait_count (guint *count, guint n)
{
  gint64 end = g_get_monotonic_time () + WAIT_US;

  while (*count < n)
    {
      cr_assert_lt (g_get_monotonic_time (), end, "no signal within 10 s");
      g_main_context_iteration (NULL, FALSE);
      g_usleep (5 * 1000);
    }
}

Test (lifecycle, unreachable_node_is_given_up_then_welcomed_back)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (1, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeFuture) queued = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Door door = { 0 };
  guint unreachable = 0, reachable = 0;

  /* The acquire timeout is far longer than the test may take: only the
   * give-up can fail the calls. */
  pge_config_set_acquire_timeout (config, 120000);
  pge_config_set_reconnect_timeout (config, 300);
  pge_config_set_connect_func (config, door_connect, &door, NULL);
  engine = engine_new_ok (config);
  g_signal_connect (engine, "node-unreachable", G_CALLBACK (count_signal), &unreachable);
  g_signal_connect (engine, "node-reachable", G_CALLBACK (count_signal), &reachable);

  /* Every connection attempt now fails: the worker retries with backoff. */
  shut_out (engine, name, &door);
  queued = pge_engine_query (engine, "SELECT 1", NULL);
  wait_count (&unreachable, 1);
  result = pge_future_wait (queued, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  g_clear_error (&error);
  /* New calls fail at once, not after the acquire timeout. */
  result = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  g_clear_error (&error);
  cr_assert_eq (reachable, 0);

  /* Retries went on in the background. */
  g_atomic_int_set (&door.refuse, FALSE);
  wait_count (&reachable, 1);
  result = pge_engine_query_sync (engine, "SELECT 2", NULL, &error);
  cr_assert_null (error, "after the comeback: %s", error ? error->message : "");
  cr_assert_eq (unreachable, 1, "gave up more than once");
}

Test (lifecycle, no_reconnect_timeout_never_gives_up)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (1, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Door door = { 0 };
  guint unreachable = 0;

  pge_config_set_acquire_timeout (config, 1500);
  pge_config_set_reconnect_timeout (config, 0);
  pge_config_set_connect_func (config, door_connect, &door, NULL);
  engine = engine_new_ok (config);
  g_signal_connect (engine, "node-unreachable", G_CALLBACK (count_signal), &unreachable);
  shut_out (engine, name, &door);
  /* Waits out the acquire timeout, as before 1.2. */
  result = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  iterate_default_context ();
  cr_assert_eq (unreachable, 0);
  g_atomic_int_set (&door.refuse, FALSE);
}

Test (lifecycle, unreachable_replica_is_given_up_with_a_signal)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  guint unreachable = 0;

  pge_config_add_replica (config, "gone", "host=127.0.0.1 port=1 connect_timeout=2", 1);
  pge_config_set_reconnect_timeout (config, 200);
  engine = engine_new_ok (config);
  g_signal_connect (engine, "node-unreachable", G_CALLBACK (count_signal), &unreachable);
  wait_count (&unreachable, 1);
}

/* ------------------------------------------------------- grow and shrink */

static guint
count_of (const char *list)
{
  g_auto(GStrv) pids = g_strsplit (list, ",", -1);

  return *list == '\0' ? 0 : g_strv_length (pids);
}

/* Waits (bounded) until @app_name has @n backends. */
static void
wait_backends (const char *app_name, guint n, const char *what)
{
  gint64 end = g_get_monotonic_time () + WAIT_US;

  for (;;)
    {
      g_autofree char *list = backends_of (app_name);

      if (count_of (list) == n)
        return;
      cr_assert_lt (g_get_monotonic_time (), end, "%s: want %u backends, have %s", what, n, list);
      g_usleep (20 * 1000);
    }
}

Test (lifecycle, min_workers_grows_under_load_and_shrinks_when_idle)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (4, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GPtrArray) futures = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_future_unref);
  g_autofree char *at_start = NULL;
  guint lost = 0;

  pge_config_set_min_workers (config, 1);
  pge_config_set_max_idle (config, 300);
  cr_assert_eq (pge_config_get_min_workers (config), 1);
  engine = engine_new_ok (config);
  g_signal_connect (engine, "connection-lost", G_CALLBACK (count_signal), &lost);
  at_start = backends_of (name);
  cr_assert_eq (count_of (at_start), 1, "opened at start: %s", at_start);
  cr_assert_eq (pge_engine_get_n_workers (engine), 4);

  /* Four at once, each long enough that they overlap: the pool grows. */
  for (guint i = 0; i < 4; i++)
    g_ptr_array_add (futures, pge_engine_query (engine, "SELECT pg_sleep(1)", NULL));
  wait_backends (name, 4, "under load");
  for (guint i = 0; i < futures->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures->pdata[i], &error);

      cr_assert_null (error, "%s", error ? error->message : "");
    }
  /* Idle again: back to min_workers, never below. */
  wait_backends (name, 1, "idle");
  g_usleep (600 * 1000);
  wait_backends (name, 1, "idle for longer");
  iterate_default_context ();
  cr_assert_eq (lost, 0, "growing or shrinking was reported as connection-lost");
}

Test (lifecycle, fixed_pool_opens_every_connection_at_start)
{
  g_autofree char *name = unique_name ();
  g_autoptr(PgeConfig) config = named_config (3, name);
  g_autoptr(PgeEngine) engine = NULL;
  g_autofree char *at_start = NULL;

  cr_assert_eq (pge_config_get_min_workers (config), 0);
  engine = engine_new_ok (config);
  at_start = backends_of (name);
  cr_assert_eq (count_of (at_start), 3, "opened at start: %s", at_start);
}

Test (lifecycle, min_workers_above_workers_is_invalid_argument)
{
  g_autoptr(PgeConfig) config = pge_test_config (2);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeEngine) engine = NULL;

  pge_config_set_min_workers (config, 3);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------- give-up, with a real outage */

/* A server of this test's own, halted (-m immediate) and started again. */
static char *own_dir;

static void
own_cluster_down (void)
{
  if (own_dir != NULL)
    {
      g_free (pge_test_cluster_tool ("stop", own_dir, NULL, NULL));
      g_clear_pointer (&own_dir, g_free);
    }
  pge_test_engine_down ();
}

Test (lifecycle, halted_server_is_given_up_after_the_reconnect_timeout_then_welcomed_back,
      .fini = own_cluster_down)
{
  g_autoptr(PgeConfig) config = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeFuture) queued = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *conninfo = NULL;
  g_autofree char *again = NULL;
  guint unreachable = 0, reachable = 0;

  /* Set when this run made its own cluster, so the tool works here. */
  if (g_getenv ("PGE_TEST_CLUSTER_DIR") == NULL)
    cr_skip_test ("needs tools/pge-cluster (PGE_TEST_CONNINFO names an outside server)");
  own_dir = g_dir_make_tmp ("pge-giveup-XXXXXX", &error);
  cr_assert_null (error);
  conninfo = pge_test_cluster_tool ("start", own_dir, NULL, NULL);
  cr_assert_not_null (conninfo, "cannot start a cluster of its own");
  config = pge_config_new (conninfo);
  pge_config_set_workers (config, 2);
  pge_config_set_acquire_timeout (config, 120000);
  pge_config_set_reconnect_timeout (config, 500);
  engine = engine_new_ok (config);
  g_signal_connect (engine, "node-unreachable", G_CALLBACK (count_signal), &unreachable);
  g_signal_connect (engine, "node-reachable", G_CALLBACK (count_signal), &reachable);
  result = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  cr_assert_null (error);

  g_free (pge_test_cluster_tool ("halt", own_dir, NULL, NULL));
  queued = pge_engine_query (engine, "SELECT 1", NULL);
  wait_count (&unreachable, 1);
  g_clear_pointer (&result, pge_result_unref);
  result = pge_future_wait (queued, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  g_clear_error (&error);
  result = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  g_clear_error (&error);

  again = pge_test_cluster_tool ("start-again", own_dir, NULL, NULL);
  cr_assert_not_null (again, "cannot start the cluster again");
  wait_count (&reachable, 1);
  result = pge_engine_query_sync (engine, "SELECT 2", NULL, &error);
  cr_assert_null (error, "after the comeback: %s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 2);
}
