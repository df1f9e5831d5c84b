/* patroni.c — failover under Patroni, measured (see patroni.h).
 *
 * One engine on the two members' multi-host conninfo: the primary node
 * with target_session_attrs=read-write, a replica node for reads (the
 * engine adds prefer-standby). Threads meanwhile:
 *
 * - autocommit writers and 3-row transaction writers, each acknowledged
 *   (writer, seq) remembered with the server that acknowledged it and
 *   when;
 * - readers: a write of their own, then pge_engine_query_read_after() of
 *   its position (must see the row, must not wait out its timeout) and a
 *   plain pge_engine_query_read();
 * - futures submitted while the leader is gone.
 *
 * Each failover: a thread polls the member that is to become the leader
 * with raw libpq (its own connection, SELECT pg_is_in_recovery()) to
 * know when it is ready, independently of the engine. Then the old
 * leader rejoins as a standby, and read routing must find it.
 *
 * At the end every acknowledged row is looked up on the last leader:
 * none missing, none twice, no transaction in part, no write acknowledged
 * by the demoted leader after the new one was ready.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failover.h"
#include "patroni.h"

#define N_AUTOCOMMIT 4
#define N_TX 2
#define N_READERS 2
#define N_ASYNC 20
#define TX_WRITER0 10
#define READER_WRITER0 20
#define ASYNC_WRITER0 1000
#define READ_AFTER_TIMEOUT_MS 2000
#define ACQUIRE_TIMEOUT_MS 15000
/* A call that has not resolved by then hangs. */
#define HUNG_MS (ACQUIRE_TIMEOUT_MS + READ_AFTER_TIMEOUT_MS + 5000)
#define RESUME_LIMIT_MS 100

typedef struct {
  gint    seq;
  gint    port;               /* the server that acknowledged it */
  gint64  at;                 /* monotonic µs, when the caller got it */
} Ack;

typedef struct {
  PgeEngine *engine;
  gint       writer;
  gboolean   tx;              /* 3-row transactions */
  gint      *stop;            /* atomic */
  GArray    *acks;            /* of Ack */
  guint64    n_failed;
  /* Readers only. */
  guint64    n_after;
  guint64    n_after_failed;
  guint64    n_after_wrong;
  guint64    n_after_full_wait;
  gint64     after_max_us;
  guint64    n_read;
  guint64    n_read_failed;
  guint64    n_hung;
} Worker;

typedef struct {
  char     *conninfo;
  gint      stop;             /* atomic */
  gint64    ready_at;         /* out: first "not in recovery" answer */
} Poller;

typedef struct {
  const char *what;
  int         old_port;
  int         new_port;
  gint64      event_at;       /* kill sent or switchover started */
  gint64      ready_at;
  gint64      first_new;      /* first write acknowledged by the new leader */
  gint64      last_old;       /* last write acknowledged by the old leader */
  gint64      rejoined_at;    /* the old leader streams as a sync standby */
  gint64      routed_at;      /* a read ran on it */
  guint64     n_demoted;      /* acknowledged by the old leader after ready */
  guint64     after_full_wait;
  guint64     after_wrong;
  guint64     n_after;
  gint64      after_max_us;
  guint64     n_hung;
  guint       n_async_ok;
  guint       n_async_done;
  gboolean    routed;
  char       *error;
} Phase;

/* ---------------------------------------------------------------- tools */

static char *
tool (const char *patroni_tool, const char *cmd, const char *dir, GError **error)
{
  const char *argv[] = { patroni_tool, cmd, dir, NULL };
  g_autofree char *err = NULL;
  char *out = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, error))
    return NULL;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "pge-patroni %s: %s", cmd,
                   err ? g_strstrip (err) : "");
      g_free (out);
      return NULL;
    }
  return g_strstrip (out);
}

static char *
member_conninfo (int port, const char *user)
{
  return g_strdup_printf ("host=127.0.0.1 port=%d user=%s dbname=postgres connect_timeout=1", port, user);
}

/* One number from @sql on @conninfo, or -1. */
static gint64
admin_count (const char *conninfo, const char *sql)
{
  PGconn *conn = PQconnectdb (conninfo);
  PGresult *res = PQexec (conn, sql);
  gint64 n = -1;

  if (PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1)
    n = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  else
    g_printerr ("%s: %s\n", sql, PQerrorMessage (conn));
  PQclear (res);
  PQfinish (conn);
  return n;
}

