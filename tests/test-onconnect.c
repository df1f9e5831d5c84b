/* test-onconnect.c — the on-connect setup: a function and a script run on
 * every new connection (engine/onconnect.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include "fixture.h"

TestSuite (onconnect, .init = pge_test_engine_up, .fini = pge_test_engine_down);

typedef struct {
  GMutex     lock;
  GPtrArray *threads;   /* of GThread*, one per call */
  GArray    *pids;      /* of int: PQbackendPID of each call's PGconn */
  gint       freed;     /* atomic: the notify ran */
  GError    *fail;      /* set: the function fails with a copy */
} Seen;

static void
seen_init (Seen *seen)
{
  g_mutex_init (&seen->lock);
  seen->threads = g_ptr_array_new ();
  seen->pids = g_array_new (FALSE, FALSE, sizeof (int));
}

static void
seen_clear (Seen *seen)
{
  g_ptr_array_unref (seen->threads);
  g_array_unref (seen->pids);
  g_clear_error (&seen->fail);
  g_mutex_clear (&seen->lock);
}

static guint
seen_calls (Seen *seen)
{
  guint n;

  g_mutex_lock (&seen->lock);
  n = seen->pids->len;
  g_mutex_unlock (&seen->lock);
  return n;
}

static gboolean
seen_has_pid (Seen *seen, int pid)
{
  gboolean found = FALSE;

  g_mutex_lock (&seen->lock);
  for (guint i = 0; i < seen->pids->len; i++)
    found = found || g_array_index (seen->pids, int, i) == pid;
  g_mutex_unlock (&seen->lock);
  return found;
}

static gboolean
record_connect (PGconn *conn, gpointer data, GError **error)
{
  Seen *seen = data;
  int pid = PQbackendPID (conn);
  PGresult *res;
  gboolean ok;

  /* What a real setup does: a round trip on the connection it is given. */
  res = PQexec (conn, "SET lock_timeout = '3s'");
  ok = PQresultStatus (res) == PGRES_COMMAND_OK;
  PQclear (res);
  cr_assert (ok);
  g_mutex_lock (&seen->lock);
  g_ptr_array_add (seen->threads, g_thread_self ());
  g_array_append_val (seen->pids, pid);
  if (seen->fail != NULL)
    {
      g_mutex_unlock (&seen->lock);
      g_propagate_error (error, g_error_copy (seen->fail));
      return FALSE;
    }
  g_mutex_unlock (&seen->lock);
  return TRUE;
}

static void
mark_freed (gpointer data)
{
  g_atomic_int_set (&((Seen *) data)->freed, TRUE);
}

static char *
query_text (PgeEngine *engine, const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  return g_strdup (pge_result_get_value (result, 0, 0));
}

static int
backend_pid (PgeEngine *engine)
{
  g_autofree char *pid = query_text (engine, "SELECT pg_backend_pid()");

  return atoi (pid);
}

Test (onconnect, function_runs_on_each_new_connection_on_its_worker_thread)
{
  g_autoptr(PgeConfig) config = pge_test_config (3);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *lock_timeout = NULL;
  Seen seen = { 0 };

  seen_init (&seen);
  pge_config_set_connect_func (config, record_connect, &seen, mark_freed);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (seen_calls (&seen), 3);
  for (guint i = 0; i < 3; i++)
    cr_assert_neq (seen.threads->pdata[i], g_thread_self (), "ran on the caller's thread");
  cr_assert_neq (seen.threads->pdata[0], seen.threads->pdata[1]);
  cr_assert (seen_has_pid (&seen, backend_pid (engine)));
  lock_timeout = query_text (engine, "SHOW lock_timeout");
  cr_assert_str_eq (lock_timeout, "3s");
  /* The engine's snapshot keeps the function; the config's does too. */
  g_clear_object (&engine);
  cr_assert_not (g_atomic_int_get (&seen.freed));
  g_clear_pointer (&config, pge_config_unref);
  cr_assert (g_atomic_int_get (&seen.freed), "the user data was never freed");
  seen_clear (&seen);
}

