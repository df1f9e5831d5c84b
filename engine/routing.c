/* routing.c — which replica a read goes to, and the replica checker.
 *
 * The replicas of pge_config_add_replica() form the read set. A read goes
 * to a *usable* replica — up (its pool is not down, pool.c), answering
 * the checker, and within the configured lag — picked round-robin or by
 * least load; with none usable it goes to the primary. A read that must
 * see a commit (read-your-writes: pge_engine_query_read_after()) goes
 * only to a replica that has replayed past the commit's LSN; if none has,
 * it waits here, off any worker, until the checker sees one that has, or
 * until its timeout, and then goes to the primary.
 *
 * The checker is one thread per engine with replicas. Every check
 * interval (every 10 ms while reads wait) it asks the primary for its WAL
 * position and each replica for its replay position and replay delay, on
 * connections of its own, so the lag is measured in the background and
 * never per query. A replica it cannot reach is marked down in its pool
 * (pool.c: calls aimed at it then fail at once) and retried with backoff.
 *
 * Failover (an HA manager such as Patroni promoted the standby): a
 * replica node's server that is no longer in recovery gets no reads —
 * its replay position stands still, and reads belong on the primary
 * node. Its conninfo defaults to target_session_attrs=prefer-standby
 * (pge_router_replica_conninfo()), so the checker reconnects now and
 * then to look for a standby among its hosts; once it is on a standby
 * other than the server the node's workers last connected to, they
 * reconnect too (pge_pool_reconnect_all()). A read-your-writes read
 * waits only while some replica is in recovery and answering: one that
 * can never catch up sends it to the primary at once.
 *
 * Threads: `lock` guards each replica's checked state, `pending` and
 * `closing`; the checker's connections and backoff belong to the checker
 * thread alone. Jobs are submitted outside `lock` (a refused job resolves
 * at once, and its callbacks may call back in). Lock order: `lock`, then
 * a pool's queue_lock (pool.c never calls up here).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>

#include "dispatch-private.h"
#include "connection-private.h"
#include "routing-private.h"

#define PENDING_POLL_MS 10
#define CHECK_BACKOFF_MIN_MS 100
#define CHECK_BACKOFF_MAX_MS 800
#define CHECK_CONNECT_TIMEOUT "2"
/* How often the checker of a replica node whose server is a primary
 * reconnects to look for a standby among the node's hosts. */
#define PROMOTED_RECHECK_MS 500
/* The least time between two moves of a replica node's workers. */
#define MOVE_WORKERS_MIN_MS 2000

typedef struct {
  PgePool *pool;             /* borrowed */
  char    *conninfo;
  /* Checker thread only. */
  PGconn  *conn;
  gint64   retry_at;
  guint    backoff_ms;
  gint64   moved_at;         /* the workers were last told to reconnect */
  /* Guarded by router->lock. */
  gboolean answered;         /* the last check got an answer */
  gboolean promoted;         /* ... from a server not in recovery */
  guint64  replay_lsn;
  gint64   lag_bytes;        /* -1: unknown */
  gint64   lag_ms;           /* -1: unknown */
  /* Atomic. */
  guint64  n_reads;
} Replica;

typedef struct {
  PgeJob  *job;              /* owned ref */
  guint64  lsn;
  gint64   deadline;         /* monotonic µs */
} Pending;

struct _PgeRouter {
  PgePool   *primary;        /* borrowed */
  char      *primary_conninfo;
  PGconn    *primary_conn;   /* checker thread only */
  gint64     primary_retry_at;
  GPtrArray *replicas;       /* of Replica*, fixed */
  guint      policy;
  guint64    max_lag_bytes;
  guint      max_lag_ms;
  guint      interval_ms;
  guint      next;           /* atomic: round-robin position */

  GMutex     lock;
  GCond      cond;
  gboolean   closing;
  GQueue     pending;        /* of Pending* */
  GThread   *thread;
};

static gpointer checker_main (gpointer data);