/* --------------------------------------------------------------- poller */

/* Polls a member on a connection of its own until it answers that it is
 * not in recovery: "ready", as a client of its own sees it. */
static gpointer
poller_main (gpointer data)
{
  Poller *poller = data;
  PGconn *conn = NULL;
  while (!g_atomic_int_get (&poller->stop))
    {
      PGresult *res;

      if (conn == NULL || PQstatus (conn) != CONNECTION_OK)
        {
          g_clear_pointer (&conn, PQfinish);
          conn = PQconnectdb (poller->conninfo);
        }
      res = PQexec (conn, "SELECT pg_is_in_recovery()");
      if (PQresultStatus (res) == PGRES_TUPLES_OK && g_str_equal (PQgetvalue (res, 0, 0), "f"))
        {
          poller->ready_at = g_get_monotonic_time ();
          PQclear (res);
          break;
        }
      PQclear (res);
      g_usleep (1000);
    }
  g_clear_pointer (&conn, PQfinish);
  return NULL;
}

/* -------------------------------------------------------------- workers */

static void
ack (Worker *w, gint seq, PgeResult *result)
{
  Ack a = { .seq = seq, .port = atoi (pge_result_get_value (result, 0, 0)), .at = g_get_monotonic_time () };

  g_array_append_val (w->acks, a);
}

static PgeParams *
row_params (gint writer, gint seq, gint part)
{
  PgeParams *params = pge_params_new ();

  pge_params_add_int64 (params, writer);
  pge_params_add_int64 (params, seq);
  pge_params_add_int64 (params, part);
  return params;
}

#define INSERT_SQL "INSERT INTO ha (writer, seq, part) VALUES ($1, $2, $3) RETURNING inet_server_port()"

static gboolean
write_autocommit (Worker *w, gint seq)
{
  g_autoptr(PgeParams) params = row_params (w->writer, seq, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (w->engine, INSERT_SQL, params, &error);

  if (result == NULL)
    return FALSE;
  ack (w, seq, result);
  return TRUE;
}

/* Three rows in one transaction: acknowledged when the commit is. */
static gboolean
write_tx (Worker *w, gint seq)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (w->engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeResult) last = NULL;

  if (tx == NULL)
    return FALSE;
  for (gint part = 0; part < 3; part++)
    {
      g_autoptr(PgeParams) params = row_params (w->writer, seq, part);

      g_clear_pointer (&last, pge_result_unref);
      last = pge_engine_query_sync (w->engine, INSERT_SQL, params, &error);
      if (last == NULL)
        return FALSE;   /* the unref rolls back */
    }
  if (!pge_transaction_commit (tx, &error))
    return FALSE;
  ack (w, seq, last);
  return TRUE;
}

/* Waits for @future at most HUNG_MS; a future still unresolved then is
 * counted as hung, and cancelled. */
static PgeResult *
bounded_wait (Worker *w, PgeFuture *future, GError **error)
{
  if (!pge_future_wait_timeout (future, HUNG_MS))
    {
      w->n_hung++;
      pge_future_cancel (future);
    }
  return pge_future_wait (future, error);
}

/* After an acknowledged write of its own: read it back with
 * read-your-writes, then a plain read. */
static void
read_back (Worker *w, gint seq)
{
  g_autoptr(GError) error = NULL;
  guint64 lsn = pge_engine_get_write_lsn_sync (w->engine, &error);
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeFuture) after = NULL;
  g_autoptr(PgeFuture) plain = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) plain_result = NULL;
  gint64 start;
  gint64 took;

  if (lsn == 0)
    return;
  pge_params_add_int64 (params, w->writer);
  pge_params_add_int64 (params, seq);
  start = g_get_monotonic_time ();
  after = pge_engine_query_read_after (w->engine, lsn, READ_AFTER_TIMEOUT_MS,
                                       "SELECT count(*) FROM ha WHERE writer = $1 AND seq = $2", params);
  result = bounded_wait (w, after, &error);
  took = g_get_monotonic_time () - start;
  w->n_after++;
  w->after_max_us = MAX (w->after_max_us, took);
  if (took >= (READ_AFTER_TIMEOUT_MS - 50) * 1000)
    w->n_after_full_wait++;
  if (result == NULL)
    w->n_after_failed++;
  else if (!g_str_equal (pge_result_get_value (result, 0, 0), "1"))
    w->n_after_wrong++;
  g_clear_error (&error);

  plain = pge_engine_query_read (w->engine, "SELECT pg_is_in_recovery()", NULL);
  plain_result = bounded_wait (w, plain, &error);
  w->n_read++;
  w->n_read_failed += plain_result == NULL;
}

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  gboolean reader = w->writer >= READER_WRITER0;

  for (gint seq = 1; !g_atomic_int_get (w->stop); seq++)
    {
      gboolean ok = w->tx ? write_tx (w, seq) : write_autocommit (w, seq);

      if (!ok)
        {
          w->n_failed++;
          g_usleep (2000);
          continue;
        }
      if (reader)
        read_back (w, seq);
    }
  return NULL;
}

