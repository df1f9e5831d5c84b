/* failover.c — one failover, measured (see failover.h).
 *
 * Writer threads insert (writer, seq) rows one autocommit statement at a
 * time and remember each acknowledged row; a transaction is open across
 * the failover; futures are submitted while the primary is gone. After
 * the promotion the writers go on for a while, then every acknowledged
 * row is looked up on the promoted server: with synchronous replication
 * none may be missing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failover.h"

#define N_ASYNC 20
#define ASYNC_WRITER 100000
#define TX_WRITER 100001

typedef struct {
  PgeEngine *engine;
  guint      index;
  GArray    *acked;           /* of gint: seqs acknowledged */
  guint64    n_failed;
  gint       stop;            /* atomic */
  int        new_port;        /* the standby's port */
  /* Out: completion times (monotonic µs), by the server that answered. */
  gint64     last_old;        /* last success on the old primary */
  gint64     first_new;       /* first success on the promoted standby */
} Writer;

static char *
tool (const char *cluster_tool, const char *cmd, const char *dir, const char *a3, const char *a4,
      GError **error)
{
  const char *argv[] = { cluster_tool, cmd, dir, a3, a4, NULL };
  g_autofree char *err = NULL;
  char *out = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                     &status, error))
    return NULL;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "pge-cluster %s %s: %s", cmd, dir,
                   err ? err : "");
      g_free (out);
      return NULL;
    }
  return g_strstrip (out);
}

static char *
conninfo_value (const char *conninfo, const char *key)
{
  g_auto(GStrv) pairs = g_strsplit (conninfo, " ", -1);
  g_autofree char *prefix = g_strconcat (key, "=", NULL);

  for (guint i = 0; pairs[i] != NULL; i++)
    if (g_str_has_prefix (pairs[i], prefix))
      return g_strdup (pairs[i] + strlen (prefix));
  return NULL;
}

static gpointer
writer_main (gpointer data)
{
  Writer *w = data;

  for (gint seq = 1; !g_atomic_int_get (&w->stop); seq++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = NULL;

      pge_params_add_int64 (params, w->index);
      pge_params_add_int64 (params, seq);
      result = pge_engine_query_sync (w->engine, "INSERT INTO failover (writer, seq) VALUES ($1, $2) "
                                      "RETURNING inet_server_port()", params, &error);
      if (result == NULL)
        {
          w->n_failed++;
          g_usleep (5000);
          continue;
        }
      g_array_append_val (w->acked, seq);
      if (atoi (pge_result_get_value (result, 0, 0)) != w->new_port)
        w->last_old = g_get_monotonic_time ();
      else if (__atomic_load_n (&w->first_new, __ATOMIC_RELAXED) == 0)
        __atomic_store_n (&w->first_new, g_get_monotonic_time (), __ATOMIC_RELAXED);
    }
  return NULL;
}

gboolean
pge_failover_admin_exec (const char *conninfo, const char *sql, GError **error)
{
  PGconn *conn = PQconnectdb (conninfo);
  PGresult *res = PQexec (conn, sql);
  gboolean ok = PQresultStatus (res) == PGRES_COMMAND_OK || PQresultStatus (res) == PGRES_TUPLES_OK;

  if (!ok)
    g_set_error (error, PGE_ERROR, PGE_ERROR_QUERY, "%s: %s", sql, PQerrorMessage (conn));
  PQclear (res);
  PQfinish (conn);
  return ok;
}

/* The rows on @conninfo, as a set of (writer << 32 | seq). */
static GHashTable *
rows_on (const char *conninfo, GError **error)
{
  PGconn *conn = PQconnectdb (conninfo);
  PGresult *res = PQexec (conn, "SELECT writer, seq FROM failover");
  GHashTable *rows = NULL;

  if (PQresultStatus (res) == PGRES_TUPLES_OK)
    {
      rows = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
      for (int i = 0; i < PQntuples (res); i++)
        {
          gint64 *key = g_new (gint64, 1);

          *key = (g_ascii_strtoll (PQgetvalue (res, i, 0), NULL, 10) << 32) |
                 g_ascii_strtoll (PQgetvalue (res, i, 1), NULL, 10);
          g_hash_table_add (rows, key);
        }
    }
  else
    g_set_error (error, PGE_ERROR, PGE_ERROR_QUERY, "reading the rows: %s", PQerrorMessage (conn));
  PQclear (res);
  PQfinish (conn);
  return rows;
}