PgeRouter *
pge_router_new (const PgeSettings *settings, GPtrArray *pools)
{
  PgeRouter *router = g_new0 (PgeRouter, 1);

  router->primary = pools->pdata[0];
  router->primary_conninfo = g_strdup (settings->primary.conninfo);
  router->replicas = g_ptr_array_new ();
  router->policy = settings->read_policy;
  router->max_lag_bytes = settings->max_lag_bytes;
  router->max_lag_ms = settings->max_lag_ms;
  router->interval_ms = settings->replica_check_ms;
  g_mutex_init (&router->lock);
  g_cond_init (&router->cond);
  g_queue_init (&router->pending);
  for (guint i = 0; i < settings->nodes->len; i++)
    {
      const PgeNodeSettings *node = settings->nodes->pdata[i];
      Replica *replica;

      if (!node->replica)
        continue;
      replica = g_new0 (Replica, 1);
      replica->pool = pools->pdata[i + 1];
      replica->conninfo = pge_router_replica_conninfo (node->conninfo);
      replica->lag_bytes = -1;
      replica->lag_ms = -1;
      g_ptr_array_add (router->replicas, replica);
    }
  if (router->replicas->len > 0)
    router->thread = g_thread_new ("pge-replicas", checker_main, router);
  return router;
}

gboolean
pge_router_is_own_thread (PgeRouter *router)
{
  return router != NULL && router->thread != NULL && g_thread_self () == router->thread;
}

void
pge_router_close (PgeRouter *router)
{
  GQueue left = G_QUEUE_INIT;
  Pending *pending;

  g_mutex_lock (&router->lock);
  router->closing = TRUE;
  while ((pending = g_queue_pop_head (&router->pending)) != NULL)
    g_queue_push_tail (&left, pending);
  g_cond_broadcast (&router->cond);
  g_mutex_unlock (&router->lock);
  while ((pending = g_queue_pop_head (&left)) != NULL)
    {
      pge_job_fail (pending->job, PGE_ERROR_CLOSED, "the engine was closed before this read ran");
      pge_job_unref (pending->job);
      g_free (pending);
    }
  if (router->thread != NULL && !pge_router_is_own_thread (router))
    g_thread_join (g_steal_pointer (&router->thread));
}

void
pge_router_free (PgeRouter *router)
{
  if (router == NULL)
    return;
  pge_router_close (router);
  /* Closed on the checker itself, the thread has ended by now or ends
   * without touching the router: it only checks `closing` under lock,
   * which the last unref's close has set. */
  if (router->thread != NULL)
    g_thread_join (g_steal_pointer (&router->thread));
  for (guint i = 0; i < router->replicas->len; i++)
    {
      Replica *replica = router->replicas->pdata[i];

      g_clear_pointer (&replica->conn, PQfinish);
      g_free (replica->conninfo);
      g_free (replica);
    }
  g_ptr_array_unref (router->replicas);
  g_clear_pointer (&router->primary_conn, PQfinish);
  g_free (router->primary_conninfo);
  g_mutex_clear (&router->lock);
  g_cond_clear (&router->cond);
  g_free (router);
}

/* -------------------------------------------------------------- checker */

static void
quiet_notice (void *arg, const char *message)
{
}

static PGconn *
check_connect (const char *conninfo, const char *node)
{
  /* Named after its node; an application_name in the conninfo wins. The
   * workers' dead-link defaults (connection-private.h) come first, so the
   * conninfo wins there too: a check on a cut link ends in about 15 s. */
  g_autofree char *name = g_strdup_printf ("pgengine lag-check %s", node);
  const char *keywords[] = { "keepalives", "keepalives_idle", "keepalives_interval",
                             "keepalives_count", "tcp_user_timeout", "dbname", "connect_timeout",
                             "fallback_application_name", NULL };
  const char *values[] = { "1", PGE_KEEPALIVES_IDLE_S, PGE_KEEPALIVES_INTERVAL_S,
                           PGE_KEEPALIVES_COUNT, PGE_TCP_USER_TIMEOUT_MS, conninfo,
                           CHECK_CONNECT_TIMEOUT, name, NULL };
  PGconn *conn = PQconnectdbParams (keywords, values, 1);

  if (PQstatus (conn) != CONNECTION_OK)
    {
      PQfinish (conn);
      return NULL;
    }
  PQsetNoticeProcessor (conn, quiet_notice, NULL);
  return conn;
}

/* One row of one query on @conn, or NULL (the connection is then dropped). */
static PGresult *
check_query (PGconn **conn, const char *sql)
{
  PGresult *res = PQexec (*conn, sql);

  if (PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1)
    return res;
  PQclear (res);
  g_clear_pointer (conn, PQfinish);
  return NULL;
}

