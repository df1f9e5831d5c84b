/* fixture.c — starts the throwaway cluster and gives each test an engine.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fixture.h"

#ifndef PGE_TEST_SRCDIR
#define PGE_TEST_SRCDIR "."
#endif

PgeEngine *test_engine = NULL;

static char *cluster_dir = NULL;    /* set in the runner when it started one */
static char *pgbouncer_dir = NULL;  /* set in the runner: where a test may start one */
static char *replica_dir = NULL;    /* set in the runner: where a test may start the standby */
static char *schema = NULL;
static char *schema_conninfo = NULL;

static char *
run_cluster_tool (const char *command, const char *dir)
{
  g_autofree char *tool = g_build_filename (PGE_TEST_SRCDIR, "tools", "pge-cluster", NULL);
  const char *argv[] = { tool, command, dir, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                     &status, &error))
    cr_assert_fail ("cannot run %s: %s", tool, error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      fprintf (stderr, "%s %s failed:\n%s\n", tool, command, err ? err : "");
      return NULL;
    }
  return g_strdup (g_strstrip (out));
}

/* Runs tools/pge-pgbouncer; its stdout, or NULL with its exit status in
 * @status (77: PgBouncer is not installed). */
static char *
run_pgbouncer_tool (const char *command, const char *dir, const char *upstream, int *exit_status)
{
  g_autofree char *tool = g_build_filename (PGE_TEST_SRCDIR, "tools", "pge-pgbouncer", NULL);
  const char *argv[] = { tool, command, dir, upstream, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (exit_status != NULL)
    *exit_status = -1;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                     &status, &error))
    {
      fprintf (stderr, "cannot run %s: %s\n", tool, error->message);
      return NULL;
    }
  if (!g_spawn_check_wait_status (status, &error))
    {
      if (exit_status != NULL && error->domain == G_SPAWN_EXIT_ERROR)
        *exit_status = error->code;
      if (error->domain != G_SPAWN_EXIT_ERROR || error->code != 77)
        fprintf (stderr, "%s %s failed:\n%s\n", tool, command, err ? err : "");
      return NULL;
    }
  if (exit_status != NULL)
    *exit_status = 0;
  return g_strdup (g_strstrip (out));
}

ReportHook (PRE_ALL) (struct criterion_test_set *set)
{
  g_autofree char *conninfo = NULL;

  (void) set;
  /* The first test that asks for PgBouncer starts it there (tests run in
   * processes of their own); POST_ALL stops it. */
  if (g_getenv ("PGE_TEST_PGBOUNCER_CONNINFO") == NULL)
    {
      pgbouncer_dir = g_strdup_printf ("%s/pge-pgbouncer-%d-%u", g_get_tmp_dir (),
                                       (int) getpid (), g_random_int ());
      g_setenv ("PGE_TEST_PGBOUNCER_DIR", pgbouncer_dir, TRUE);
    }
  if (g_getenv ("PGE_TEST_CONNINFO") != NULL)
    return;
  cluster_dir = g_strdup_printf ("%s/pge-test-%d-%u", g_get_tmp_dir (), (int) getpid (),
                                 g_random_int ());
  conninfo = run_cluster_tool ("start", cluster_dir);
  if (conninfo == NULL)
    {
      fprintf (stderr, "could not start a throwaway PostgreSQL; set PGE_TEST_CONNINFO "
                       "to use an existing server\n");
      exit (2);
    }
  g_setenv ("PGE_TEST_CONNINFO", conninfo, TRUE);
  g_setenv ("PGE_TEST_CLUSTER_DIR", cluster_dir, TRUE);
  replica_dir = g_strconcat (cluster_dir, "-standby", NULL);
  g_setenv ("PGE_TEST_REPLICA_DIR", replica_dir, TRUE);
}

ReportHook (POST_ALL) (struct criterion_global_stats *stats)
{
  (void) stats;
  if (pgbouncer_dir != NULL)
    {
      g_autofree char *lock = g_strconcat (pgbouncer_dir, ".lock", NULL);

      /* Before the cluster: PgBouncer holds connections to it. */
      if (g_file_test (pgbouncer_dir, G_FILE_TEST_EXISTS))
        g_free (run_pgbouncer_tool ("stop", pgbouncer_dir, NULL, NULL));
      unlink (lock);
    }
  g_clear_pointer (&pgbouncer_dir, g_free);
  if (replica_dir != NULL)
    {
      g_autofree char *lock = g_strconcat (replica_dir, ".lock", NULL);

      if (g_file_test (replica_dir, G_FILE_TEST_EXISTS))
        g_free (run_cluster_tool ("stop", replica_dir));
      unlink (lock);
    }
  g_clear_pointer (&replica_dir, g_free);
  if (cluster_dir != NULL)
    g_free (run_cluster_tool ("stop", cluster_dir));
  g_clear_pointer (&cluster_dir, g_free);
}