/* ------------------------------------------------------------ one phase */

typedef struct {
  const char *patroni_tool;
  const char *dir;
  const char *user;
  PgeEngine  *engine;
  Worker      workers[N_AUTOCOMMIT + N_TX + N_READERS];
  gint        stop;
} Run;

#define N_WORKERS (N_AUTOCOMMIT + N_TX + N_READERS)

/* From the acknowledgements: the first by the new leader after the
 * event, the last by the old leader, and how many the old leader gave
 * after the new one was ready (µs, 0 if none). */
static void
scan_acks (Run *run, Phase *phase)
{
  phase->first_new = 0;
  phase->last_old = 0;
  phase->n_demoted = 0;
  for (guint i = 0; i < N_WORKERS; i++)
    for (guint k = 0; k < run->workers[i].acks->len; k++)
      {
        Ack *a = &g_array_index (run->workers[i].acks, Ack, k);

        if (a->at < phase->event_at - 10 * G_TIME_SPAN_SECOND)
          continue;
        if (a->port == phase->new_port && a->at >= phase->event_at)
          phase->first_new = phase->first_new ? MIN (phase->first_new, a->at) : a->at;
        if (a->port == phase->old_port)
          {
            phase->last_old = MAX (phase->last_old, a->at);
            if (phase->ready_at != 0 && a->at > phase->ready_at)
              phase->n_demoted++;
          }
      }
}

typedef struct {
  const char *patroni_tool;
  const char *dir;
  const char *cmd;
  int         kill_port;      /* set: kill that member's postmaster instead */
  char       *out;
  GError     *error;
} ToolCall;

/* SIGKILL to the postmaster of the member on @port, sent here rather
 * than by the script so that the kill's time is exact. */
static gboolean
kill_postmaster (const char *dir, int port, GError **error)
{
  for (guint m = 1; m <= 2; m++)
    {
      g_autofree char *port_file = g_strdup_printf ("%s/m%u/pgport", dir, m);
      g_autofree char *pid_file = g_strdup_printf ("%s/m%u/data/postmaster.pid", dir, m);
      g_autofree char *text = NULL;
      g_autofree char *pid_text = NULL;
      pid_t pid;

      if (!g_file_get_contents (port_file, &text, NULL, error))
        return FALSE;
      if (atoi (text) != port)
        continue;
      if (!g_file_get_contents (pid_file, &pid_text, NULL, error))
        return FALSE;
      pid = (pid_t) atoi (pid_text);
      if (pid <= 1 || kill (pid, SIGKILL) != 0)
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot kill the postmaster %d", (int) pid);
          return FALSE;
        }
      return TRUE;
    }
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no member on port %d", port);
  return FALSE;
}

static gpointer
tool_main (gpointer data)
{
  ToolCall *call = data;

  if (call->kill_port != 0)
    call->out = kill_postmaster (call->dir, call->kill_port, &call->error) ? g_strdup ("killed") : NULL;
  else
    call->out = tool (call->patroni_tool, call->cmd, call->dir, &call->error);
  return NULL;
}

/* A read on the replica node until one runs on @port in recovery. */
static gboolean
wait_routed (Run *run, int port, gint64 give_up)
{
  g_autofree char *want = g_strdup_printf ("%d", port);

  while (g_get_monotonic_time () < give_up)
    {
      g_autoptr(PgeFuture) future = pge_engine_query_read (run->engine,
                                                           "SELECT pg_is_in_recovery(), inet_server_port()", NULL);
      g_autoptr(PgeResult) result = NULL;

      if (pge_future_wait_timeout (future, 5000))
        result = pge_future_wait (future, NULL);
      if (result != NULL && g_str_equal (pge_result_get_value (result, 0, 0), "t") &&
          g_str_equal (pge_result_get_value (result, 0, 1), want))
        return TRUE;
      g_usleep (20 * 1000);
    }
  return FALSE;
}