static gboolean
present (GHashTable *rows, gint64 writer, gint64 seq)
{
  gint64 key = (writer << 32) | seq;

  return g_hash_table_contains (rows, &key);
}

static PgeEngine *
failover_engine (const char *primary, const char *standby, guint n_workers, GError **error)
{
  g_autofree char *user = conninfo_value (primary, "user");
  g_autofree char *p1 = conninfo_value (primary, "port");
  g_autofree char *p2 = conninfo_value (standby, "port");
  g_autofree char *multi = g_strdup_printf ("host=127.0.0.1,127.0.0.1 port=%s,%s user=%s dbname=postgres "
                                            "target_session_attrs=read-write connect_timeout=2",
                                            p1, p2, user);
  g_autoptr(PgeConfig) config = pge_config_new (multi);

  pge_config_set_workers (config, n_workers);
  pge_config_set_acquire_timeout (config, 15000);
  return pge_engine_new (config, error);
}

/* Halts the primary, promotes the standby: the switch itself. Returns the
 * time the promotion was done, or 0 with @error set. */
static gint64
switch_over (const char *cluster_tool, const char *pdir, const char *sdir, gint64 *halted_at,
             GError **error)
{
  g_autofree char *halted = NULL;
  g_autofree char *promoted = NULL;

  halted = tool (cluster_tool, "halt", pdir, NULL, NULL, error);
  if (halted == NULL)
    return 0;
  *halted_at = g_get_monotonic_time ();
  promoted = tool (cluster_tool, "promote", sdir, NULL, NULL, error);
  return promoted == NULL ? 0 : g_get_monotonic_time ();
}

static void
count_lost (PgeFailoverRun *run, GHashTable *rows, Writer *writers, const gboolean *async_ok)
{
  for (guint i = 0; i < run->n_writers; i++)
    for (guint k = 0; k < writers[i].acked->len; k++)
      {
        run->n_acknowledged++;
        if (!present (rows, i, g_array_index (writers[i].acked, gint, k)))
          run->n_lost++;
      }
  for (guint i = 0; i < N_ASYNC; i++)
    if (async_ok[i])
      {
        run->n_acknowledged++;
        if (!present (rows, ASYNC_WRITER, i))
          run->n_lost++;
      }
}

/* Every future resolves: waits for each (the acquire timeout bounds it). */
static void
wait_async (PgeFailoverRun *run, PgeFuture **async, gboolean *async_ok)
{
  for (guint i = 0; i < N_ASYNC; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (async[i], &error);

      run->n_async_resolved += pge_future_is_done (async[i]);
      async_ok[i] = result != NULL;
    }
}