const char *
pge_test_conninfo (void)
{
  const char *conninfo = g_getenv ("PGE_TEST_CONNINFO");

  cr_assert_not_null (conninfo, "PGE_TEST_CONNINFO is not set");
  return conninfo;
}

const char *
pge_test_schema (void)
{
  return schema;
}

const char *
pge_test_schema_conninfo (void)
{
  return schema_conninfo ? schema_conninfo : pge_test_conninfo ();
}

static void
quiet_notice (void *arg, const char *message)
{
}

char *
pge_test_admin_query (const char *sql)
{
  PGconn *conn = PQconnectdb (pge_test_conninfo ());
  PGresult *res;
  char *value = NULL;

  cr_assert_eq (PQstatus (conn), CONNECTION_OK, "admin connection: %s", PQerrorMessage (conn));
  /* "drop cascades to table ..." is noise in the test output. */
  PQsetNoticeProcessor (conn, quiet_notice, NULL);
  res = PQexec (conn, sql);
  cr_assert (PQresultStatus (res) == PGRES_TUPLES_OK || PQresultStatus (res) == PGRES_COMMAND_OK,
             "admin query %s: %s", sql, PQresultErrorMessage (res));
  if (PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) > 0 && !PQgetisnull (res, 0, 0))
    value = g_strdup (PQgetvalue (res, 0, 0));
  PQclear (res);
  PQfinish (conn);
  return value;
}

void
pge_test_terminate_backend (gint64 pid)
{
  g_autofree char *kill = g_strdup_printf ("SELECT pg_terminate_backend(%" G_GINT64_FORMAT ")", pid);
  g_autofree char *alive = g_strdup_printf ("SELECT count(*) FROM pg_stat_activity WHERE pid = %"
                                            G_GINT64_FORMAT, pid);

  g_free (pge_test_admin_query (kill));
  for (int i = 0; i < 500; i++)
    {
      g_autofree char *n = pge_test_admin_query (alive);

      if (g_strcmp0 (n, "0") == 0)
        return;
      g_usleep (10 * 1000);
    }
  cr_assert_fail ("backend %" G_GINT64_FORMAT " did not go away", pid);
}

gboolean
pge_test_restart_server (void)
{
  const char *dir = g_getenv ("PGE_TEST_CLUSTER_DIR");
  g_autofree char *out = NULL;

  if (dir == NULL)
    return FALSE;
  out = run_cluster_tool ("restart", dir);
  cr_assert_not_null (out, "the server did not restart");
  return TRUE;
}

int
pge_test_postmaster_pid (void)
{
  const char *dir = g_getenv ("PGE_TEST_CLUSTER_DIR");
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;

  if (dir == NULL)
    return 0;
  path = g_build_filename (dir, "data", "postmaster.pid", NULL);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  return (int) g_ascii_strtoll (contents, NULL, 10);
}

/* The state of this run's PgBouncer, shared by the test processes through
 * the lock file next to its directory: empty while nobody tried to start
 * it, "none" when PgBouncer is not installed. */
#define PGBOUNCER_NOT_INSTALLED "none"