Test (onconnect, function_runs_again_after_a_reconnect)
{
  g_autofree char *name = g_strdup_printf ("pge_oc_%d_%u", (int) getpid (), g_random_int ());
  g_autofree char *conninfo = g_strdup_printf ("%s application_name=%s", pge_test_schema_conninfo (), name);
  g_autofree char *kill = g_strdup_printf (
    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = '%s'", name);
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  Seen seen = { 0 };
  int before, after = 0;
  gint64 end;

  seen_init (&seen);
  pge_config_set_workers (config, 1);
  pge_config_set_connect_func (config, record_connect, &seen, NULL);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  before = backend_pid (engine);
  g_free (pge_test_admin_query (kill));
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (after == 0 || after == before)
    {
      g_autoptr(PgeResult) result = pge_engine_query_sync (engine, "SELECT pg_backend_pid()", NULL, NULL);

      after = result != NULL ? (int) pge_result_get_int64 (result, 0, 0) : 0;
      cr_assert_lt (g_get_monotonic_time (), end, "never reconnected");
    }
  cr_assert_geq (seen_calls (&seen), 2);
  cr_assert (seen_has_pid (&seen, after), "the new connection %d skipped the setup", after);
  g_clear_object (&engine);
  seen_clear (&seen);
}

Test (onconnect, script_runs_on_every_connection)
{
  g_autoptr(PgeConfig) config = pge_test_config (2);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) futures = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_future_unref);
  g_autofree char *script = NULL;

  pge_config_set_connect_sql (config, "SET work_mem = '7MB'; SET lock_timeout = '4s'");
  script = pge_config_get_connect_sql (config);
  cr_assert_str_eq (script, "SET work_mem = '7MB'; SET lock_timeout = '4s'");
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  /* Both workers at once. */
  for (guint i = 0; i < 6; i++)
    g_ptr_array_add (futures, pge_engine_query (engine, "SELECT current_setting('work_mem'), "
                                                "current_setting('lock_timeout'), pg_sleep(0.05)", NULL));
  for (guint i = 0; i < futures->len; i++)
    {
      g_autoptr(PgeResult) result = pge_future_wait (futures->pdata[i], &error);

      cr_assert_null (error);
      cr_assert_str_eq (pge_result_get_value (result, 0, 0), "7MB");
      cr_assert_str_eq (pge_result_get_value (result, 0, 1), "4s");
    }
}

Test (onconnect, script_runs_again_after_a_sessions_discard_all)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *work_mem = NULL;

  pge_config_set_connect_sql (config, "SET work_mem = '7MB'");
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  session = pge_engine_session (engine, &error);
  cr_assert_null (error);
  cr_assert (pge_session_exec_sync (session, "SET work_mem = '1MB'", &error));
  cr_assert (pge_session_end (session, &error), "%s", error ? error->message : "");
  /* DISCARD ALL reset the session's SET, and with it the script's: the
   * script ran again, so the next user sees 7MB, not the server's 4MB. */
  work_mem = query_text (engine, "SHOW work_mem");
  cr_assert_str_eq (work_mem, "7MB");
}

Test (onconnect, failing_function_fails_the_connection_attempt_with_its_error)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  Seen seen = { 0 };

  seen_init (&seen);
  seen.fail = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "role app_user is missing");
  pge_config_set_connect_func (config, record_connect, &seen, NULL);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  cr_assert (strstr (error->message, "role app_user is missing") != NULL, "%s", error->message);
  g_clear_pointer (&config, pge_config_unref);
  seen_clear (&seen);
}

Test (onconnect, failing_script_fails_the_engine_start_with_the_server_error)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;

  pge_config_set_connect_sql (config, "SET ROLE no_such_role_pge");
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  cr_assert_not_null (error);
  cr_assert_eq (error->domain, PGE_ERROR);
  cr_assert (strstr (error->message, "on-connect script") != NULL, "%s", error->message);
  cr_assert (strstr (error->message, "no_such_role_pge") != NULL, "%s", error->message);
}

Test (onconnect, script_that_leaves_a_transaction_open_is_refused)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;

  pge_config_set_connect_sql (config, "BEGIN; SET LOCAL work_mem = '2MB'");
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
}

Test (onconnect, null_clears_the_script_and_the_function)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *work_mem = NULL;
  Seen seen = { 0 };

  seen_init (&seen);
  pge_config_set_connect_sql (config, "SET work_mem = '7MB'");
  pge_config_set_connect_func (config, record_connect, &seen, mark_freed);
  pge_config_set_connect_sql (config, NULL);
  cr_assert_null (pge_config_get_connect_sql (config));
  pge_config_set_connect_func (config, NULL, NULL, NULL);
  cr_assert (g_atomic_int_get (&seen.freed), "the replaced function's data was not freed");
  engine = pge_engine_new (config, &error);
  cr_assert_null (error);
  cr_assert_eq (seen_calls (&seen), 0);
  work_mem = query_text (engine, "SHOW work_mem");
  cr_assert_str_neq (work_mem, "7MB");
  seen_clear (&seen);
}