static gint64
cell_int64 (PGresult *res, int column, gint64 if_null)
{
  if (PQgetisnull (res, 0, column))
    return if_null;
  return g_ascii_strtoll (PQgetvalue (res, 0, column), NULL, 10);
}

/* The primary's WAL position, or 0 when it cannot be asked. */
static guint64
check_primary (PgeRouter *router)
{
  PGresult *res;
  guint64 lsn;

  if (router->primary_conn == NULL)
    {
      if (g_get_monotonic_time () < router->primary_retry_at)
        return 0;
      router->primary_conn = check_connect (router->primary_conninfo, pge_pool_get_name (router->primary));
      if (router->primary_conn == NULL)
        {
          router->primary_retry_at = g_get_monotonic_time () + CHECK_BACKOFF_MAX_MS * 1000;
          return 0;
        }
    }
  res = check_query (&router->primary_conn,
                     "SELECT CASE WHEN pg_is_in_recovery() THEN NULL "
                     "ELSE (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8 END");
  if (res == NULL)
    return 0;
  lsn = (guint64) cell_int64 (res, 0, 0);
  PQclear (res);
  if (lsn == 0)
    {
      /* Demoted (a switchover): a multi-host conninfo with
       * target_session_attrs=read-write finds the new primary on the
       * next connect. */
      g_clear_pointer (&router->primary_conn, PQfinish);
      router->primary_retry_at = g_get_monotonic_time () + PROMOTED_RECHECK_MS * 1000;
    }
  return lsn;
}

/* Replay position and delay of one replica. The delay counts only while
 * it has received WAL it has not replayed: an idle primary writes no new
 * transactions, and that is no lag. */
static const char replica_sql[] =
  "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8, "
  "CASE WHEN pg_last_wal_receive_lsn() IS NULL "
  "       OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 "
  "     ELSE (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::int8 "
  "END, pg_is_in_recovery()";

/* "host:port" of @conn, as pool.c notes the server its workers reached. */
static char *
server_of (PGconn *conn)
{
  return g_strdup_printf ("%s:%s", PQhost (conn) ? PQhost (conn) : "", PQport (conn) ? PQport (conn) : "");
}

/* The checker is on a standby of the node: when the node's workers last
 * connected to another server (the one that was promoted since), they
 * reconnect, and their conninfo leads them to a standby too. */
static void
follow_standby (Replica *replica, gint64 now)
{
  g_autofree char *server = server_of (replica->conn);
  PgeNodeStats stats = { 0 };

  pge_pool_get_node_stats (replica->pool, &stats);
  if (stats.server[0] == '\0' || g_strcmp0 (stats.server, server) == 0 ||
      now - replica->moved_at < MOVE_WORKERS_MIN_MS * 1000)
    return;
  replica->moved_at = now;
  g_debug ("replica node %s: its workers are on %s, a standby is on %s: they reconnect",
           pge_pool_get_name (replica->pool), stats.server, server);
  pge_pool_reconnect_all (replica->pool);
}

static void
check_replica (PgeRouter *router, Replica *replica, guint64 primary_lsn)
{
  PGresult *res = NULL;
  gint64 now = g_get_monotonic_time ();
  gboolean answered;
  guint64 replay = 0;
  gint64 lag_ms = -1;
  gint64 lag_bytes = -1;
  gboolean promoted = FALSE;

  if (replica->conn == NULL && now >= replica->retry_at)
    replica->conn = check_connect (replica->conninfo, pge_pool_get_name (replica->pool));
  if (replica->conn != NULL)
    res = check_query (&replica->conn, replica_sql);
  answered = res != NULL;
  if (answered)
    {
      replica->backoff_ms = 0;
      replay = (guint64) cell_int64 (res, 0, 0);
      lag_ms = cell_int64 (res, 1, 0);
      promoted = g_strcmp0 (PQgetvalue (res, 0, 2), "f") == 0;
      if (primary_lsn != 0 && replay != 0)
        lag_bytes = primary_lsn > replay ? (gint64) (primary_lsn - replay) : 0;
      PQclear (res);
      if (promoted)
        {
          /* Look again, later, for a standby among the node's hosts. */
          g_clear_pointer (&replica->conn, PQfinish);
          replica->retry_at = now + (gint64) MAX (PROMOTED_RECHECK_MS, router->interval_ms) * 1000;
        }
      else
        follow_standby (replica, now);
    }
  else if (now >= replica->retry_at)
    {
      /* One failed connect marks it down; retried with backoff. */
      replica->backoff_ms = CLAMP (replica->backoff_ms * 2, CHECK_BACKOFF_MIN_MS, CHECK_BACKOFF_MAX_MS);
      replica->retry_at = now + (gint64) replica->backoff_ms * 1000;
      pge_pool_mark_down (replica->pool);
    }

  g_mutex_lock (&router->lock);
  replica->answered = answered;
  if (answered)
    {
      replica->promoted = promoted;
      replica->replay_lsn = replay;
      replica->lag_bytes = lag_bytes;
      replica->lag_ms = lag_ms;
    }
  g_mutex_unlock (&router->lock);
}