const char *
pge_test_pgbouncer_conninfo (void)
{
  static char *conninfo = NULL;
  static gboolean known = FALSE;
  const char *dir;
  g_autofree char *lock_path = NULL;
  g_autofree char *conninfo_path = NULL;
  char state[8] = { 0 };
  int fd;
  int status = 0;
  gboolean not_installed = FALSE;

  if (g_getenv ("PGE_TEST_PGBOUNCER_CONNINFO") != NULL)
    return g_getenv ("PGE_TEST_PGBOUNCER_CONNINFO");
  if (known)
    return conninfo;
  dir = g_getenv ("PGE_TEST_PGBOUNCER_DIR");
  cr_assert_not_null (dir, "PGE_TEST_PGBOUNCER_DIR is not set (no test runner?)");

  lock_path = g_strconcat (dir, ".lock", NULL);
  conninfo_path = g_build_filename (dir, "conninfo", NULL);
  fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  cr_assert (fd >= 0, "%s: %s", lock_path, g_strerror (errno));
  while (flock (fd, LOCK_EX) != 0)
    cr_assert_eq (errno, EINTR, "flock %s: %s", lock_path, g_strerror (errno));

  /* Read and written through @fd: replacing the file would break the lock. */
  if (pread (fd, state, sizeof state - 1, 0) > 0 && strcmp (state, PGBOUNCER_NOT_INSTALLED) == 0)
    not_installed = TRUE;
  else if (g_file_get_contents (conninfo_path, &conninfo, NULL, NULL))
    g_strstrip (conninfo);   /* another test started it */
  else
    {
      /* Nobody tried yet, or a start failed (its logs are in @dir). */
      if (g_file_test (dir, G_FILE_TEST_EXISTS))
        g_free (run_pgbouncer_tool ("stop", dir, NULL, NULL));
      conninfo = run_pgbouncer_tool ("start", dir, pge_test_conninfo (), &status);
      not_installed = conninfo == NULL && status == 77;
      if (not_installed)
        cr_assert_eq (pwrite (fd, PGBOUNCER_NOT_INSTALLED, strlen (PGBOUNCER_NOT_INSTALLED), 0),
                      (ssize_t) strlen (PGBOUNCER_NOT_INSTALLED), "%s: %s", lock_path,
                      g_strerror (errno));
    }
  flock (fd, LOCK_UN);
  close (fd);

  cr_assert (conninfo != NULL || not_installed, "could not start PgBouncer (see above)");
  known = TRUE;
  return conninfo;
}

PgeConfig *
pge_test_config (guint n_workers)
{
  PgeConfig *config = pge_config_new (pge_test_schema_conninfo ());

  pge_config_set_workers (config, n_workers);
  pge_config_set_acquire_timeout (config, 10000);
  return config;
}

PgeEngine *
pge_test_new_engine (guint n_workers)
{
  g_autoptr(PgeConfig) config = pge_test_config (n_workers);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine = pge_engine_new (config, &error);

  cr_assert_null (error, "pge_engine_new: %s", error ? error->message : "");
  cr_assert_not_null (engine);
  return engine;
}

/* A hung test is killed by SIGALRM, which Criterion reports as a crash.
 * Criterion's own .timeout is not used: BoxFort's timeout thread frees a
 * cancelled request only when it next runs, so a test that ends just
 * before the runner exits leaves 48 bytes that LeakSanitizer reports,
 * failing the whole binary under AddressSanitizer. */
#define PGE_TEST_TIMEOUT_S 60

void
pge_test_guard_long (void)
{
  alarm (2 * PGE_TEST_TIMEOUT_S);
}

void
pge_test_engine_up (void)
{
  g_autofree char *sql = NULL;

  alarm (PGE_TEST_TIMEOUT_S);

  schema = g_strdup_printf ("t_%d_%u", (int) getpid (), g_random_int_range (0, 1000000));
  sql = g_strdup_printf ("CREATE SCHEMA %s", schema);
  g_free (pge_test_admin_query (sql));
  schema_conninfo = g_strdup_printf ("%s options='-c search_path=%s'", pge_test_conninfo (), schema);
  test_engine = pge_test_new_engine (4);
}

void
pge_test_engine_down (void)
{
  g_autofree char *sql = NULL;

  g_clear_pointer (&test_engine, pge_engine_unref);
  if (schema != NULL)
    {
      sql = g_strdup_printf ("DROP SCHEMA IF EXISTS %s CASCADE", schema);
      g_free (pge_test_admin_query (sql));
    }
  g_clear_pointer (&schema, g_free);
  g_clear_pointer (&schema_conninfo, g_free);
}

PGresult *
gate_hold (PGconn *conn, gpointer data, GError **error)
{
  Gate *gate = data;

  g_mutex_lock (&gate->lock);
  gate->started = TRUE;
  g_cond_broadcast (&gate->cond);
  while (!gate->released)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
  return NULL;
}

void
gate_wait_started (Gate *gate)
{
  g_mutex_lock (&gate->lock);
  while (!gate->started)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
}

PgeFuture *
gate_close (PgeEngine *engine, Gate *gate)
{
  PgeFuture *future = pge_engine_run_in_worker (engine, gate_hold, gate, NULL);

  gate_wait_started (gate);
  return future;
}

void
gate_open (Gate *gate)
{
  g_mutex_lock (&gate->lock);
  gate->released = TRUE;
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

/* ------------------------------------------------------------- replicas */

char *
pge_test_cluster_tool (const char *command, const char *dir, const char *a3, const char *a4)
{
  g_autofree char *tool = g_build_filename (PGE_TEST_SRCDIR, "tools", "pge-cluster", NULL);
  const char *argv[] = { tool, command, dir, a3, a4, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                     &status, &error))
    cr_assert_fail ("cannot run %s: %s", tool, error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      fprintf (stderr, "%s %s %s failed:\n%s\n", tool, command, dir, err ? err : "");
      return NULL;
    }
  return g_strdup (g_strstrip (out));
}