static void
snapshot_readers (Run *run, guint64 *n_after, guint64 *full, guint64 *wrong, guint64 *hung)
{
  *n_after = *full = *wrong = *hung = 0;
  for (guint i = 0; i < N_WORKERS; i++)
    {
      Worker *w = &run->workers[i];

      *n_after += __atomic_load_n (&w->n_after, __ATOMIC_RELAXED);
      *full += __atomic_load_n (&w->n_after_full_wait, __ATOMIC_RELAXED);
      *wrong += __atomic_load_n (&w->n_after_wrong, __ATOMIC_RELAXED);
      *hung += __atomic_load_n (&w->n_hung, __ATOMIC_RELAXED);
    }
}

static gboolean
run_phase (Run *run, Phase *phase, gboolean kill, guint index)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *leader = tool (run->patroni_tool, "leader", run->dir, &error);
  PgeFuture *async[N_ASYNC] = { NULL };
  ToolCall call = { run->patroni_tool, run->dir, "switchover", 0, NULL, NULL };
  Poller poller = { 0 };
  GThread *poll_thread;
  GThread *tool_thread;
  guint64 after0, full0, wrong0, hung0, after1, full1, wrong1, hung1;
  gint64 give_up;

  if (leader == NULL)
    {
      phase->error = g_strdup (error->message);
      return FALSE;
    }
  phase->old_port = atoi (leader);
  {
    g_autofree char *path = g_build_filename (run->dir, "m1", "pgport", NULL);
    g_autofree char *m1 = NULL;
    g_autofree char *path2 = g_build_filename (run->dir, "m2", "pgport", NULL);
    g_autofree char *m2 = NULL;

    g_file_get_contents (path, &m1, NULL, NULL);
    g_file_get_contents (path2, &m2, NULL, NULL);
    phase->new_port = atoi (m1) == phase->old_port ? atoi (m2) : atoi (m1);
  }
  snapshot_readers (run, &after0, &full0, &wrong0, &hung0);
  poller.conninfo = member_conninfo (phase->new_port, run->user);
  poll_thread = g_thread_new ("patroni-ready", poller_main, &poller);
  call.kill_port = kill ? phase->old_port : 0;
  phase->event_at = g_get_monotonic_time ();
  tool_thread = g_thread_new ("patroni-tool", tool_main, &call);
  /* Futures over the outage: one every 100 ms. */
  for (guint i = 0; i < N_ASYNC; i++)
    {
      g_autoptr(PgeParams) params = row_params (ASYNC_WRITER0 + (gint) index, (gint) i, 0);

      g_usleep (100 * 1000);
      async[i] = pge_engine_query (run->engine, INSERT_SQL, params);
    }
  g_thread_join (tool_thread);
  if (call.out == NULL)
    g_atomic_int_set (&poller.stop, TRUE);
  if (call.out == NULL)
    {
      phase->error = g_strdup (call.error ? call.error->message : "the failover command failed");
      g_clear_error (&call.error);
      g_thread_join (poll_thread);
      g_free (poller.conninfo);
      for (guint i = 0; i < N_ASYNC; i++)
        g_clear_pointer (&async[i], pge_future_unref);
      return FALSE;
    }
  g_free (call.out);
  /* The new leader is ready within a minute, or it is a failure. */
  give_up = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (poller.ready_at == 0 && g_get_monotonic_time () < give_up)
    g_usleep (10 * 1000);
  g_atomic_int_set (&poller.stop, TRUE);
  g_thread_join (poll_thread);
  g_free (poller.conninfo);
  phase->ready_at = poller.ready_at;
  if (phase->ready_at == 0)
    {
      phase->error = g_strdup_printf ("127.0.0.1:%d did not become the leader", phase->new_port);
      for (guint i = 0; i < N_ASYNC; i++)
        g_clear_pointer (&async[i], pge_future_unref);
      return FALSE;
    }
  /* Writes resume (30 s at most), then the old leader rejoins. */
  give_up = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  do
    {
      g_usleep (20 * 1000);
      scan_acks (run, phase);
    }
  while (phase->first_new == 0 && g_get_monotonic_time () < give_up);
  /* Every future resolves; the rows of those that succeeded are counted
   * on the last leader at the end. */
  for (guint i = 0; i < N_ASYNC; i++)
    {
      if (pge_future_wait_timeout (async[i], HUNG_MS))
        {
          g_autoptr(PgeResult) result = pge_future_wait (async[i], NULL);

          phase->n_async_done++;
          phase->n_async_ok += result != NULL;
        }
      else
        pge_future_cancel (async[i]);
    }
  {
    g_autofree char *synced = tool (run->patroni_tool, "wait-sync", run->dir, NULL);

    if (synced != NULL)
      phase->rejoined_at = g_get_monotonic_time ();
  }
  phase->routed = phase->rejoined_at != 0 &&
                  wait_routed (run, phase->old_port, g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND);
  if (phase->routed)
    phase->routed_at = g_get_monotonic_time ();
  snapshot_readers (run, &after1, &full1, &wrong1, &hung1);
  phase->n_after = after1 - after0;
  phase->after_full_wait = full1 - full0;
  phase->after_wrong = wrong1 - wrong0;
  phase->n_hung = hung1 - hung0;
  scan_acks (run, phase);
  for (guint i = 0; i < N_ASYNC; i++)
    g_clear_pointer (&async[i], pge_future_unref);
  return TRUE;
}

