/* test-replica.c — read routing on a real streaming standby.
 *
 * The standby is the fixture's (pge_test_replica_conninfo(): asynchronous,
 * of the run's cluster, shared by these tests); the tests that stop a
 * standby or pause its replay make one of their own.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include "fixture.h"

/* Standbys a test made for itself, stopped even when the test fails. */
static char *own_standby_dir = NULL;
static char *own_standby2_dir = NULL;

static void
replica_down (void)
{
  if (own_standby_dir != NULL)
    g_free (pge_test_cluster_tool ("stop", own_standby_dir, NULL, NULL));
  if (own_standby2_dir != NULL)
    g_free (pge_test_cluster_tool ("stop", own_standby2_dir, NULL, NULL));
  g_clear_pointer (&own_standby_dir, g_free);
  g_clear_pointer (&own_standby2_dir, g_free);
  pge_test_engine_down ();
}

/* Two tests make a standby of their own (pg_basebackup): the long guard. */
static void
replica_up (void)
{
  pge_test_engine_up ();
  pge_test_guard_long ();
}

TestSuite (replica, .init = replica_up, .fini = replica_down);

static char *
make_standby (char **dir)
{
  char *conninfo;

  if (g_getenv ("PGE_TEST_CLUSTER_DIR") == NULL)
    cr_skip_test ("PGE_TEST_CONNINFO names an outside server: no cluster to make a standby of");
  *dir = g_strdup_printf ("%s/pge-standby-%d-%u", g_get_tmp_dir (), (int) getpid (), g_random_int ());
  conninfo = pge_test_cluster_tool ("standby", *dir, g_getenv ("PGE_TEST_CLUSTER_DIR"), "async");
  if (conninfo == NULL)
    {
      /* pg_basebackup can lose a WAL segment to a checkpoint that another
       * test's base backup asked for at the same moment: once more. */
      g_free (pge_test_cluster_tool ("stop", *dir, NULL, NULL));
      conninfo = pge_test_cluster_tool ("standby", *dir, g_getenv ("PGE_TEST_CLUSTER_DIR"), "async");
    }
  cr_assert_not_null (conninfo, "could not start a standby");
  return conninfo;
}

static char *
own_standby (void)
{
  return make_standby (&own_standby_dir);
}

static PgeEngine *
replica_engine (PgeConfig *config)
{
  g_autoptr(GError) error = NULL;
  PgeEngine *engine = pge_engine_new (config, &error);

  cr_assert_not_null (engine, "pge_engine_new: %s", error ? error->message : "");
  return engine;
}

static PgeResult *
wait_ok (PgeFuture *future)
{
  g_autoptr(GError) error = NULL;
  PgeResult *result = pge_future_wait (future, &error);

  cr_assert_not_null (result, "%s", error ? error->message : "");
  pge_future_unref (future);
  return result;
}

static void
node_stats (PgeEngine *engine, const char *node, PgeNodeStats *stats)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_get_node_stats (engine, node, stats, &error), "%s",
             error ? error->message : "");
}

/* Waits (at most 60 s: the suite's other tests write WAL on the same
 * cluster, a COPY of 1M rows among them) until the replica checker reports
 * @node usable or not. */
static void
wait_usable (PgeEngine *engine, const char *node, gboolean usable)
{
  gint64 give_up = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  PgeNodeStats stats;

  for (;;)
    {
      node_stats (engine, node, &stats);
      if (stats.usable == usable)
        return;
      cr_assert (g_get_monotonic_time () < give_up, "%s did not become %s", node,
                 usable ? "usable" : "unusable");
      g_usleep (10 * 1000);
    }
}

static PgeConfig *
config_with_replicas (guint n_replicas, const char *conninfo)
{
  PgeConfig *config = pge_test_config (2);

  for (guint i = 0; i < n_replicas; i++)
    {
      g_autofree char *name = g_strdup_printf ("r%u", i + 1);

      pge_config_add_replica (config, name, conninfo, 2);
    }
  pge_config_set_replica_check_interval (config, 50);
  return config;
}