const char *
pge_test_replica_conninfo (void)
{
  static char *conninfo = NULL;
  const char *dir = g_getenv ("PGE_TEST_REPLICA_DIR");
  const char *primary_dir = g_getenv ("PGE_TEST_CLUSTER_DIR");
  g_autofree char *lock_path = NULL;
  int fd;

  if (conninfo != NULL || dir == NULL || primary_dir == NULL)
    return conninfo;
  /* Tests run in processes of their own: the first one starts it. */
  lock_path = g_strconcat (dir, ".lock", NULL);
  fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  cr_assert (fd >= 0, "%s: %s", lock_path, g_strerror (errno));
  while (flock (fd, LOCK_EX) != 0)
    cr_assert_eq (errno, EINTR, "flock %s: %s", lock_path, g_strerror (errno));
  if (g_file_test (dir, G_FILE_TEST_EXISTS))
    conninfo = pge_test_cluster_tool ("conninfo", dir, NULL, NULL);
  else
    conninfo = pge_test_cluster_tool ("standby", dir, primary_dir, "async");
  flock (fd, LOCK_UN);
  close (fd);
  cr_assert_not_null (conninfo, "could not start a standby (see above)");
  return conninfo;
}

char *
pge_test_replica_schema_conninfo (void)
{
  const char *conninfo = pge_test_replica_conninfo ();

  if (conninfo == NULL)
    return NULL;
  return g_strdup_printf ("%s options='-c search_path=%s'", conninfo, schema);
}

void
pge_test_wait_replayed (const char *conninfo)
{
  g_autofree char *lsn = pge_test_admin_query ("SELECT pg_current_wal_insert_lsn()");
  g_autofree char *sql = g_strdup_printf ("SELECT pg_last_wal_replay_lsn() >= '%s'", lsn);
  /* A standby receives only flushed WAL, and the insert position may end
   * in a record nobody flushes soon: the cluster runs with
   * synchronous_commit = off, and the WAL writer writes whole pages and
   * async commits only. On a quiet primary the wait then lasted until
   * the next checkpoint. A synchronous commit that has an xid flushes
   * past it. */
  g_free (pge_test_admin_query ("SET synchronous_commit = on; SELECT txid_current ()"));
  gint64 give_up = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  PGconn *conn = PQconnectdb (conninfo);

  cr_assert_eq (PQstatus (conn), CONNECTION_OK, "standby: %s", PQerrorMessage (conn));
  for (;;)
    {
      PGresult *res = PQexec (conn, sql);
      gboolean done = PQresultStatus (res) == PGRES_TUPLES_OK && strcmp (PQgetvalue (res, 0, 0), "t") == 0;

      PQclear (res);
      if (done)
        break;
      cr_assert (g_get_monotonic_time () < give_up, "the standby did not replay %s within 30 s", lsn);
      g_usleep (10 * 1000);
    }
  PQfinish (conn);
}

/* ----------------------------------------------------- statement probe */

static GMutex probe_lock;
static guint probe_here, probe_elsewhere;
static GThread *probe_thread;
static char *probe_marker;
static gsize probe_installed;

static GLogWriterOutput
probe_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].key, "PGE_SQL") == 0 && strstr (fields[i].value, probe_marker) != NULL)
      {
        g_mutex_lock (&probe_lock);
        if (g_thread_self () == probe_thread)
          probe_here++;
        else
          probe_elsewhere++;
        g_mutex_unlock (&probe_lock);
      }
  return G_LOG_WRITER_HANDLED;
}

void
pge_test_probe_start (const char *marker)
{
  g_mutex_lock (&probe_lock);
  g_free (probe_marker);
  probe_marker = g_strdup (marker);
  probe_thread = g_thread_self ();
  probe_here = probe_elsewhere = 0;
  g_mutex_unlock (&probe_lock);
  /* GLib takes a writer once per process. */
  if (g_once_init_enter (&probe_installed))
    {
      g_log_set_writer_func (probe_writer, NULL, NULL);
      g_once_init_leave (&probe_installed, 1);
    }
}

void
pge_test_probe_counts (guint *here, guint *elsewhere, gboolean reset)
{
  g_mutex_lock (&probe_lock);
  *here = probe_here;
  *elsewhere = probe_elsewhere;
  if (reset)
    probe_here = probe_elsewhere = 0;
  g_mutex_unlock (&probe_lock);
}