static gboolean
phase_good (const Phase *p)
{
  return p->error == NULL && p->first_new != 0 && p->first_new - p->ready_at <= RESUME_LIMIT_MS * 1000 &&
         p->n_demoted == 0 && p->after_wrong == 0 && p->after_full_wait == 0 && p->n_hung == 0 &&
         p->n_async_done == N_ASYNC && p->routed;
}

static void
print_phase (const Phase *p)
{
  if (p->error != NULL)
    {
      printf ("[FAIL] %s: %s\n", p->what, p->error);
      return;
    }
  printf ("[%s] %s: leader 127.0.0.1:%d -> %d; new leader ready %" G_GINT64_FORMAT " ms after the %s; "
          "writes resumed %" G_GINT64_FORMAT " ms after it was ready (limit %d) "
          "(write outage %" G_GINT64_FORMAT " ms, last write on the old leader to the first on the new); "
          "%" G_GUINT64_FORMAT " writes acknowledged by the demoted leader after that; "
          "futures %u/%u resolved, %u succeeded; read_after: %" G_GUINT64_FORMAT " calls, %" G_GUINT64_FORMAT
          " wrong, %" G_GUINT64_FORMAT " waited out the %d ms timeout; %" G_GUINT64_FORMAT " hung calls; "
          "old leader a sync standby again %" G_GINT64_FORMAT " ms after ready, reads on it %s%" G_GINT64_FORMAT
          " ms after that\n",
          phase_good (p) ? "PASS" : "FAIL", p->what, p->old_port, p->new_port, (p->ready_at - p->event_at) / 1000,
          g_str_has_prefix (p->what, "SIGKILL") ? "kill" : "patronictl switchover started",
          p->first_new ? (p->first_new - p->ready_at) / 1000 : -1, RESUME_LIMIT_MS,
          p->first_new && p->last_old ? (p->first_new - p->last_old) / 1000 : -1, p->n_demoted,
          p->n_async_done, N_ASYNC, p->n_async_ok, p->n_after, p->after_wrong, p->after_full_wait,
          READ_AFTER_TIMEOUT_MS, p->n_hung,
          p->rejoined_at ? (p->rejoined_at - p->ready_at) / 1000 : -1, p->routed ? "" : "NEVER, waited ",
          p->routed ? (p->routed_at - p->rejoined_at) / 1000 : 60000);
}

/* --------------------------------------------------------------- checks */

/* Every acknowledged row on the last leader, none twice, no transaction
 * in part. */