Test (replica, bad_settings_and_arguments)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeConfig) config = pge_test_config (1);
  PgeNodeStats stats;
  PgeEngine *engine;

  pge_config_set_read_policy (config, (PgeReadPolicy) 7);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  pge_config_set_read_policy (config, PGE_READ_LEAST_BUSY);
  pge_config_set_replica_check_interval (config, 0);
  cr_assert_null (pge_engine_new (config, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  pge_config_set_replica_check_interval (config, 60001);
  cr_assert_null (pge_engine_new (config, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  pge_config_set_replica_check_interval (config, 100);
  pge_config_add_replica (config, "primary", pge_test_schema_conninfo (), 1);
  cr_assert_null (pge_engine_new (config, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  cr_assert_not (pge_engine_get_node_stats (test_engine, "nope", &stats, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_not (pge_engine_get_node_stats (test_engine, NULL, &stats, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_not (pge_engine_get_node_stats (test_engine, "primary", NULL, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  {
    g_autoptr(PgeFuture) future = pge_engine_query_read (test_engine, NULL, NULL);

    cr_assert_null (pge_future_wait (future, &error));
    pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }
  {
    g_autoptr(PgeFuture) future = pge_engine_query_read_after (test_engine, 1, 10, NULL, NULL);

    cr_assert_null (pge_future_wait (future, &error));
    pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }
}

/* Without replicas a read goes to the primary, and the write position is
 * a real one. */
Test (replica, without_replicas_reads_go_to_the_primary)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = wait_ok (pge_engine_query_read (test_engine, "SELECT pg_is_in_recovery()", NULL));
  guint64 lsn = pge_engine_get_write_lsn_sync (test_engine, &error);

  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "f");
  cr_assert_null (error);
  cr_assert_gt (lsn, 0);
}

Test (replica, reads_go_to_the_standby_and_writes_fail_there)
{
  g_autofree char *replica = pge_test_replica_schema_conninfo ();
  g_autoptr(PgeConfig) config = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  PgeNodeStats stats;

  if (replica == NULL)
    cr_skip_test ("PGE_TEST_CONNINFO names an outside server: no cluster to make a standby of");
  cr_assert (pge_engine_exec_sync (test_engine, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)", &error));
  pge_test_wait_replayed (replica);
  config = config_with_replicas (1, replica);
  engine = replica_engine (config);
  wait_usable (engine, "r1", TRUE);

  result = wait_ok (pge_engine_query_read (engine, "SELECT pg_is_in_recovery(), v FROM t", NULL));
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "t", "the read did not run on the standby");
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "42");
  node_stats (engine, "r1", &stats);
  cr_assert_eq (stats.n_reads, 1);
  cr_assert_not (stats.down);
  cr_assert_geq (stats.lag_ms, 0);

  /* A write is refused by the server, never silently dropped. */
  {
    g_autoptr(PgeFuture) on_node = pge_engine_query_on_node (engine, "r1", "INSERT INTO t VALUES (1)", NULL);
    g_autoptr(PgeFuture) read = pge_engine_query_read (engine, "INSERT INTO t VALUES (2)", NULL);

    cr_assert_null (pge_future_wait (on_node, &error));
    pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
    cr_assert_str_eq (pge_error_get_sqlstate (error), "25006");
    g_clear_error (&error);
    cr_assert_null (pge_future_wait (read, &error));
    pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
    cr_assert_str_eq (pge_error_get_sqlstate (error), "25006");
    g_clear_error (&error);
  }
  g_clear_pointer (&result, pge_result_unref);
  result = wait_ok (pge_engine_query (engine, "SELECT count(*) FROM t", NULL));
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "1");

  /* Inside the thread's transaction, a read sees the transaction's writes. */
  {
    g_autoptr(PgeTransaction) tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
    g_autoptr(PgeResult) inside = NULL;

    cr_assert_not_null (tx, "%s", error ? error->message : "");
    cr_assert (pge_engine_exec_sync (engine, "INSERT INTO t VALUES (43)", &error));
    inside = wait_ok (pge_engine_query_read (engine, "SELECT count(*) FROM t", NULL));
    cr_assert_str_eq (pge_result_get_value (inside, 0, 0), "2");
    cr_assert (pge_transaction_rollback (tx, &error));
  }
}

Test (replica, round_robin_and_least_busy)
{
  g_autofree char *replica = pge_test_replica_schema_conninfo ();
  g_autoptr(PgeConfig) config = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeEngine) busy_engine = NULL;
  g_autoptr(PgeFuture) sleeper = NULL;
  PgeNodeStats r1;
  PgeNodeStats r2;

  if (replica == NULL)
    cr_skip_test ("PGE_TEST_CONNINFO names an outside server: no cluster to make a standby of");
  config = config_with_replicas (2, replica);
  engine = replica_engine (config);
  wait_usable (engine, "r1", TRUE);
  wait_usable (engine, "r2", TRUE);
  for (guint i = 0; i < 10; i++)
    pge_result_unref (wait_ok (pge_engine_query_read (engine, "SELECT 1", NULL)));
  node_stats (engine, "r1", &r1);
  node_stats (engine, "r2", &r2);
  cr_assert_eq (r1.n_reads, 5, "round-robin: r1 got %" G_GUINT64_FORMAT, r1.n_reads);
  cr_assert_eq (r2.n_reads, 5, "round-robin: r2 got %" G_GUINT64_FORMAT, r2.n_reads);

  /* Least busy: while r1 is busy, every read goes to r2. */
  pge_config_set_read_policy (config, PGE_READ_LEAST_BUSY);
  busy_engine = replica_engine (config);
  wait_usable (busy_engine, "r1", TRUE);
  wait_usable (busy_engine, "r2", TRUE);
  sleeper = pge_engine_query_on_node (busy_engine, "r1", "SELECT pg_sleep(1)", NULL);
  for (guint i = 0; i < 6; i++)
    pge_result_unref (wait_ok (pge_engine_query_read (busy_engine, "SELECT 1", NULL)));
  node_stats (busy_engine, "r1", &r1);
  node_stats (busy_engine, "r2", &r2);
  cr_assert_eq (r1.n_reads, 0, "least busy: the busy r1 got %" G_GUINT64_FORMAT, r1.n_reads);
  cr_assert_eq (r2.n_reads, 6);
  pge_result_unref (wait_ok (g_steal_pointer (&sleeper)));
}

/* A replica that cannot be reached at start does not stop the engine;
 * calls aimed at it fail at once, reads go to the primary. */
Test (replica, unreachable_replica_at_start_fails_fast)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  PgeNodeStats stats;
  gint64 start;

  /* Port 1 on loopback: nobody listens, the connect is refused at once. */
  pge_config_add_replica (config, "gone", "host=127.0.0.1 port=1 dbname=postgres", 1);
  pge_config_set_acquire_timeout (config, 5000);
  engine = replica_engine (config);
  node_stats (engine, "gone", &stats);
  cr_assert (stats.down);
  cr_assert_not (stats.usable);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(PgeFuture) future = pge_engine_query_on_node (engine, "gone", "SELECT 1", NULL);

      cr_assert_null (pge_future_wait (future, &error));
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
      g_clear_error (&error);
    }
  cr_assert_lt (g_get_monotonic_time () - start, 1000 * 1000, "5 calls on a down node took %" G_GINT64_FORMAT " ms",
                (g_get_monotonic_time () - start) / 1000);
  result = wait_ok (pge_engine_query_read (engine, "SELECT pg_is_in_recovery()", NULL));
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "f");
  node_stats (engine, "gone", &stats);
  cr_assert_geq (stats.n_refused, 5);
  cr_assert_geq (stats.n_down, 1);
}

/* A standby of this test's own, stopped and started again: marked down
 * after one failed connect, calls fail fast meanwhile, reads go to the
 * primary, and it is used again within 2 s of coming back. */
Test (replica, stopped_standby_fails_fast_and_comes_back)
{
  const char *dir;
  g_autofree char *standby = NULL;
  g_autofree char *conninfo = NULL;
  g_autoptr(PgeConfig) config = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  PgeNodeStats stats;
  gint64 start, worst = 0, back;

  pge_test_guard_long ();
  standby = own_standby ();
  dir = own_standby_dir;
  conninfo = g_strdup_printf ("%s options='-c search_path=%s'", standby, pge_test_schema ());
  config = config_with_replicas (1, conninfo);
  pge_config_set_acquire_timeout (config, 3000);
  engine = replica_engine (config);
  wait_usable (engine, "r1", TRUE);
  pge_result_unref (wait_ok (pge_engine_query_on_node (engine, "r1", "SELECT 1", NULL)));

  g_free (pge_test_cluster_tool ("halt", dir, NULL, NULL));
  wait_usable (engine, "r1", FALSE);
  for (guint i = 0; i < 10; i++)
    {
      g_autoptr(PgeFuture) future = NULL;
      g_autoptr(PgeResult) result = NULL;

      start = g_get_monotonic_time ();
      future = pge_engine_query_on_node (engine, "r1", "SELECT 1", NULL);
      result = pge_future_wait (future, &error);
      worst = MAX (worst, g_get_monotonic_time () - start);
      /* The first call may be the one that finds the connection dead. */
      cr_assert_null (result, "a query ran on a stopped server");
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
      g_clear_error (&error);
    }
  cr_log_info ("replica down: slowest of 10 calls failed after %.1f ms (acquire timeout 3000 ms)", worst / 1000.0);
  cr_assert_lt (worst, 1000 * 1000, "a call on a down replica took %" G_GINT64_FORMAT " ms", worst / 1000);
  node_stats (engine, "r1", &stats);
  cr_assert (stats.down);
  cr_assert_geq (stats.n_down, 1);
  cr_assert_geq (stats.n_refused, 9);
  {
    g_autoptr(PgeResult) result = wait_ok (pge_engine_query_read (engine, "SELECT pg_is_in_recovery()", NULL));

    cr_assert_str_eq (pge_result_get_value (result, 0, 0), "f", "a read went to the down replica");
  }

  g_free (pge_test_cluster_tool ("start-again", dir, NULL, NULL));
  back = g_get_monotonic_time ();
  wait_usable (engine, "r1", TRUE);
  cr_log_info ("replica back: usable again %.0f ms after its server started",
               (g_get_monotonic_time () - back) / 1000.0);
  cr_assert_lt (g_get_monotonic_time () - back, 2 * G_TIME_SPAN_SECOND);
  {
    g_autoptr(PgeResult) result = wait_ok (pge_engine_query_read (engine, "SELECT pg_is_in_recovery()", NULL));

    cr_assert_str_eq (pge_result_get_value (result, 0, 0), "t");
  }
}

/* A standby of this test's own whose replay is paused: beyond the lag
 * limit it gets no reads; a read-after waits for replay, or goes to the
 * primary after its timeout, and sees the commit either way. */
#define LAG_LIMIT (32 * 1024 * 1024)

Test (replica, lag_limit_and_read_your_writes)
{
  g_autofree char *standby = NULL;
  g_autofree char *conninfo = NULL;
  g_autoptr(PgeConfig) config = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  guint64 lsn;

  pge_test_guard_long ();
  cr_assert (pge_engine_exec_sync (test_engine, "CREATE TABLE t (v int)", &error));
  standby = own_standby ();
  conninfo = g_strdup_printf ("%s options='-c search_path=%s'", standby, pge_test_schema ());
  pge_test_wait_replayed (conninfo);
  config = config_with_replicas (1, conninfo);
  /* Far above what the other tests' WAL puts between primary and standby,
   * far below what the paused replay falls behind by below. */
  pge_config_set_max_replica_lag (config, LAG_LIMIT, 0);
  engine = replica_engine (config);
  wait_usable (engine, "r1", TRUE);

  /* Read-your-writes with replay running: the read runs on the standby. */
  cr_assert (pge_engine_exec_sync (engine, "INSERT INTO t VALUES (1)", &error));
  lsn = pge_engine_get_write_lsn_sync (engine, &error);
  cr_assert_gt (lsn, 0, "%s", error ? error->message : "");
  {
    g_autoptr(PgeResult) result = wait_ok (pge_engine_query_read_after (engine, lsn, 10000,
                                                                         "SELECT pg_is_in_recovery(), count(*) FROM t", NULL));

    cr_assert_str_eq (pge_result_get_value (result, 0, 1), "1", "the read missed the commit");
    cr_assert_str_eq (pge_result_get_value (result, 0, 0), "t", "the read did not wait for the standby");
  }

  /* Replay paused: a read-after times out to the primary and sees it. */
  {
    PGconn *pg = PQconnectdb (standby);
    PGresult *res = PQexec (pg, "SELECT pg_wal_replay_pause()");

    cr_assert_eq (PQresultStatus (res), PGRES_TUPLES_OK, "%s", PQerrorMessage (pg));
    PQclear (res);
    PQfinish (pg);
  }
  cr_assert (pge_engine_exec_sync (engine, "INSERT INTO t VALUES (2)", &error));
  lsn = pge_engine_get_write_lsn_sync (engine, &error);
  {
    g_autoptr(PgeResult) result = wait_ok (pge_engine_query_read_after (engine, lsn, 300,
                                                                         "SELECT pg_is_in_recovery(), count(*) FROM t", NULL));

    cr_assert_str_eq (pge_result_get_value (result, 0, 1), "2", "the read missed the commit");
    cr_assert_str_eq (pge_result_get_value (result, 0, 0), "f");
  }

  /* Beyond the byte limit: no reads for it until replay resumes. */
  cr_assert (pge_engine_exec_sync (engine, "INSERT INTO t SELECT generate_series(1, 1500000)", &error));
  wait_usable (engine, "r1", FALSE);
  {
    g_autoptr(PgeResult) result = wait_ok (pge_engine_query_read (engine, "SELECT pg_is_in_recovery()", NULL));
    PgeNodeStats stats;

    cr_assert_str_eq (pge_result_get_value (result, 0, 0), "f", "a read went to a lagging replica");
    node_stats (engine, "r1", &stats);
    cr_assert_gt (stats.lag_bytes, LAG_LIMIT);
  }
  {
    PGconn *pg = PQconnectdb (standby);
    PGresult *res = PQexec (pg, "SELECT pg_wal_replay_resume()");

    cr_assert_eq (PQresultStatus (res), PGRES_TUPLES_OK, "%s", PQerrorMessage (pg));
    PQclear (res);
    PQfinish (pg);
  }
  wait_usable (engine, "r1", TRUE);
}

/* The port in a "... port=N ..." conninfo of tools/pge-cluster. */
static char *
port_of (const char *conninfo)
{
  const char *p = strstr (conninfo, "port=");

  cr_assert_not_null (p);
  return g_strndup (p + 5, strspn (p + 5, "0123456789"));
}

/* Runs @sql on @node, returns its first row's @column. */
static char *
value_on_node (PgeEngine *engine, const char *node, const char *sql, int column)
{
  g_autoptr(PgeResult) result = wait_ok (pge_engine_query_on_node (engine, node, sql, NULL));

  return g_strdup (pge_result_get_value (result, 0, column));
}

/* Item 5 of issue 18: an HA manager promotes the standby a replica node
 * is on. That node gets no more reads (its replay stands still; a
 * read-your-writes read no longer waits out its timeout for it), and a
 * node whose conninfo lists another standby moves its checker and its
 * workers there. r1 lists S1 then S2; r2 is S1 alone. */
Test (replica, promoted_standby_gets_no_reads_and_the_node_finds_another)
{
  g_autofree char *s1 = NULL;
  g_autofree char *s2 = NULL;
  g_autofree char *p1 = NULL;
  g_autofree char *p2 = NULL;
  g_autofree char *user = NULL;
  g_autofree char *multi = NULL;
  g_autofree char *single = NULL;
  g_autofree char *port = NULL;
  g_autoptr(PgeConfig) config = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start, took, give_up;
  guint64 lsn;

  pge_test_guard_long ();
  cr_assert (pge_engine_exec_sync (test_engine, "CREATE TABLE t (v int)", &error));
  s1 = make_standby (&own_standby_dir);
  s2 = make_standby (&own_standby2_dir);
  p1 = port_of (s1);
  p2 = port_of (s2);
  user = g_strdup (strstr (s1, "user=") + 5);
  *strchr (user, ' ') = '\0';
  /* No target_session_attrs: the engine adds prefer-standby for replicas. */
  multi = g_strdup_printf ("host=127.0.0.1,127.0.0.1 port=%s,%s user=%s dbname=postgres "
                           "options='-c search_path=%s'", p1, p2, user, pge_test_schema ());
  single = g_strdup_printf ("%s options='-c search_path=%s'", s1, pge_test_schema ());
  pge_test_wait_replayed (single);
  config = pge_test_config (2);
  pge_config_add_replica (config, "r1", multi, 2);
  pge_config_add_replica (config, "r2", single, 2);
  pge_config_set_replica_check_interval (config, 50);
  engine = replica_engine (config);
  wait_usable (engine, "r1", TRUE);
  wait_usable (engine, "r2", TRUE);
  port = value_on_node (engine, "r1", "SELECT inet_server_port()", 0);
  cr_assert_str_eq (port, p1, "r1 should be on its first host, a standby");

  g_free (pge_test_cluster_tool ("promote", own_standby_dir, NULL, NULL));

  /* The promoted server is a primary of its own now: r2 is not usable. */
  wait_usable (engine, "r2", FALSE);

  /* A read that must see a commit made after the promotion: only the real
   * primary and S2 have it. It must not wait out its 10 s for S1. */
  cr_assert (pge_engine_exec_sync (engine, "INSERT INTO t VALUES (1)", &error));
  lsn = pge_engine_get_write_lsn_sync (engine, &error);
  cr_assert_gt (lsn, 0, "%s", error ? error->message : "");
  start = g_get_monotonic_time ();
  {
    g_autoptr(PgeResult) result = wait_ok (pge_engine_query_read_after (engine, lsn, 10000,
                                                                         "SELECT count(*), inet_server_port() FROM t", NULL));

    took = g_get_monotonic_time () - start;
    cr_log_info ("read-after a promotion: %.1f ms, on port %s", took / 1000.0, pge_result_get_value (result, 0, 1));
    cr_assert_str_eq (pge_result_get_value (result, 0, 0), "1", "the read missed the commit");
    cr_assert_str_neq (pge_result_get_value (result, 0, 1), p1, "a read ran on the promoted server");
  }
  cr_assert_lt (took, 5 * G_TIME_SPAN_SECOND, "the read-after waited %" G_GINT64_FORMAT " ms for a promoted replica",
                took / 1000);

  /* r1's workers follow its checker to S2. */
  give_up = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  for (;;)
    {
      g_autofree char *now_on = value_on_node (engine, "r1", "SELECT inet_server_port()", 0);

      if (g_str_equal (now_on, p2))
        break;
      cr_assert (g_get_monotonic_time () < give_up, "r1's workers stayed on %s, not the standby %s", now_on, p2);
      g_usleep (50 * 1000);
    }
  wait_usable (engine, "r1", TRUE);
  /* Plain reads: never on the promoted server, and r1 serves them. */
  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(PgeResult) result = wait_ok (pge_engine_query_read (engine, "SELECT count(*), inet_server_port() FROM t", NULL));

      cr_assert_str_neq (pge_result_get_value (result, 0, 1), p1, "a read ran on the promoted server");
    }
  {
    PgeNodeStats stats;

    node_stats (engine, "r2", &stats);
    cr_assert_not (stats.usable, "the promoted r2 was reported usable");
    node_stats (engine, "r1", &stats);
    cr_assert_geq (stats.n_reads, 1, "the standby S2 got no reads");
  }
}

/* A replica conninfo that names target_session_attrs keeps it: the
 * engine adds prefer-standby only when none is given. Here "standby" on
 * the primary's conninfo: the node cannot connect, and is down. */
Test (replica, own_target_session_attrs_wins)
{
  g_autofree char *conninfo = g_strdup_printf ("%s target_session_attrs=standby", pge_test_schema_conninfo ());
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  PgeNodeStats stats;

  pge_config_add_replica (config, "not-a-standby", conninfo, 1);
  engine = replica_engine (config);
  node_stats (engine, "not-a-standby", &stats);
  cr_assert (stats.down, "a replica node connected to a primary despite target_session_attrs=standby");
  cr_assert_not (stats.usable);
  {
    g_autoptr(PgeFuture) future = pge_engine_query_on_node (engine, "not-a-standby", "SELECT 1", NULL);

    cr_assert_null (pge_future_wait (future, &error));
    pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  }
}