static gboolean
usable_locked (PgeRouter *router, Replica *replica)
{
  if (!replica->answered || replica->promoted || pge_pool_is_down (replica->pool))
    return FALSE;
  if (router->max_lag_bytes > 0 && replica->lag_bytes >= 0 &&
      (guint64) replica->lag_bytes > router->max_lag_bytes)
    return FALSE;
  if (router->max_lag_ms > 0 && replica->lag_ms >= 0 && replica->lag_ms > (gint64) router->max_lag_ms)
    return FALSE;
  return TRUE;
}

/* Whether a read that waits for replay may still get it from a replica:
 * one answers from a server in recovery. A promoted one's replay stands
 * still for good, a down one cannot serve it: the read goes to the
 * primary now rather than at its timeout. */
static gboolean
may_catch_up_locked (PgeRouter *router)
{
  for (guint i = 0; i < router->replicas->len; i++)
    {
      Replica *replica = router->replicas->pdata[i];

      if (replica->answered && !replica->promoted && !pge_pool_is_down (replica->pool))
        return TRUE;
    }
  return FALSE;
}

/* A usable replica that has replayed @lsn, by the policy; NULL if none. */
static Replica *
pick_locked (PgeRouter *router, guint64 lsn)
{
  guint n = router->replicas->len;
  guint start = g_atomic_int_add (&router->next, 1);
  Replica *best = NULL;
  guint best_load = G_MAXUINT;

  for (guint k = 0; k < n; k++)
    {
      Replica *replica = router->replicas->pdata[(start + k) % n];
      guint load;

      if (!usable_locked (router, replica) || replica->replay_lsn < lsn)
        continue;
      if (router->policy == PGE_READ_ROUND_ROBIN)
        return replica;
      load = pge_pool_get_load (replica->pool);
      if (load < best_load)
        {
          best = replica;
          best_load = load;
        }
    }
  return best;
}

static void
send_to (PgeRouter *router, Replica *replica, PgeJob *job)
{
  if (replica != NULL)
    __atomic_fetch_add (&replica->n_reads, 1, __ATOMIC_RELAXED);
  pge_dispatch_submit (replica != NULL ? replica->pool : router->primary, job, FALSE);
}

/* Takes the waiting reads that can go now, with where to, into @ready
 * (pairs: job, replica or NULL for the primary). */
static void
take_ready_locked (PgeRouter *router, GPtrArray *ready)
{
  gint64 now = g_get_monotonic_time ();
  GList *link = router->pending.head;
  gboolean hopeless = !may_catch_up_locked (router);

  while (link != NULL)
    {
      GList *next = link->next;
      Pending *pending = link->data;
      Replica *replica = pick_locked (router, pending->lsn);

      if (replica != NULL || hopeless || now >= pending->deadline)
        {
          g_ptr_array_add (ready, pending->job);
          g_ptr_array_add (ready, replica);
          g_queue_delete_link (&router->pending, link);
          g_free (pending);
        }
      link = next;
    }
}

static void
send_ready (PgeRouter *router, GPtrArray *ready)
{
  for (guint i = 0; i < ready->len; i += 2)
    {
      PgeJob *job = ready->pdata[i];

      send_to (router, ready->pdata[i + 1], job);
      pge_job_unref (job);
    }
  g_ptr_array_set_size (ready, 0);
}