static gboolean
check_rows (Run *run, const char *leader, guint *async_acked)
{
  g_autoptr(GString) values = g_string_new (NULL);
  g_autofree char *missing_sql = NULL;
  guint64 n_acked = 0;
  gint64 missing, dups, torn, total;

  for (guint i = 0; i < N_WORKERS; i++)
    for (guint k = 0; k < run->workers[i].acks->len; k++)
      {
        Ack *a = &g_array_index (run->workers[i].acks, Ack, k);

        g_string_append_printf (values, "%s(%d,%d,%d)", values->len ? "," : "", run->workers[i].writer, a->seq,
                                run->workers[i].tx ? 3 : 1);
        n_acked++;
      }
  if (values->len == 0)
    {
      printf ("[FAIL] integrity: no write was acknowledged\n");
      return FALSE;
    }
  missing_sql = g_strdup_printf ("SELECT count(*) FROM (VALUES %s) AS acked (writer, seq, parts) "
                                 "LEFT JOIN (SELECT writer, seq, count(*) AS n FROM ha GROUP BY writer, seq) AS h "
                                 "USING (writer, seq) WHERE coalesce (h.n, 0) < acked.parts", values->str);
  missing = admin_count (leader, missing_sql);
  dups = admin_count (leader, "SELECT count(*) FROM (SELECT 1 FROM ha GROUP BY writer, seq, part "
                              "HAVING count(*) > 1) AS d");
  torn = admin_count (leader, "SELECT count(*) FROM (SELECT 1 FROM ha WHERE writer BETWEEN "
                              G_STRINGIFY (TX_WRITER0) " AND " G_STRINGIFY (READER_WRITER0) " - 1 "
                              "GROUP BY writer, seq HAVING count(*) <> 3) AS t");
  total = admin_count (leader, "SELECT count(*) FROM ha");
  *async_acked = (guint) admin_count (leader, "SELECT count(*) FROM ha WHERE writer >= " G_STRINGIFY (ASYNC_WRITER0));
  printf ("[%s] integrity: %" G_GUINT64_FORMAT " acknowledged writes (autocommit, 3-row transactions, readers'), "
          "%" G_GINT64_FORMAT " lost, %" G_GINT64_FORMAT " duplicated rows, %" G_GINT64_FORMAT
          " transactions in part; %" G_GINT64_FORMAT " rows on the last leader\n",
          missing == 0 && dups == 0 && torn == 0 ? "PASS" : "FAIL", n_acked, missing, dups, torn, total);
  return missing == 0 && dups == 0 && torn == 0;
}

/* ---------------------------------------------------------------- main */

static PgeEngine *
ha_engine (int p1, int p2, const char *user, GError **error)
{
  g_autofree char *primary = g_strdup_printf ("host=127.0.0.1,127.0.0.1 port=%d,%d user=%s dbname=postgres "
                                              "target_session_attrs=read-write connect_timeout=2", p1, p2, user);
  g_autofree char *replica = g_strdup_printf ("host=127.0.0.1,127.0.0.1 port=%d,%d user=%s dbname=postgres "
                                              "connect_timeout=2", p1, p2, user);
  g_autoptr(PgeConfig) config = pge_config_new (primary);

  pge_config_set_workers (config, N_WORKERS + 2);
  pge_config_set_acquire_timeout (config, ACQUIRE_TIMEOUT_MS);
  pge_config_add_replica (config, "replica", replica, 2);
  pge_config_set_replica_check_interval (config, 100);
  return pge_engine_new (config, error);
}