static gboolean
run_with (const char *cluster_tool, const char *pdir, const char *sdir, PgeFailoverRun *run,
          GError **error)
{
  g_autofree char *primary = tool (cluster_tool, "start", pdir, NULL, NULL, error);
  g_autofree char *standby = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GHashTable) rows = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autofree Writer *writers = NULL;
  g_autofree GThread **threads = NULL;
  PgeFuture *async[N_ASYNC] = { NULL };
  gboolean async_ok[N_ASYNC] = { FALSE };
  gint64 promoted_at;
  GError *tx_error = NULL;
  PgeNodeStats stats;
  int new_port = 0;
  gint64 halted_at = 0;

  if (primary == NULL || !pge_failover_admin_exec (primary, "CREATE TABLE failover (writer int, seq int, "
                                               "PRIMARY KEY (writer, seq))", error))
    return FALSE;
  standby = tool (cluster_tool, "standby", sdir, pdir, "sync", error);
  if (standby == NULL)
    return FALSE;
  engine = failover_engine (primary, standby, run->n_writers + 2, error);
  if (engine == NULL)
    return FALSE;
  {
    g_autofree char *port = conninfo_value (standby, "port");

    new_port = atoi (port);
    g_snprintf (run->new_primary, sizeof run->new_primary, "127.0.0.1:%s", port);
  }

  writers = g_new0 (Writer, run->n_writers);
  threads = g_new0 (GThread *, run->n_writers);
  for (guint i = 0; i < run->n_writers; i++)
    {
      writers[i] = (Writer) { .engine = engine, .index = i, .new_port = new_port };
      writers[i].acked = g_array_new (FALSE, FALSE, sizeof (gint));
      threads[i] = g_thread_new ("failover-writer", writer_main, &writers[i]);
    }
  g_usleep (300 * 1000);

  /* A transaction open across the switch: it must fail, not go on. */
  tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &tx_error);
  g_clear_error (&tx_error);
  if (tx != NULL)
    pge_engine_exec_sync (engine, "INSERT INTO failover VALUES (" G_STRINGIFY (TX_WRITER) ", 1)", &tx_error);
  g_clear_error (&tx_error);

  promoted_at = switch_over (cluster_tool, pdir, sdir, &halted_at, error);
  run->switch_ms = promoted_at ? (promoted_at - halted_at) / 1000 : -1;
  for (guint i = 0; i < N_ASYNC; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_int64 (params, ASYNC_WRITER);
      pge_params_add_int64 (params, i);
      async[i] = pge_engine_query (engine, "INSERT INTO failover (writer, seq) VALUES ($1, $2)", params);
    }
  if (promoted_at != 0)
    {
      /* The writers go on until one has written to the new primary, then a while more. */
      gint64 give_up = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
      gboolean any = FALSE;

      while (!any && g_get_monotonic_time () < give_up)
        {
          g_usleep (10 * 1000);
          for (guint i = 0; i < run->n_writers; i++)
            any = any || __atomic_load_n (&writers[i].first_new, __ATOMIC_RELAXED) != 0;
        }
      g_usleep ((gulong) run->run_after_ms * 1000);
    }
  if (tx != NULL)
    {
      gboolean insert_ok = pge_engine_exec_sync (engine, "INSERT INTO failover VALUES ("
                                                 G_STRINGIFY (TX_WRITER) ", 2)", &tx_error);
      g_clear_error (&tx_error);
      run->tx_failed = !insert_ok && !pge_transaction_commit (tx, &tx_error);
      g_clear_error (&tx_error);
      g_clear_pointer (&tx, pge_transaction_unref);
    }
  for (guint i = 0; i < run->n_writers; i++)
    g_atomic_int_set (&writers[i].stop, TRUE);
  for (guint i = 0; i < run->n_writers; i++)
    g_thread_join (threads[i]);
  wait_async (run, async, async_ok);

  if (promoted_at != 0)
    {
      gint64 last_old = 0;
      gint64 first_new = G_MAXINT64;

      for (guint i = 0; i < run->n_writers; i++)
        {
          last_old = MAX (last_old, writers[i].last_old);
          if (writers[i].first_new != 0)
            first_new = MIN (first_new, writers[i].first_new);
        }
      run->outage_ms = first_new == G_MAXINT64 ? -1 : (first_new - last_old) / 1000;
      /* Writes may resume before pg_ctl promote notices it is done: 0. */
      run->recovery_ms = first_new == G_MAXINT64 ? -1 : MAX (0, first_new - promoted_at) / 1000;
      rows = rows_on (standby, error);
    }
  if (rows != NULL)
    count_lost (run, rows, writers, async_ok);
  for (guint i = 0; i < N_ASYNC; i++)
    g_clear_pointer (&async[i], pge_future_unref);
  for (guint i = 0; i < run->n_writers; i++)
    {
      run->n_failed += writers[i].n_failed;
      g_array_unref (writers[i].acked);
    }
  run->n_async = N_ASYNC;
  if (pge_engine_get_node_stats (engine, "primary", &stats, NULL))
    {
      run->n_server_switches = stats.n_server_switches;
      g_strlcpy (run->server_after, stats.server, sizeof run->server_after);
    }
  return rows != NULL;
}

gboolean
pge_failover_run (const char *cluster_tool, const char *tmpdir, PgeFailoverRun *run)
{
  g_autofree char *base = g_strdup_printf ("%s/pge-failover-%d-%u", tmpdir, (int) getpid (),
                                           g_random_int ());
  g_autofree char *pdir = g_strconcat (base, "-primary", NULL);
  g_autofree char *sdir = g_strconcat (base, "-standby", NULL);
  g_autoptr(GError) error = NULL;
  gboolean ok = run_with (cluster_tool, pdir, sdir, run, &error);

  if (!ok)
    run->error = g_strdup (error ? error->message : "the failover run failed");
  g_free (tool (cluster_tool, "stop", pdir, NULL, NULL, NULL));
  g_free (tool (cluster_tool, "stop", sdir, NULL, NULL, NULL));
  return ok;
}

void
pge_failover_clear (PgeFailoverRun *run)
{
  g_clear_pointer (&run->error, g_free);
}