static gpointer
checker_main (gpointer data)
{
  PgeRouter *router = data;
  g_autoptr(GPtrArray) ready = g_ptr_array_new ();

  g_mutex_lock (&router->lock);
  while (!router->closing)
    {
      gint64 wait_ms;
      guint64 primary_lsn;

      g_mutex_unlock (&router->lock);
      primary_lsn = check_primary (router);
      for (guint i = 0; i < router->replicas->len; i++)
        check_replica (router, router->replicas->pdata[i], primary_lsn);
      g_mutex_lock (&router->lock);
      take_ready_locked (router, ready);
      if (ready->len > 0)
        {
          g_mutex_unlock (&router->lock);
          send_ready (router, ready);
          g_mutex_lock (&router->lock);
        }
      wait_ms = router->pending.length > 0 ? MIN (PENDING_POLL_MS, router->interval_ms)
                                           : router->interval_ms;
      if (!router->closing)
        g_cond_wait_until (&router->cond, &router->lock, g_get_monotonic_time () + wait_ms * 1000);
    }
  g_mutex_unlock (&router->lock);
  return NULL;
}

/* ---------------------------------------------------------------- reads */

void
pge_router_submit_read (PgeRouter *router, PgeJob *job, guint64 lsn, guint timeout_ms)
{
  Replica *replica = NULL;
  gboolean wait = FALSE;
  gboolean closing;

  g_mutex_lock (&router->lock);
  closing = router->closing;
  if (!closing && router->replicas->len > 0)
    {
      replica = pick_locked (router, lsn);
      if (replica == NULL && lsn > 0 && timeout_ms > 0 && may_catch_up_locked (router))
        {
          Pending *pending = g_new0 (Pending, 1);

          pending->job = pge_job_ref (job);
          pending->lsn = lsn;
          pending->deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
          g_queue_push_tail (&router->pending, pending);
          g_cond_signal (&router->cond);   /* poll faster from now on */
          wait = TRUE;
        }
    }
  g_mutex_unlock (&router->lock);
  if (wait)
    return;
  /* Closing: the primary's pool refuses it with PGE_ERROR_CLOSED. */
  send_to (router, replica, job);
}

gboolean
pge_router_get_replica_stats (PgeRouter *router, PgePool *pool, PgeNodeStats *stats)
{
  for (guint i = 0; i < router->replicas->len; i++)
    {
      Replica *replica = router->replicas->pdata[i];

      if (replica->pool != pool)
        continue;
      g_mutex_lock (&router->lock);
      stats->usable = usable_locked (router, replica);
      stats->lag_bytes = replica->answered ? replica->lag_bytes : -1;
      stats->lag_ms = replica->answered ? replica->lag_ms : -1;
      stats->replay_lsn = replica->replay_lsn;
      g_mutex_unlock (&router->lock);
      stats->n_reads = __atomic_load_n (&replica->n_reads, __ATOMIC_RELAXED);
      return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------ conninfo */

/* Appends key='value' to @out, quoted as libpq reads it. */
static void
append_pair (GString *out, const char *key, const char *value)
{
  if (out->len > 0)
    g_string_append_c (out, ' ');
  g_string_append_printf (out, "%s='", key);
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '\'' || *p == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '\'');
}

char *
pge_router_replica_conninfo (const char *conninfo)
{
  PQconninfoOption *options = PQconninfoParse (conninfo, NULL);
  GString *out;
  gboolean has_attrs = FALSE;

  /* Unparsable: left as it is, for the connect to report why. */
  if (options == NULL)
    return g_strdup (conninfo);
  for (PQconninfoOption *o = options; o->keyword != NULL; o++)
    has_attrs = has_attrs || (o->val != NULL && g_str_equal (o->keyword, "target_session_attrs"));
  if (has_attrs)
    {
      PQconninfoFree (options);
      return g_strdup (conninfo);
    }
  out = g_string_new (NULL);
  append_pair (out, "target_session_attrs", "prefer-standby");
  for (PQconninfoOption *o = options; o->keyword != NULL; o++)
    if (o->val != NULL)
      append_pair (out, o->keyword, o->val);
  PQconninfoFree (options);
  return g_string_free (out, FALSE);
}