static int
run_cluster (const char *patroni_tool, const char *dir, const char *members)
{
  g_auto(GStrv) parts = g_strsplit (members, " ", -1);
  g_autoptr(GError) error = NULL;
  g_autofree char *leader_port = NULL;
  g_autofree char *leader = NULL;
  Run run = { .patroni_tool = patroni_tool, .dir = dir };
  Phase phases[2] = { { .what = "SIGKILL of the leader's postmaster" },
                      { .what = "patronictl switchover" } };
  GThread *threads[N_WORKERS];
  guint passed = 0, failed = 0;
  guint async_rows = 0;
  guint async_ok = 0;

  if (g_strv_length (parts) != 3)
    {
      printf ("[FAIL] patroni: pge-patroni start printed '%s'\n0 passed, 1 failed\n", members);
      return 1;
    }
  run.user = parts[2];
  leader_port = tool (patroni_tool, "leader", dir, &error);
  leader = leader_port ? member_conninfo (atoi (leader_port), run.user) : NULL;
  if (leader == NULL || !pge_failover_admin_exec (leader, "CREATE TABLE ha (writer int NOT NULL, seq int NOT NULL, "
                                             "part int NOT NULL)", &error))
    {
      printf ("[FAIL] patroni: %s\n0 passed, 1 failed\n", error ? error->message : "no leader");
      return 1;
    }
  run.engine = ha_engine (atoi (parts[0]), atoi (parts[1]), run.user, &error);
  if (run.engine == NULL)
    {
      printf ("[FAIL] patroni: pge_engine_new: %s\n0 passed, 1 failed\n", error->message);
      return 1;
    }
  for (guint i = 0; i < N_WORKERS; i++)
    {
      Worker *w = &run.workers[i];

      w->engine = run.engine;
      w->stop = &run.stop;
      w->acks = g_array_new (FALSE, FALSE, sizeof (Ack));
      if (i < N_AUTOCOMMIT)
        w->writer = (gint) i;
      else if (i < N_AUTOCOMMIT + N_TX)
        {
          w->writer = TX_WRITER0 + (gint) (i - N_AUTOCOMMIT);
          w->tx = TRUE;
        }
      else
        w->writer = READER_WRITER0 + (gint) (i - N_AUTOCOMMIT - N_TX);
      threads[i] = g_thread_new ("patroni-worker", worker_main, w);
    }
  g_usleep (1000 * 1000);

  for (guint p = 0; p < G_N_ELEMENTS (phases); p++)
    {
      gboolean ran = run_phase (&run, &phases[p], p == 0, p);

      print_phase (&phases[p]);
      fflush (stdout);
      async_ok += phases[p].n_async_ok;
      if (ran && phase_good (&phases[p]))
        passed++;
      else
        failed++;
      if (!ran)
        break;
    }
  g_atomic_int_set (&run.stop, TRUE);
  for (guint i = 0; i < N_WORKERS; i++)
    g_thread_join (threads[i]);

  {
    g_autofree char *last = tool (patroni_tool, "leader", dir, NULL);
    g_autofree char *last_conninfo = last ? member_conninfo (atoi (last), run.user) : NULL;
    guint64 n_failed = 0, n_read = 0, n_read_failed = 0, n_after_failed = 0;
    gint64 after_max = 0;

    for (guint i = 0; i < N_WORKERS; i++)
      {
        n_failed += run.workers[i].n_failed;
        n_read += run.workers[i].n_read;
        n_read_failed += run.workers[i].n_read_failed;
        n_after_failed += run.workers[i].n_after_failed;
        after_max = MAX (after_max, run.workers[i].after_max_us);
      }
    printf ("       calls that failed (allowed during the outage): %" G_GUINT64_FORMAT " writes, %"
            G_GUINT64_FORMAT " read_after, %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " plain reads; "
            "slowest read_after %" G_GINT64_FORMAT " ms\n", n_failed, n_after_failed, n_read_failed, n_read,
            after_max / 1000);
    if (last_conninfo != NULL && check_rows (&run, last_conninfo, &async_rows) &&
        async_rows >= async_ok)
      passed++;
    else
      {
        if (last_conninfo != NULL && async_rows < async_ok)
          printf ("[FAIL] futures: %u succeeded, %u of their rows on the last leader\n", async_ok, async_rows);
        failed++;
      }
  }
  for (guint i = 0; i < N_WORKERS; i++)
    g_array_unref (run.workers[i].acks);
  for (guint p = 0; p < G_N_ELEMENTS (phases); p++)
    g_free (phases[p].error);
  g_clear_pointer (&run.engine, pge_engine_unref);
  printf ("%u passed, %u failed\n", passed, failed);
  return failed ? 1 : 0;
}

int
pge_patroni_run (const char *patroni_tool, const char *tmpdir)
{
  g_autofree char *dir = g_strdup_printf ("%s/pge-patroni-%d-%u", tmpdir, (int) getpid (), g_random_int ());
  g_autoptr(GError) error = NULL;
  g_autofree char *checked = tool (patroni_tool, "check", "-", &error);
  g_autofree char *members = NULL;
  int status;

  if (checked == NULL)
    {
      printf ("[SKIP] patroni: %s\n0 passed, 0 failed\n", error->message);
      return 0;
    }
  members = tool (patroni_tool, "start", dir, &error);
  if (members == NULL)
    {
      printf ("[FAIL] patroni: the cluster did not start: %s\n0 passed, 1 failed\n", error->message);
      g_free (tool (patroni_tool, "stop", dir, NULL));
      return 1;
    }
  status = run_cluster (patroni_tool, dir, members);
  g_free (tool (patroni_tool, "stop", dir, NULL));
  return status;
}
