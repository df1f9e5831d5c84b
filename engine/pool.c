/* pool.c — a node's connections, its queue, leases and the janitor.
 *
 * Threading model (the rules every other file relies on):
 *
 * - A node has one slot per connection. Each slot has a worker thread
 *   (worker.c), but the connection is owned by whoever holds the slot:
 *   its worker thread, or a blocking caller that found the slot free and
 *   runs its own job on it instead of handing it over and sleeping
 *   (dispatch.c). Only the holder touches the PGconn (connection.c);
 *   other threads only send cancel requests through it.
 * - `pool->queue_lock` guards the pool queue (jobs any slot may take),
 *   every lease's queue, every thread's deferred queue (below), every
 *   job's state and queue link, each slot's
 *   holder, lease, running job and idle flag, and the pool counters but
 *   the atomic ones. Lock order: queue_lock, then a connection's
 *   cancel_lock; a future's lock is never held with either (futures
 *   resolve outside them, so callbacks may submit work).
 * - A free, unpinned, connected slot sits in `idle_slots` with its worker
 *   asleep on the slot's own `wake` cond. The list is a stack: the slot
 *   that went idle last is used first, so a lightly loaded engine keeps
 *   reusing one warm connection (and backend) instead of cycling through
 *   all of them; a blocking caller takes the slot it used last when that
 *   one is idle (thread and backend stay paired). An asynchronous submission
 *   wakes exactly one; a blocking one takes the slot itself when nothing
 *   is queued ahead of it (FIFO: queued futures keep their turn), and so
 *   does a thread that waits for a queued job that is first in line
 *   (pge_pool_take_queued()). Giving a slot back hands it to its worker
 *   when work is queued for it, else puts it back in `idle_slots`.
 * - Deferral: while a slot is idle and nothing is queued, the plain
 *   queries a thread that waits for its futures submits wait in a queue
 *   of that thread's, and its wait runs them on a free slot as one
 *   pipeline window, reading the answers itself ("Deferral" below).
 * - A lease (transaction, batch, session) is pinned by a PIN job that goes through
 *   the pool queue like any job, so it waits its turn and obeys the
 *   acquire timeout. The slot that takes it serves only the lease's queue,
 *   in order, until the lease is released and drained; then its
 *   connection is rolled back and it returns to the pool. A lease job is
 *   run by the slot's worker, or by a blocking caller when the slot is
 *   free and the job is next in the lease's queue: a transaction used
 *   from the thread that began it runs its statements on that thread.
 * - Cancellation is a leaf: dispatch.c hooks pge_pool_cancel_job() into
 *   the job's future. A queued job is unlinked and fails at once; a
 *   running one gets a cancel request through its connection, aimed at
 *   that job only (connection.c), so a late cancel never hits the next.
 * - Pipelining: a worker that finds the queue non-empty while no other
 *   slot is idle takes several queued queries at once and keeps taking
 *   more as it reads their answers (pge_pool_pipeline_step(), a sliding
 *   window), up to the pipeline depth, stopping at the first queued job
 *   that may not join (FIFO). Jobs in a window are RUNNING on the slot;
 *   `slot->running` is the one whose answer is read next (cancels aim at
 *   it only).
 * - The janitor thread expires jobs that waited longer than their
 *   acquire timeout: the pool's, or the call's own (calloptions.c, which
 *   finds the nearest deadline without reordering the FIFO queue), and
 *   hands idle connections due for renewal (lifetime, idleness,
 *   recycle) to their workers (lifecycle.c). A worker renews its
 *   connection only where its slot is free and unpinned. The janitor
 *   records when its current wait ends (`janitor_until`); submitters wake
 *   it only for an earlier deadline, never merely because the queue
 *   filled. Every job gets its deadline when it is queued, or, taken at
 *   once, before its holder reconnects for it
 *   (pge_pool_deadline_of_taken()), so one a slot gives back
 *   (pge_pool_requeue()) keeps a real one.
 * - Close: the pool stops taking jobs, fails every queued job (pool and
 *   lease queues) with PGE_ERROR_CLOSED, interrupts connection attempts
 *   (connection.c), lets running jobs end (after a
 *   grace period their queries are cancelled), pinned slots roll back,
 *   and all threads are joined. Direct holders are callers' threads: close
 *   waits for them to give their slot back like for any running job.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "errors-private.h"
#include "scheduler-private.h"
#include "future-private.h"
#include "params-private.h"
#include "pool-private.h"
#include "calloptions-private.h"
#include "lifecycle-private.h"
#include "spin-private.h"

/* Every *_locked helper below runs with its pool's queue_lock held. Debug
 * builds (configure --enable-debug-checks; the sanitizer builds turn it
 * on) assert it at the top of each, as GDBus's CONNECTION_ENSURE_LOCK
 * does, so paths ThreadSanitizer never runs are checked too. A GMutex is
 * not recursive: a trylock that succeeds proves nobody held the lock (who
 * holds it is TSan's part). Off otherwise: it is a compare-and-swap on
 * the scheduler's hot path. */
#ifdef PGE_DEBUG_CHECKS
#define POOL_ENSURE_LOCKED(pool) G_STMT_START {                                 \
    if (G_UNLIKELY (g_mutex_trylock (&(pool)->queue_lock)))                    \
      {                                                                         \
        g_mutex_unlock (&(pool)->queue_lock);                                   \
        g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC,      \
                             "POOL_ENSURE_LOCKED: the pool's queue_lock is not held"); \
      }                                                                         \
  } G_STMT_END
#else
#define POOL_ENSURE_LOCKED(pool) G_STMT_START { (void) (pool); } G_STMT_END
#endif

/* Workers' reconnect backoff cap: a node that fails fast while down is
 * retried more often, so it is used again within a second or two. */
#define RECONNECT_MAX_MS 2000
#define RECONNECT_MAX_FAIL_FAST_MS 800

/* How long close lets running queries go on before cancelling them. */
#define CLOSE_GRACE_US (5 * G_TIME_SPAN_SECOND)

/* The slot this thread holds (pge_pool_enter_thread()). Plain thread-
 * locals, not GPrivate: a blocking call sets this twice and reads it and
 * the next several times, and pthread_getspecific() behind GPrivate cost
 * more than the rest of those functions. Neither needs a destructor. */
static __thread PgeSlot *current_slot;
/* The pool whose janitor runs on this thread: expired jobs resolve here,
 * so NULL-context callbacks run here, and must not block on the engine. */
static __thread PgePool *current_janitor;

static PgeSlot *
slot_new (PgePool *pool, guint index, const char *conninfo, const PgeSettings *settings)
{
  PgeSlot *slot = g_new0 (PgeSlot, 1);
  g_autofree char *label = g_strdup_printf ("%s/%u", pool->name, index);

  slot->pool = pool;
  slot->index = index;
  slot->conn = pge_connection_new (label, conninfo, settings);
  slot->idle_link.data = slot;
  slot->broken = TRUE;  /* never connected yet */
  g_cond_init (&slot->wake);
  return slot;
}

static void
slot_free (PgeSlot *slot)
{
  g_assert (slot->thread == NULL);
  pge_connection_free (slot->conn);
  g_cond_clear (&slot->wake);
  g_free (slot);
}

PgePool *
pge_pool_new (const PgeNodeSettings *node, const PgeSettings *settings)
{
  PgePool *pool = g_new0 (PgePool, 1);

  g_atomic_ref_count_init (&pool->ref);
  pool->name = g_strdup (node->name);
  pool->n_slots = node->n_workers;
  pool->acquire_timeout_ms = settings->acquire_timeout_ms;
  pool->max_queue = settings->max_queue;
  pool->pipeline_max = settings->pipeline_depth;
  pool->fail_fast = g_strcmp0 (node->name, PGE_PRIMARY_NODE) != 0;
  pool->reconnect_max_ms = pool->fail_fast ? RECONNECT_MAX_FAIL_FAST_MS : RECONNECT_MAX_MS;
  pge_lifecycle_init_pool (pool, node, settings);
  g_mutex_init (&pool->queue_lock);
  g_cond_init (&pool->janitor_cond);
  pool->janitor_until = G_MAXINT64;
  g_cond_init (&pool->state_cond);
  g_queue_init (&pool->queue);
  g_queue_init (&pool->idle_slots);
  pool->started = pge_future_new ();
  pool->slots = g_ptr_array_new_with_free_func ((GDestroyNotify) slot_free);
  for (guint i = 0; i < node->n_workers; i++)
    g_ptr_array_add (pool->slots, slot_new (pool, i, node->conninfo, settings));
  return pool;
}

static PgePool *
pge_pool_ref (PgePool *pool)
{
  g_atomic_ref_count_inc (&pool->ref);
  return pool;
}

void
pge_pool_unref (PgePool *pool)
{
  if (!g_atomic_ref_count_dec (&pool->ref))
    return;
  /* Threads hold no reference: the engine joins them before its last unref. */
  g_ptr_array_unref (pool->slots);
  g_clear_error (&pool->start_error);
  g_clear_pointer (&pool->connect_failure, g_free);
  g_clear_pointer (&pool->started, pge_future_unref);
  if (pool->link_notify != NULL)
    pool->link_notify (pool->link_data);
  g_mutex_clear (&pool->queue_lock);
  g_cond_clear (&pool->janitor_cond);
  g_cond_clear (&pool->state_cond);
  g_free (pool->name);
  g_free (pool->server);
  g_free (pool);
}

/* ------------------------------------------------------------- threads */

void
pge_pool_enter_thread (PgeSlot *slot)
{
  current_slot = slot;
}

/* The slot this thread holds: its worker's, or one it runs a job on
 * directly; NULL on any other thread. */
PgeSlot *
pge_pool_get_current_slot (void)
{
  return current_slot;
}

/* TRUE on a worker or janitor thread of @pool: both resolve futures, so
 * both run NULL-context callbacks, and neither may block on its pool. */
gboolean
pge_pool_is_own_thread (PgePool *pool)
{
  PgeSlot *slot = current_slot;

  return (slot != NULL && slot->pool == pool) || current_janitor == pool;
}

/* TRUE on a thread of any pool of the same engine as @pool. */
gboolean
pge_pool_is_sibling_thread (PgePool *pool)
{
  PgeSlot *slot = current_slot;
  PgePool *janitor = current_janitor;

  return (slot != NULL && slot->pool->owner == pool->owner) ||
         (janitor != NULL && janitor->owner == pool->owner);
}

/* ------------------------------------------------------------- janitor */

/* @failure: why the pool's last connect failed, if none succeeded since. */
static GError *
expired_error (PgePool *pool, guint timeout_ms, const char *failure)
{
  if (failure != NULL)
    return g_error_new (PGE_ERROR, PGE_ERROR_TIMEOUT,
                        "no worker of node \"%s\" became free within %u ms; the last "
                        "connection attempt failed: %s", pool->name, timeout_ms, failure);
  return g_error_new (PGE_ERROR, PGE_ERROR_TIMEOUT,
                      "no worker of node \"%s\" became free within %u ms "
                      "(all busy or pinned, or the server is unreachable)",
                      pool->name, timeout_ms);
}

static gint64 undefer_due_locked (PgePool *pool, gint64 now);

/* Expires jobs that waited past their acquire deadline, moves deferred
 * queries nobody came for to the pool queue, and tells the
 * workers of idle connections that are due for renewal (lifecycle.c).
 * Deadlines are not FIFO once calls carry their own acquire timeout:
 * calloptions.c finds the expired ones without reordering the queue. */
static gpointer
janitor_main (gpointer data)
{
  PgePool *pool = data;
  char *failure = NULL;

  current_janitor = pool;
  pge_mutex_lock_spin (&pool->queue_lock);
  while (!pool->closing)
    {
      gint64 now = g_get_monotonic_time ();
      GQueue expired = G_QUEUE_INIT;
      GQueue drop = G_QUEUE_INIT;
      gint64 undefer_at = undefer_due_locked (pool, now);  /* first: they may have expired */
      gint64 until = pge_call_expire_locked (pool, now, &expired, &drop);
      gint64 renew_at = pge_lifecycle_scan_locked (pool, now);
      PgeJob *job;

      if (renew_at != 0 && (until == 0 || renew_at < until))
        until = renew_at;
      if (undefer_at != 0 && (until == 0 || undefer_at < until))
        until = undefer_at;
      if (expired.length > 0 || drop.length > 0)
        {
          failure = g_strdup (pool->connect_failure);
          g_mutex_unlock (&pool->queue_lock);
          g_queue_clear_full (&drop, (GDestroyNotify) pge_job_unref);
          while ((job = g_queue_pop_head (&expired)) != NULL)
            {
              pge_job_finish (job, NULL,
                              expired_error (pool, pge_call_get_acquire_timeout (job, pool), failure));
              pge_job_unref (job);
            }
          g_clear_pointer (&failure, g_free);
          pge_mutex_lock_spin (&pool->queue_lock);
          continue;
        }
      /* janitor_until tells submitters whether a new deadline is nearer
       * than this wait's end, so that only then they wake it. */
      pool->janitor_until = until == 0 ? G_MAXINT64 : until;
      if (until == 0)
        g_cond_wait (&pool->janitor_cond, &pool->queue_lock);
      else
        g_cond_wait_until (&pool->janitor_cond, &pool->queue_lock, until);
    }
  g_mutex_unlock (&pool->queue_lock);
  return NULL;
}

/* --------------------------------------------------------------- start */

void
pge_pool_start_janitor (PgePool *pool)
{
  /* Always: calls may carry their own acquire timeout, and connections
   * their lifetime and idle limits. */
  pool->janitor = g_thread_new ("pge-janitor", janitor_main, pool);
}

/* Blocks until every slot made its first connection attempt (worker.c
 * reports it, or failed to start). */
gboolean
pge_pool_wait_started (PgePool *pool, GError **error)
{
  gboolean ok;

  pge_mutex_lock_spin (&pool->queue_lock);
  while (pool->n_connect_attempts_done < pool->slots->len)
    g_cond_wait (&pool->state_cond, &pool->queue_lock);
  ok = pool->start_error == NULL;
  if (!ok)
    g_propagate_error (error, g_error_copy (pool->start_error));
  g_mutex_unlock (&pool->queue_lock);
  return ok;
}

PgeFuture *
pge_pool_get_started (PgePool *pool)
{
  return pool->started;
}

void
pge_pool_report_start (PgeSlot *slot, const GError *error)
{
  PgePool *pool = slot->pool;
  gboolean all_done;
  GError *start_error = NULL;

  pge_mutex_lock_spin (&pool->queue_lock);
  pool->n_connect_attempts_done++;
  if (error != NULL && pool->start_error == NULL)
    pool->start_error = g_error_copy (error);
  all_done = pool->n_connect_attempts_done == pool->slots->len;
  if (all_done && pool->start_error != NULL)
    start_error = g_error_copy (pool->start_error);
  g_cond_broadcast (&pool->state_cond);
  g_mutex_unlock (&pool->queue_lock);
  /* Outside the lock: its callbacks may submit work. */
  if (all_done)
    pge_future_resolve (pool->started, NULL, start_error);
}

/* --------------------------------------------------------- link events */

void
pge_pool_set_link_func (PgePool *pool, PgePoolLinkFunc func, gpointer data, GDestroyNotify notify)
{
  pool->link_func = func;
  pool->link_data = data;
  pool->link_notify = notify;
}

void
pge_pool_set_reach_func (PgePool *pool, PgePoolLinkFunc func)
{
  pool->reach_func = func;
}

typedef enum { LINK_SAME, LINK_LOST, LINK_RESTORED } LinkChange;

/* A slot's connection is up or down, as its holder found it: the change
 * to report, if any. Only a connection that was up once can be lost. */
static LinkChange
link_change_locked (PgeSlot *slot, gboolean up)
{
  POOL_ENSURE_LOCKED (slot->pool);
  if (up)
    {
      gboolean was_lost = slot->lost;

      slot->lost = FALSE;
      slot->ever_up = TRUE;
      return was_lost ? LINK_RESTORED : LINK_SAME;
    }
  if (!slot->ever_up || slot->lost)
    return LINK_SAME;
  slot->lost = TRUE;
  return LINK_LOST;
}

static void
link_report (PgePool *pool, LinkChange change)
{
  if (change != LINK_SAME && pool->link_func != NULL)
    pool->link_func (pool, change == LINK_RESTORED, pool->link_data);
}

void
pge_pool_note_lost (PgeSlot *slot)
{
  LinkChange change;

  pge_mutex_lock_spin (&slot->pool->queue_lock);
  /* A connection the engine closed on purpose was not lost. */
  change = pge_lifecycle_is_renewing_locked (slot) ? LINK_SAME : link_change_locked (slot, FALSE);
  g_mutex_unlock (&slot->pool->queue_lock);
  link_report (slot->pool, change);
}

static void steal_queue_locked (GQueue *queue, GQueue *out);
static void fail_all (GQueue *jobs, gint code, const char *message);

static gboolean
any_connected_locked (PgePool *pool)
{
  POOL_ENSURE_LOCKED (pool);
  for (guint i = 0; i < pool->slots->len; i++)
    if (((PgeSlot *) pool->slots->pdata[i])->connected)
      return TRUE;
  return FALSE;
}

static void steal_deferred_locked (PgePool *pool, GQueue *out);

#define DOWN_MESSAGE "the node's server cannot be reached (its last connection attempt failed); " \
                     "it is retried in the background"

/* The pool is down: its queued and deferred jobs, which would otherwise
 * wait out the acquire timeout, go into @failed. */
static void
go_down_locked (PgePool *pool, GQueue *failed)
{
  pool->down = TRUE;
  __atomic_fetch_add (&pool->n_down, 1, __ATOMIC_RELAXED);
  steal_queue_locked (&pool->queue, failed);
  steal_deferred_locked (pool, failed);
  __atomic_fetch_add (&pool->n_refused, failed->length, __ATOMIC_RELAXED);
}

/* Marks a fail-fast pool down once no connection is left. */
static void
mark_down_locked (PgePool *pool, GQueue *failed)
{
  POOL_ENSURE_LOCKED (pool);
  if (!pool->fail_fast || pool->down || pool->closing || any_connected_locked (pool))
    return;
  go_down_locked (pool, failed);
}

/* Remembers which server a new connection reached; another one than
 * before is a server switch (failover through a multi-host conninfo). */
static void
note_server_locked (PgePool *pool, PgeConnection *conn)
{
  PGconn *pg = pge_connection_get_pgconn (conn);
  g_autofree char *server = NULL;

  POOL_ENSURE_LOCKED (pool);
  if (pg == NULL)
    return;
  server = g_strdup_printf ("%s:%s", PQhost (pg) ? PQhost (pg) : "", PQport (pg) ? PQport (pg) : "");
  if (g_strcmp0 (server, pool->server) == 0)
    return;
  if (pool->server != NULL)
    __atomic_fetch_add (&pool->n_server_switches, 1, __ATOMIC_RELAXED);
  g_free (pool->server);
  pool->server = g_steal_pointer (&server);
}

/* A pool unreachable for longer than its reconnect timeout (lifecycle.c)
 * is given up on: down, like a fail-fast node at once. */
static LinkChange
give_up_locked (PgePool *pool, GQueue *failed)
{
  if (!pge_lifecycle_give_up_locked (pool, any_connected_locked (pool)))
    return LINK_SAME;
  if (!pool->down)
    go_down_locked (pool, failed);
  return LINK_LOST;
}

static void
reach_report (PgePool *pool, LinkChange change)
{
  if (change != LINK_SAME && pool->reach_func != NULL)
    pool->reach_func (pool, change == LINK_RESTORED, pool->link_data);
}

/* For the holder, after a connection attempt. */
void
pge_pool_set_connected (PgeSlot *slot, gboolean connected)
{
  PgePool *pool = slot->pool;
  GQueue failed = G_QUEUE_INIT;
  LinkChange change;
  LinkChange reach = LINK_SAME;

  pge_mutex_lock_spin (&pool->queue_lock);
  slot->connected = connected;
  slot->broken = !connected;
  change = link_change_locked (slot, connected);
  pge_lifecycle_connect_done_locked (slot, connected);
  if (connected)
    {
      pool->down = FALSE;
      note_server_locked (pool, slot->conn);
      if (pge_lifecycle_back_locked (pool))
        reach = LINK_RESTORED;
    }
  else
    {
      mark_down_locked (pool, &failed);
      reach = give_up_locked (pool, &failed);
    }
  g_mutex_unlock (&pool->queue_lock);
  link_report (pool, change);
  reach_report (pool, reach);
  fail_all (&failed, PGE_ERROR_CONNECTION, DOWN_MESSAGE);
}

void
pge_pool_note_connect_error (PgePool *pool, const GError *error)
{
  pge_mutex_lock_spin (&pool->queue_lock);
  g_clear_pointer (&pool->connect_failure, g_free);
  if (error != NULL)
    pool->connect_failure = g_strdup (error->message);
  g_mutex_unlock (&pool->queue_lock);
}

void
pge_pool_mark_down (PgePool *pool)
{
  GQueue failed = G_QUEUE_INIT;

  pge_mutex_lock_spin (&pool->queue_lock);
  mark_down_locked (pool, &failed);
  g_mutex_unlock (&pool->queue_lock);
  fail_all (&failed, PGE_ERROR_CONNECTION, DOWN_MESSAGE);
}

/* Routing (a replica node after a failover): every connection of @pool
 * reconnects before its next job, since its conninfo may lead to another
 * server now. An idle one does so at once, a busy or pinned one once its
 * job or lease is over. The slots stay counted as connected meanwhile:
 * no loss is reported and the node is not marked down. */
void
pge_pool_reconnect_all (PgePool *pool)
{
  pge_mutex_lock_spin (&pool->queue_lock);
  for (guint i = 0; i < pool->slots->len; i++)
    {
      PgeSlot *slot = pool->slots->pdata[i];

      if (slot->broken || !slot->connected)
        continue;
      slot->broken = TRUE;
      if (slot->idle)
        {
          slot->idle = FALSE;
          g_queue_unlink (&pool->idle_slots, &slot->idle_link);
        }
      g_cond_signal (&slot->wake);
    }
  g_mutex_unlock (&pool->queue_lock);
}

gboolean
pge_pool_is_down (PgePool *pool)
{
  gboolean down;

  pge_mutex_lock_spin (&pool->queue_lock);
  down = pool->down;
  g_mutex_unlock (&pool->queue_lock);
  return down;
}

guint
pge_pool_get_load (PgePool *pool)
{
  guint load;

  pge_mutex_lock_spin (&pool->queue_lock);
  load = pool->n_busy + pool->queue.length + pool->n_deferred;
  g_mutex_unlock (&pool->queue_lock);
  return load;
}

/* ---------------------------------------------------------- submission */

static void
job_release (PgeJob *job)
{
  g_clear_pointer (&job->lease, pge_lease_unref);
  if (job->borrowed)
    job->pool = NULL;
  else
    g_clear_pointer (&job->pool, pge_pool_unref);
}

static void
attach_locked (PgePool *pool, PgeLease *lease, PgeJob *job)
{
  POOL_ENSURE_LOCKED (pool);
  g_assert (job->pool == NULL);
  /* A blocking caller's job keeps no reference: its caller is inside the
   * engine, which keeps the pool, until the job is done, and the last
   * reference the job may outlive it with is a worker's, whose pool
   * lives until the worker ends. One atomic write fewer, on a line every
   * thread writes, per blocking call. */
  job->pool = job->borrowed ? pool : pge_pool_ref (pool);
  if (lease != NULL)
    {
      g_assert (job->lease == NULL);
      job->lease = pge_lease_ref (lease);
    }
  job->counters = &pool->counters;
  job->release = job_release;
}

/* The janitor sleeps until janitor_until: it needs waking only for a
 * deadline before that (not once per job: a queue that empties and fills
 * again at every query must not cost a janitor wake-up each time). */
static void
wake_janitor_for_locked (PgePool *pool, gint64 deadline)
{
  if (pool->janitor != NULL && deadline != 0 && deadline < pool->janitor_until)
    {
      pool->janitor_until = deadline;
      g_cond_signal (&pool->janitor_cond);
    }
}

static void
enqueue_locked (GQueue *queue, PgeJob *job, gint64 deadline)
{
  pge_job_ensure_future (job);   /* others may resolve it from now on */
  job->state = PGE_JOB_QUEUED;
  job->queue = queue;
  job->deadline = deadline;
  g_queue_push_tail_link (queue, &job->link);
  pge_job_ref (job);
}

static void
unlink_idle_locked (PgeSlot *slot)
{
  POOL_ENSURE_LOCKED (slot->pool);
  if (!slot->idle)
    return;
  g_queue_unlink (&slot->pool->idle_slots, &slot->idle_link);
  slot->idle = FALSE;
}

/* Takes an idle slot off the idle list for its worker to wake up to the
 * queue; the caller signals it with wake_slot() after unlocking. */
static PgeSlot *
pop_idle_locked (PgePool *pool)
{
  GList *link = g_queue_pop_head_link (&pool->idle_slots);
  PgeSlot *slot;

  if (link == NULL)
    return NULL;
  slot = link->data;
  slot->idle = FALSE;
  return slot;
}

/* Outside queue_lock: the signal is a futex system call, and made under
 * the lock it would hold every other submitter and worker for its length
 * (the woken worker, too, would run straight into the lock still held).
 * Safe: the worker looks at the queue under the lock before it sleeps,
 * and slots live as long as their pool. */
static void
wake_slot (PgeSlot *slot)
{
  if (slot != NULL)
    g_cond_signal (&slot->wake);
}

/* Idle slots taken under queue_lock for jobs just queued, whose workers
 * are woken once the lock is released (wake_slot() says why). Past its
 * room, a slot is woken at once. */
typedef struct {
  PgeSlot *slots[PGE_PIPELINE_MAX];
  guint    n;
} Wakes;

static void
wakes_add_locked (PgePool *pool, Wakes *wakes)
{
  PgeSlot *slot = pop_idle_locked (pool);

  if (slot != NULL && wakes != NULL && wakes->n < G_N_ELEMENTS (wakes->slots))
    wakes->slots[wakes->n++] = slot;
  else
    wake_slot (slot);
}

/* After the unlock. */
static void
wakes_fire (Wakes *wakes)
{
  for (guint i = 0; i < wakes->n; i++)
    wake_slot (wakes->slots[i]);
  wakes->n = 0;
}

/* Binds @lease to @slot, whose holder is the caller. */
static void
pin_locked (PgeSlot *slot, PgeLease *lease)
{
  POOL_ENSURE_LOCKED (slot->pool);
  slot->lease = pge_lease_ref (lease);
  lease->slot = slot;
  lease->generation = pge_connection_get_generation (slot->conn);
  slot->pool->n_pinned++;
}

static void
run_locked (PgeSlot *slot, PgeJob *job)
{
  POOL_ENSURE_LOCKED (slot->pool);
  job->queue = NULL;
  job->state = PGE_JOB_RUNNING;
  job->slot = slot;
  slot->running = job;
  pge_connection_set_running (slot->conn, job, pge_job_is_cancel_requested (job));
}

/* The slot this thread last ran a job on directly, as pool and index (not
 * a pointer: the pool may be gone by the next call). */
static __thread gconstpointer last_pool;
static __thread guint last_index;

/* The idle slot a blocking caller takes: the one it used last if that is
 * idle, else the one that went idle last. A thread that keeps talking to
 * the same backend keeps the pair warm (caches, and the scheduler's idea
 * of who wakes whom); one that hops between backends makes every backend
 * answer changing threads, which costs the server as much as the client
 * per query (measured: PERFORMANCE.md). */
static PgeSlot *
idle_slot_for_caller_locked (PgePool *pool)
{
  if (last_pool == pool && last_index < pool->slots->len)
    {
      PgeSlot *slot = pool->slots->pdata[last_index];

      if (slot->idle)
        return slot;
    }
  return pool->idle_slots.head->data;
}

/* Hands @slot to the calling thread with @job running on it. */
static PgeSlot *
take_locked (PgeSlot *slot, PgeJob *job)
{
  POOL_ENSURE_LOCKED (slot->pool);
  last_pool = slot->pool;
  last_index = slot->index;
  unlink_idle_locked (slot);
  slot->holder = PGE_HOLDER_DIRECT;
  slot->pool->n_busy++;
  /* A dead connection gives it back to the pool queue (requeue), with
   * its deadline: the pool's is worked out only then (pge_pool_deadline_
   * of_taken()), which saves a clock read per blocking call. */
  if (job->queue == NULL && job->deadline == 0 && job->own_acquire_timeout &&
      pge_job_waits_for_a_connection (job))
    job->deadline = pge_call_deadline_locked (slot->pool, job);
  run_locked (slot, job);
  if (job->kind == PGE_JOB_PIN)
    pin_locked (slot, job->lease);
  return slot;
}

/* For the holder of @slot, which took @job at once (take_locked()) and
 * has read the time, @now, since: the job's acquire deadline, set now if
 * it had none yet, for a reconnect it must bound and a requeue that must
 * keep it. Unlocked: only the holder reads or writes the deadline of a
 * job that runs. */
gint64
pge_pool_deadline_of_taken (PgeSlot *slot, PgeJob *job, gint64 now)
{
  guint timeout_ms = slot->pool->acquire_timeout_ms;

  if (job->deadline == 0 && timeout_ms > 0 && !job->own_acquire_timeout &&
      pge_job_waits_for_a_connection (job))
    job->deadline = now + (gint64) timeout_ms * 1000;
  return job->deadline;
}

static void
refuse (PgeJob *job, gint code, PgePool *pool)
{
  if (code == PGE_ERROR_CLOSED)
    pge_job_fail (job, code, "the engine is closed");
  else if (code == PGE_ERROR_CANCELLED)
    pge_job_fail (job, code, "cancelled before it was queued");
  else if (code == PGE_ERROR_TRANSACTION_STATE)
    pge_job_fail (job, code, "its transaction or batch has already ended");
  else if (code == PGE_ERROR_CONNECTION)
    pge_job_fail (job, code, DOWN_MESSAGE);
  else if (code == PGE_ERROR_QUEUE_FULL)
    pge_job_finish (job, NULL, g_error_new (PGE_ERROR, PGE_ERROR_QUEUE_FULL,
                                            "%u jobs are already waiting on node \"%s\" "
                                            "(max_queue)", pool->max_queue, pool->name));
}

static void
attach_once_locked (PgePool *pool, PgeLease *lease, PgeJob *job)
{
  POOL_ENSURE_LOCKED (pool);
  if (job->pool == NULL)
    attach_locked (pool, lease, job);
}

/* Whether max_queue jobs already wait for a connection (queued), or,
 * with @deferred, wait at all (queued, or deferred for a thread's next
 * wait). A submission is refused only by the first: a deferred job has a
 * free connection waiting for it, and counting it there refused other
 * threads' work while every connection was idle. The second stops a
 * thread from keeping queries for its wait past the bound. */
static gboolean
queue_full_locked (PgePool *pool, gboolean deferred)
{
  POOL_ENSURE_LOCKED (pool);
  return pool->max_queue > 0 &&
         pool->queue.length + (deferred ? pool->n_deferred : 0) >= pool->max_queue;
}

static gboolean
can_take_locked (PgePool *pool, PgeJob *job)
{
  POOL_ENSURE_LOCKED (pool);
  return !pool->closing && !pge_job_is_cancel_requested (job) &&
         pool->queue.length == 0 && pool->idle_slots.length > 0;
}

PgeSlot *
pge_pool_take_now (PgePool *pool, PgeJob *job)
{
  PgeSlot *taken = NULL;

  pge_mutex_lock_spin (&pool->queue_lock);
  if (can_take_locked (pool, job))
    {
      attach_once_locked (pool, NULL, job);
      taken = take_locked (idle_slot_for_caller_locked (pool), job);
    }
  g_mutex_unlock (&pool->queue_lock);
  return taken;
}

static PgeSlot *
submit (PgePool *pool, PgeJob *job, gboolean take)
{
  PgeSlot *taken = NULL, *woken = NULL;
  gint code = -1;

  pge_mutex_lock_spin (&pool->queue_lock);
  attach_once_locked (pool, NULL, job);
  if (take && can_take_locked (pool, job))
    taken = take_locked (idle_slot_for_caller_locked (pool), job);
  else if (pool->closing)
    code = PGE_ERROR_CLOSED;
  else if (pge_job_is_cancel_requested (job))
    code = PGE_ERROR_CANCELLED;
  else if (pool->down)
    {
      code = PGE_ERROR_CONNECTION;
      __atomic_fetch_add (&pool->n_refused, 1, __ATOMIC_RELAXED);
    }
  else if (queue_full_locked (pool, FALSE))
    code = PGE_ERROR_QUEUE_FULL;
  else
    {
      /* The job's own acquire timeout, or the pool's. */
      gint64 deadline = pge_call_deadline_locked (pool, job);

      wake_janitor_for_locked (pool, deadline);
      enqueue_locked (&pool->queue, job, deadline);
      woken = pop_idle_locked (pool);
    }
  g_mutex_unlock (&pool->queue_lock);
  wake_slot (woken);
  refuse (job, code, pool);
  return taken;
}

void
pge_pool_submit (PgePool *pool, PgeJob *job)
{
  submit (pool, job, FALSE);
}

/* pge_pool_take_now(), else pge_pool_submit(), under one lock: for a
 * blocking caller whose job needs no future hooks (nobody else sees it). */
PgeSlot *
pge_pool_submit_or_take (PgePool *pool, PgeJob *job)
{
  return submit (pool, job, TRUE);
}

/* The lease's slot can run its next job for a caller right now. */
static gboolean
lease_slot_free_locked (PgeLease *lease)
{
  POOL_ENSURE_LOCKED (lease->pool);
  return lease->slot != NULL && lease->slot->holder == PGE_HOLDER_NONE && !lease->unpinned;
}

static gboolean
lease_can_take_locked (PgeLease *lease, PgeJob *job)
{
  POOL_ENSURE_LOCKED (lease->pool);
  return !lease->pool->closing && !lease->released && !pge_job_is_cancel_requested (job) &&
         lease->jobs.length == 0 && lease_slot_free_locked (lease);
}

PgeSlot *
pge_lease_take_now (PgeLease *lease, PgeJob *job)
{
  PgePool *pool = lease->pool;
  PgeSlot *taken = NULL;

  pge_mutex_lock_spin (&pool->queue_lock);
  if (lease_can_take_locked (lease, job))
    {
      attach_once_locked (pool, lease, job);
      taken = take_locked (lease->slot, job);
    }
  g_mutex_unlock (&pool->queue_lock);
  return taken;
}

static PgeSlot *
lease_submit (PgeLease *lease, PgeJob *job, gboolean take)
{
  PgePool *pool = lease->pool;
  PgeSlot *taken = NULL;
  gint code = -1;

  pge_mutex_lock_spin (&pool->queue_lock);
  attach_once_locked (pool, lease, job);
  if (take && lease_can_take_locked (lease, job))
    taken = take_locked (lease->slot, job);
  else if (pool->closing)
    code = PGE_ERROR_CLOSED;
  else if (lease->released)
    code = PGE_ERROR_TRANSACTION_STATE;
  else if (pge_job_is_cancel_requested (job))
    code = PGE_ERROR_CANCELLED;
  else
    {
      enqueue_locked (&lease->jobs, job, 0);
      if (lease->slot != NULL && lease->slot->holder == PGE_HOLDER_NONE)
        g_cond_signal (&lease->slot->wake);
    }
  g_mutex_unlock (&pool->queue_lock);
  refuse (job, code, pool);
  return taken;
}

void
pge_lease_submit (PgeLease *lease, PgeJob *job)
{
  lease_submit (lease, job, FALSE);
}

PgeSlot *
pge_lease_submit_or_take (PgeLease *lease, PgeJob *job)
{
  return lease_submit (lease, job, TRUE);
}

PgeSlot *
pge_pool_take_queued (PgeJob *job)
{
  PgePool *pool = job->pool;
  PgeSlot *taken = NULL;

  if (pool == NULL)
    return NULL;
  pge_mutex_lock_spin (&pool->queue_lock);
  if (job->state == PGE_JOB_QUEUED && job->queue->head == &job->link)
    {
      PgeSlot *slot = NULL;

      if (job->queue == &pool->queue && pool->idle_slots.length > 0)
        slot = idle_slot_for_caller_locked (pool);
      else if (job->queue != &pool->queue && lease_slot_free_locked (job->lease))
        slot = job->lease->slot;
      if (slot != NULL)
        {
          g_queue_unlink (job->queue, &job->link);
          taken = take_locked (slot, job);
        }
    }
  g_mutex_unlock (&pool->queue_lock);
  if (taken != NULL)
    pge_job_unref (job);  /* the queue's reference */
  return taken;
}

/* Returns @slot when its worker must be woken (wake_slot(), after the
 * unlock), else NULL. */
static PgeSlot *
release_locked (PgeSlot *slot)
{
  PgePool *pool = slot->pool;

  POOL_ENSURE_LOCKED (pool);
  g_assert (slot->holder == PGE_HOLDER_DIRECT);
  slot->holder = PGE_HOLDER_NONE;
  /* The connection went idle (settle()) a moment ago: that time will do. */
  if (slot->broken || slot->lease != NULL || pool->closing || pool->queue.length > 0 ||
      pge_lifecycle_due_locked (slot, pge_connection_get_idle_since (slot->conn)))
    return slot;
  if (!slot->idle)
    {
      slot->idle = TRUE;
      g_queue_push_head_link (&pool->idle_slots, &slot->idle_link);
      pge_lifecycle_note_idle_locked (slot);
    }
  return NULL;
}

/* Gives a slot back after a direct hold: to its worker if something is
 * queued for it, else to the idle list. */
void
pge_pool_release (PgeSlot *slot)
{
  PgeSlot *woken;

  pge_mutex_lock_spin (&slot->pool->queue_lock);
  woken = release_locked (slot);
  g_mutex_unlock (&slot->pool->queue_lock);
  wake_slot (woken);
}

/* pge_pool_job_done() and pge_pool_release() under one lock, for a
 * direct holder whose job has run (the connection's running token is
 * already cleared). */
void
pge_pool_release_job (PgeSlot *slot, PgeJob *job)
{
  PgePool *pool = slot->pool;
  PgeSlot *woken;

  pge_mutex_lock_spin (&pool->queue_lock);
  slot->running = NULL;
  pool->n_busy--;
  job->state = PGE_JOB_DONE;
  woken = release_locked (slot);
  g_mutex_unlock (&pool->queue_lock);
  wake_slot (woken);
}

/* Unlinks every job of @queue into @out, marking them done. */
static void
steal_queue_locked (GQueue *queue, GQueue *out)
{
  GList *link;

  while ((link = g_queue_pop_head_link (queue)) != NULL)
    {
      PgeJob *job = link->data;

      job->state = PGE_JOB_DONE;
      job->queue = NULL;
      g_queue_push_tail (out, job);
    }
}

static void
fail_all (GQueue *jobs, gint code, const char *message)
{
  PgeJob *job;

  while ((job = g_queue_pop_head (jobs)) != NULL)
    {
      pge_job_fail (job, code, message);
      pge_job_unref (job);
    }
}

/* --------------------------------------------------------- cancellation */

/* The flag is set already (dispatch.c). */
void
pge_pool_cancel_job (PgeJob *job)
{
  PgePool *pool = job->pool;
  PgeConnection *conn = NULL;

  if (pool == NULL)
    return;  /* not submitted yet: the flag makes the submitter fail it */
  pge_mutex_lock_spin (&pool->queue_lock);
  if (job->state == PGE_JOB_QUEUED)
    {
      if (job->lease == NULL && job->queue != &pool->queue)
        pool->n_deferred--;   /* in a thread's deferred queue */
      g_queue_unlink (job->queue, &job->link);
      job->queue = NULL;
      job->state = PGE_JOB_DONE;
      g_mutex_unlock (&pool->queue_lock);
      pge_job_fail (job, PGE_ERROR_CANCELLED, "cancelled while queued; it never ran");
      pge_job_unref (job);
      return;
    }
  if (job->state == PGE_JOB_RUNNING)
    conn = job->slot->conn;
  g_mutex_unlock (&pool->queue_lock);
  /* Outside queue_lock: a request stuck on an unreachable server must not
   * stall every submitter. The connection sends it only if @job is still
   * the one running. */
  if (conn != NULL)
    pge_connection_cancel (conn, job);
}

/* ------------------------------------------------------- worker's side */

/* A query that can share a pipeline with others: a plain pool query (see
 * pge_job_is_plain_query(): no BEGIN, whose transaction would swallow the
 * queries behind it; no COPY, which pipeline mode does not allow), known
 * to be fast on this connection, and small enough that sending it can
 * never block on a server busy writing earlier results (libpq's pipeline
 * deadlock). */
static gboolean
pipelinable (PgeSlot *slot, PgeJob *job)
{
  if (job->lease != NULL || pge_job_is_cancel_requested (job) || !pge_job_is_plain_query (job))
    return FALSE;
  return job->plain_size < 16 * 1024 &&
         pge_connection_is_fast (slot->conn, job->sql, job->params, job->key_hash);
}

/* Moves up to @max jobs from the head of the pool queue into @jobs, as
 * long as each may join @slot's pipeline; the queue's references pass to
 * the caller. Only when no other slot is idle: pipelining never takes
 * work from an idle connection, it only shortens a queue that is waiting
 * anyway. Stops at the first job that may not join, so queued work keeps
 * its order (FIFO). */
static guint
take_pipelinable_locked (PgeSlot *slot, PgeJob **jobs, guint max)
{
  PgePool *pool = slot->pool;
  guint n = 0;

  if (pool->closing || pool->idle_slots.length > 0)
    return 0;
  while (n < max && pool->queue.head != NULL && pipelinable (slot, pool->queue.head->data))
    {
      PgeJob *more = g_queue_pop_head_link (&pool->queue)->data;  /* links are embedded */

      more->queue = NULL;
      more->state = PGE_JOB_RUNNING;
      more->slot = slot;
      jobs[n++] = more;
    }
  return n;
}

/* -------------------------------------------------------------- deferral */

/* A thread that waits for its own futures gets most from the connection
 * when it reads their answers itself (PERFORMANCE.md, "The hand-off
 * floor"): its plain queries wait in a queue of its own until it waits
 * for one of them; then it takes a free connection and runs them there as
 * one pipeline window (pge_pool_take_deferred(), dispatch.c; what is
 * still in flight once its own answer is in and slow to follow goes to
 * the slot's worker: pge_pool_hand_over()). Anything
 * else moves them to the pool queue's tail, in order: the thread's other
 * calls into the engine, a wait on one of them by another thread or with
 * a timeout, a callback attached to one, the thread's exit, the janitor
 * once the oldest has waited DEFER_MAX_US, and close (which fails them).
 * They go where they would have been had they been queued when they were
 * made (FIFO by creation). Only a thread that has waited for a future
 * defers (one that uses callbacks, a GTK main loop, never does), and only
 * while a connection is free and nothing is queued: work that waits for a
 * connection keeps its turn. No more than max_queue jobs wait in all,
 * queued or deferred, for a thread to defer another; past that its
 * queries go to the pool queue, where max_queue is checked as ever.
 *
 * Ownership: a PgeDeferred is its thread's (GPrivate). `pool`, `link` and
 * `waits` change only on that thread, `pool` and `link` under the pool's
 * queue_lock; `jobs` and `since_us` are guarded by that lock, since
 * cancel, the janitor and close take jobs out of it. While `pool` is set
 * it holds a reference and the PgeDeferred is in pool->deferred. */
#define DEFER_MAX_US 1000

struct _PgeDeferred {
  PgePool *pool;
  GQueue   jobs;      /* QUEUED jobs, job->queue == &jobs, oldest first */
  gint64   since_us;  /* when the oldest came */
  GList    link;      /* in pool->deferred */
  gboolean waits;     /* this thread has waited for a future */
};

static void deferred_free (gpointer data);
static GPrivate deferred_key = G_PRIVATE_INIT (deferred_free);

static PgeDeferred *
deferred_get (gboolean create)
{
  PgeDeferred *deferred = g_private_get (&deferred_key);

  if (deferred == NULL && create)
    {
      deferred = g_new0 (PgeDeferred, 1);
      deferred->link.data = deferred;
      g_private_set (&deferred_key, deferred);
    }
  return deferred;
}

/* The PgeDeferred whose queue @job is in, or NULL. */
static PgeDeferred *
deferred_of_locked (PgePool *pool, PgeJob *job)
{
  POOL_ENSURE_LOCKED (pool);
  if (job->state != PGE_JOB_QUEUED || job->lease != NULL || job->queue == &pool->queue)
    return NULL;
  return (PgeDeferred *) ((char *) job->queue - G_STRUCT_OFFSET (PgeDeferred, jobs));
}

/* Moves @deferred's jobs to the pool queue's tail, in order (they keep
 * their acquire deadlines), or into @closed when the pool is closing
 * (@closed may be NULL where the pool cannot be closing, or the queue
 * must be empty then: close empties every deferred queue). The workers
 * to wake go into @wakes (NULL: woken at once, for the janitor, which
 * lets go of the lock right after, in its wait). */
static void
undefer_locked (PgePool *pool, PgeDeferred *deferred, GQueue *closed, Wakes *wakes)
{
  GList *link;

  POOL_ENSURE_LOCKED (pool);
  if (pool->closing)
    {
      pool->n_deferred -= deferred->jobs.length;
      steal_queue_locked (&deferred->jobs, closed);
      return;
    }
  while ((link = g_queue_pop_head_link (&deferred->jobs)) != NULL)
    {
      PgeJob *job = link->data;
      GList *after = pool->queue.tail;

      /* Where it would be had it been queued when it was made: FIFO, and
       * the pool queue stays in deadline order for the janitor. */
      while (after != NULL && ((PgeJob *) after->data)->created_us > job->created_us)
        after = after->prev;
      pool->n_deferred--;
      job->queue = &pool->queue;
      if (after == NULL)
        g_queue_push_head_link (&pool->queue, link);
      else
        g_queue_insert_after_link (&pool->queue, after, link);
      wake_janitor_for_locked (pool, job->deadline);
      wakes_add_locked (pool, wakes);
    }
}

/* Close, or a node found down: what the threads deferred fails with
 * what was queued, rather than waiting out the acquire timeout. */
static void
steal_deferred_locked (PgePool *pool, GQueue *out)
{
  POOL_ENSURE_LOCKED (pool);
  for (GList *l = pool->deferred.head; l != NULL; l = l->next)
    steal_queue_locked (&((PgeDeferred *) l->data)->jobs, out);
  pool->n_deferred = 0;
}

/* For the owner: what it deferred goes to the pool queue; with @detach,
 * its tie to the pool ends too. */
static void
deferred_flush (PgeDeferred *deferred, gboolean detach)
{
  PgePool *pool = deferred->pool;
  GQueue closed = G_QUEUE_INIT;
  Wakes wakes = { .n = 0 };

  if (pool == NULL)
    return;
  pge_mutex_lock_spin (&pool->queue_lock);
  undefer_locked (pool, deferred, &closed, &wakes);
  if (detach)
    {
      g_queue_unlink (&pool->deferred, &deferred->link);
      deferred->pool = NULL;
    }
  g_mutex_unlock (&pool->queue_lock);
  wakes_fire (&wakes);
  fail_all (&closed, PGE_ERROR_CLOSED, "the engine was closed before this job ran");
  if (detach)
    pge_pool_unref (pool);
}

static void
deferred_detach (PgeDeferred *deferred)
{
  deferred_flush (deferred, TRUE);
}

static void
deferred_free (gpointer data)
{
  deferred_detach (data);
  g_free (data);
}

/* A query that may wait for its thread: a plain pool query that could
 * join a pipeline (see pipelinable()), timed by the pool's acquire
 * timeout (a call's own one is kept in the janitor's order of the pool
 * queue, calloptions.c). */
static gboolean
deferrable (PgeJob *job)
{
  return job->lease == NULL && !job->own_acquire_timeout && !pge_job_is_cancel_requested (job) &&
         pge_job_is_plain_query (job) && job->plain_size < 16 * 1024;
}

/* For a thread submitting @job as a future (dispatch.c): keeps it for
 * this thread to run when it waits. FALSE: submit it as usual (whatever
 * this thread had deferred is queued ahead of it). */
gboolean
pge_pool_defer (PgePool *pool, PgeJob *job)
{
  PgeDeferred *deferred = deferred_get (FALSE);
  gboolean kept = FALSE;
  Wakes wakes = { .n = 0 };

  if (deferred == NULL)
    return FALSE;
  if (!deferred->waits || pool->pipeline_max < 2 || current_slot != NULL ||
      !deferrable (job))
    {
      /* It goes to the pool queue: what came before it goes first. */
      deferred_flush (deferred, FALSE);
      return FALSE;
    }
  if (deferred->pool != pool)
    {
      deferred_detach (deferred);
      pge_mutex_lock_spin (&pool->queue_lock);
      deferred->pool = pge_pool_ref (pool);
      g_queue_push_tail_link (&pool->deferred, &deferred->link);
      g_mutex_unlock (&pool->queue_lock);
    }
  pge_mutex_lock_spin (&pool->queue_lock);
  attach_once_locked (pool, NULL, job);
  /* Closing (close emptied the queue) or down: submit() refuses. Work
   * waiting for a connection: queued work keeps its turn (FIFO), which a
   * deferred query would not take. */
  if (pool->closing || pool->down)
    ;
  else if (pool->queue.length > 0 || pool->idle_slots.length == 0)
    undefer_locked (pool, deferred, NULL, &wakes);
  else if (deferred->jobs.length >= pool->pipeline_max || queue_full_locked (pool, TRUE))
    undefer_locked (pool, deferred, NULL, &wakes);
  else
    {
      if (deferred->jobs.length == 0)
        {
          deferred->since_us = job->created_us;
          pool->n_defer_starts++;
          /* A no-op while the janitor ticks (undefer_due_locked()). */
          wake_janitor_for_locked (pool, deferred->since_us + DEFER_MAX_US);
        }
      enqueue_locked (&deferred->jobs, job, pge_call_deadline_locked (pool, job));
      pool->n_deferred++;
      kept = TRUE;
    }
  g_mutex_unlock (&pool->queue_lock);
  wakes_fire (&wakes);
  return kept;
}

/* Moves the window's jobs, as long as they may join a pipeline on
 * @slot, from @deferred into @jobs, RUNNING on @slot, the first as the
 * one running (see take_locked()). Returns how many. */
static guint
take_window_locked (PgeSlot *slot, PgeDeferred *deferred, PgeJob **jobs)
{
  PgePool *pool = slot->pool;
  guint n = 0;

  while (n < pool->pipeline_max && deferred->jobs.head != NULL &&
         pipelinable (slot, deferred->jobs.head->data))
    {
      PgeJob *job = g_queue_pop_head_link (&deferred->jobs)->data;  /* links are embedded */

      pool->n_deferred--;
      if (n == 0)
        {
          last_pool = pool;
          last_index = slot->index;
          unlink_idle_locked (slot);
          slot->holder = PGE_HOLDER_DIRECT;
          pool->n_busy++;
          run_locked (slot, job);
        }
      else
        {
          job->queue = NULL;
          job->state = PGE_JOB_RUNNING;
          job->slot = slot;
        }
      jobs[n++] = job;
    }
  return n;
}

/* For a thread about to wait for @job: when @job waits in this thread's
 * deferred queue and a connection is free, hands the slot to the caller
 * (PGE_HOLDER_DIRECT) with up to the pipeline depth of the queue's jobs
 * RUNNING on it, in @jobs (the queue's references pass to the caller),
 * for it to run as one window and give the slot back. Otherwise moves
 * the queue holding @job, this thread's or another's, to the pool queue
 * and returns NULL. */
PgeSlot *
pge_pool_take_deferred (PgeJob *job, PgeJob **jobs, guint *n_jobs)
{
  PgePool *pool = job->pool;
  PgeDeferred *mine = deferred_get (FALSE);
  PgeDeferred *deferred;
  PgeSlot *slot = NULL;
  GQueue closed = G_QUEUE_INIT;
  Wakes wakes = { .n = 0 };

  *n_jobs = 0;
  if (pool == NULL)
    return NULL;
  pge_mutex_lock_spin (&pool->queue_lock);
  deferred = deferred_of_locked (pool, job);
  if (deferred != NULL && deferred == mine && !pool->closing && pool->idle_slots.length > 0)
    {
      slot = idle_slot_for_caller_locked (pool);
      *n_jobs = take_window_locked (slot, deferred, jobs);
      if (*n_jobs == 0)
        slot = NULL;
    }
  if (deferred != NULL)
    undefer_locked (pool, deferred, &closed, &wakes);
  g_mutex_unlock (&pool->queue_lock);
  wakes_fire (&wakes);
  fail_all (&closed, PGE_ERROR_CLOSED, "the engine was closed before this job ran");
  return slot;
}

/* Before this thread calls into the engine for anything but a future it
 * may defer: what it deferred goes to the pool queue. */
void
pge_pool_undefer_current (void)
{
  PgeDeferred *deferred = deferred_get (FALSE);

  if (deferred != NULL)
    deferred_detach (deferred);
}

/* Someone will not wait for @job here (a callback was attached, a wait
 * with a timeout): if it is deferred, its queue goes to the pool. */
void
pge_pool_undefer_job (PgeJob *job)
{
  PgePool *pool = job->pool;
  PgeDeferred *deferred;
  GQueue closed = G_QUEUE_INIT;
  Wakes wakes = { .n = 0 };

  if (pool == NULL)
    return;
  pge_mutex_lock_spin (&pool->queue_lock);
  deferred = deferred_of_locked (pool, job);
  if (deferred != NULL)
    undefer_locked (pool, deferred, &closed, &wakes);
  g_mutex_unlock (&pool->queue_lock);
  wakes_fire (&wakes);
  fail_all (&closed, PGE_ERROR_CLOSED, "the engine was closed before this job ran");
}

/* This thread waits for a future: from now on its plain queries may wait
 * for it (pge_pool_defer()). Not on the engine's own threads. */
void
pge_pool_note_wait (void)
{
  if (current_slot == NULL)
    deferred_get (TRUE)->waits = TRUE;
}

/* For the janitor: moves the deferred queues whose oldest job has
 * waited DEFER_MAX_US to the pool queue; returns when to look again:
 * when the next one is due, or 0. While threads keep starting deferred
 * queues it also looks every DEFER_MAX_US (a tick), since a thread that
 * starts one then finds the janitor due to look before the queue is, so
 * it need not wake it (wake_janitor_for_locked()): one janitor wake-up
 * per DEFER_MAX_US instead of one per window and a futex call by its
 * thread, where a window is often taken before the janitor even runs
 * (PERFORMANCE.md). The tick stops once one passes without a start. */
static gint64
undefer_due_locked (PgePool *pool, gint64 now)
{
  gint64 next = 0;
  gint64 tick = now + DEFER_MAX_US;

  for (GList *l = pool->deferred.head; l != NULL; l = l->next)
    {
      PgeDeferred *deferred = l->data;
      gint64 due = deferred->since_us + DEFER_MAX_US;

      if (deferred->jobs.length == 0)
        continue;
      if (due <= now)
        undefer_locked (pool, deferred, NULL, NULL);
      else if (next == 0 || due < next)
        next = due;
    }
  if (pool->n_defer_starts != pool->n_defer_starts_seen)
    {
      pool->n_defer_starts_seen = pool->n_defer_starts;
      if (next == 0 || tick < next)
        next = tick;
    }
  return next;
}

/* The next job for a slot's worker, or NULL to wait. */
static PgeJob *
next_job_locked (PgeSlot *slot, GQueue *expired, PgeNext *next)
{
  PgePool *pool = slot->pool;
  GList *link;

  POOL_ENSURE_LOCKED (pool);
  *next = PGE_NEXT_RUN;
  if (slot->holder == PGE_HOLDER_DIRECT)
    return NULL;
  /* Before anything else, even close: its answers are on the way. */
  if (slot->resume != NULL)
    {
      *next = PGE_NEXT_RESUME;
      return NULL;
    }
  if (slot->lease != NULL)
    {
      link = g_queue_pop_head_link (&slot->lease->jobs);
      if (link == NULL && (slot->lease->released || pool->closing))
        *next = PGE_NEXT_UNPIN;
      return link ? link->data : NULL;
    }
  /* A free, unpinned slot: the place to replace a connection past its
   * lifetime (lifecycle.c), never inside a lease. */
  if (slot->broken || pge_lifecycle_due_locked (slot, 0))
    {
      *next = pool->closing ? PGE_NEXT_EXIT : PGE_NEXT_RECONNECT;
      return NULL;
    }
  if (pool->closing)
    {
      *next = PGE_NEXT_EXIT;
      return NULL;
    }
  while ((link = g_queue_pop_head_link (&pool->queue)) != NULL)
    {
      PgeJob *job = link->data;

      if (job->kind != PGE_JOB_PIN || !job->lease->released)
        return job;
      /* Its owner gave up before a slot was free. */
      job->state = PGE_JOB_DONE;
      job->queue = NULL;
      g_queue_push_tail (expired, job);
    }
  if (!slot->idle)
    {
      slot->idle = TRUE;
      g_queue_push_head_link (&pool->idle_slots, &slot->idle_link);
      pge_lifecycle_note_idle_locked (slot);
    }
  return NULL;
}

/* For a slot's worker thread: blocks until there is something to do.
 * With PGE_NEXT_RUN, fills @jobs with one job, or with up to
 * `pipeline_max` queries to send as one pipeline: only when no other slot
 * is idle, so pipelining never takes work from an idle connection, it only
 * shortens a queue that is waiting anyway. The queue's references pass to
 * the worker, which holds the slot until pge_pool_job_done(). */
PgeNext
pge_pool_next (PgeSlot *slot, PgeJob **jobs, guint *n_jobs)
{
  PgePool *pool = slot->pool;
  GQueue expired = G_QUEUE_INIT;
  PgeNext next;
  PgeJob *job;
  guint n = 0;

  pge_mutex_lock_spin (&pool->queue_lock);
  /* Whatever the worker did since its last call is over. */
  if (slot->holder == PGE_HOLDER_WORKER)
    slot->holder = PGE_HOLDER_NONE;
  while ((job = next_job_locked (slot, &expired, &next)) == NULL && next == PGE_NEXT_RUN)
    g_cond_wait (&slot->wake, &pool->queue_lock);
  if (job == NULL)
    {
      if (next != PGE_NEXT_EXIT)
        {
          unlink_idle_locked (slot);
          slot->holder = PGE_HOLDER_WORKER;
        }
      g_mutex_unlock (&pool->queue_lock);
      fail_all (&expired, PGE_ERROR_CANCELLED, "released before a worker was free");
      return next;
    }
  unlink_idle_locked (slot);
  slot->holder = PGE_HOLDER_WORKER;
  run_locked (slot, job);
  jobs[n++] = job;
  if (job->kind == PGE_JOB_PIN)
    pin_locked (slot, job->lease);
  else if (pipelinable (slot, job))
    n += take_pipelinable_locked (slot, jobs + n, pool->pipeline_max - n);
  pool->n_busy++;
  g_mutex_unlock (&pool->queue_lock);
  fail_all (&expired, PGE_ERROR_CANCELLED, "released before a worker was free");
  *n_jobs = n;
  return PGE_NEXT_RUN;
}

/* In a pipeline window (dispatch.c), once the results of the job being
 * read are in: that job is over (cancels no longer reach it), @next (or,
 * if NULL, the first job taken now) is the one whose results come next,
 * and up to @max more queued jobs are moved into @more to be sent (see
 * take_pipelinable_locked()), all under one lock. The caller holds the
 * slot; the queue's references pass to it. Returns how many were taken. */
guint
pge_pool_pipeline_step (PgeSlot *slot, PgeJob *next, PgeJob **more, guint max)
{
  PgePool *pool = slot->pool;
  guint n;

  pge_mutex_lock_spin (&pool->queue_lock);
  if (slot->running != NULL)
    slot->running->state = PGE_JOB_DONE;
  n = take_pipelinable_locked (slot, more, max);
  if (next == NULL && n > 0)
    next = more[0];
  if (next != NULL)
    run_locked (slot, next);
  else
    {
      slot->running = NULL;
      pge_connection_set_running (slot->conn, NULL, FALSE);
    }
  g_mutex_unlock (&pool->queue_lock);
  return n;
}

/* The slot's jobs have run (they may resolve afterwards); cancels no
 * longer reach them. @job may be NULL when none of them is still
 * running (a pipeline window that ran dry). A worker keeps holding the slot (it asks for the
 * next job); a direct holder gives it back with pge_pool_release(). */
void
pge_pool_job_done (PgeSlot *slot, PgeJob *job)
{
  PgePool *pool = slot->pool;

  pge_mutex_lock_spin (&pool->queue_lock);
  pge_connection_set_running (slot->conn, NULL, FALSE);
  slot->running = NULL;
  pool->n_busy--;
  if (job != NULL)
    job->state = PGE_JOB_DONE;
  g_mutex_unlock (&pool->queue_lock);
}

/* For a direct holder whose pipeline window still has queries in flight
 * that it will not wait for (dispatch.c): the slot, busy as it is, and
 * @window (owned) pass to the slot's worker, which reads the rest. */
void
pge_pool_hand_over (PgeSlot *slot, gpointer window)
{
  PgePool *pool = slot->pool;

  pge_mutex_lock_spin (&pool->queue_lock);
  g_assert (slot->holder == PGE_HOLDER_DIRECT && slot->resume == NULL);
  slot->resume = window;
  slot->holder = PGE_HOLDER_NONE;
  g_mutex_unlock (&pool->queue_lock);
  g_cond_signal (&slot->wake);
}

/* For the worker, after PGE_NEXT_RESUME: the window handed over. */
gpointer
pge_pool_take_resume (PgeSlot *slot)
{
  gpointer window;

  pge_mutex_lock_spin (&slot->pool->queue_lock);
  window = g_steal_pointer (&slot->resume);
  g_mutex_unlock (&slot->pool->queue_lock);
  return window;
}

/* Puts jobs that never took effect back at the head of their queue (the
 * pool's, or the lease's for a PIN that found its connection dead), in
 * their order, keeping their deadlines. The caller's references pass to
 * the queue; the slot is no longer running them. */
void
pge_pool_requeue (PgeSlot *slot, PgeJob **jobs, guint n_jobs)
{
  PgePool *pool = slot->pool;
  gboolean closing;
  gboolean down;
  Wakes wakes = { .n = 0 };

  pge_mutex_lock_spin (&pool->queue_lock);
  /* A down node's jobs fail now rather than wait for a server that may
   * take long to come back. */
  down = !pool->closing && pool->down;
  closing = pool->closing || down;
  for (guint i = n_jobs; i-- > 0;)
    {
      jobs[i]->slot = NULL;
      if (jobs[i]->kind == PGE_JOB_PIN && slot->lease == jobs[i]->lease)
        {
          PgeLease *lease = g_steal_pointer (&slot->lease);

          lease->slot = NULL;
          pool->n_pinned--;
          pge_lease_unref (lease);
        }
      if (closing)
        {
          jobs[i]->state = PGE_JOB_DONE;
          continue;
        }
      pge_job_ensure_future (jobs[i]);
      jobs[i]->state = PGE_JOB_QUEUED;
      jobs[i]->queue = &pool->queue;
      g_queue_push_head_link (&pool->queue, &jobs[i]->link);
      wake_janitor_for_locked (pool, jobs[i]->deadline);
      wakes_add_locked (pool, &wakes);
    }
  g_mutex_unlock (&pool->queue_lock);
  wakes_fire (&wakes);
  if (down)
    __atomic_fetch_add (&pool->n_refused, n_jobs, __ATOMIC_RELAXED);
  for (guint i = 0; i < n_jobs && closing; i++)
    {
      if (down)
        pge_job_fail (jobs[i], PGE_ERROR_CONNECTION, DOWN_MESSAGE);
      else
        pge_job_fail (jobs[i], PGE_ERROR_CLOSED, "the engine is closed");
      pge_job_unref (jobs[i]);
    }
}

/* A direct holder found the connection dead and could not replace it:
 * the worker reconnects (with backoff) once the slot is given back. */
void
pge_pool_mark_broken (PgeSlot *slot)
{
  LinkChange change;

  pge_mutex_lock_spin (&slot->pool->queue_lock);
  slot->broken = TRUE;
  slot->connected = FALSE;
  change = link_change_locked (slot, FALSE);
  g_mutex_unlock (&slot->pool->queue_lock);
  link_report (slot->pool, change);
}

/* For the holder, after rolling back: the lease is over. */
void
pge_pool_unpin (PgeSlot *slot)
{
  PgePool *pool = slot->pool;
  PgeLease *lease;
  GQueue left = G_QUEUE_INIT;

  pge_mutex_lock_spin (&pool->queue_lock);
  lease = g_steal_pointer (&slot->lease);
  lease->released = TRUE;
  lease->unpinned = TRUE;
  steal_queue_locked (&lease->jobs, &left);
  g_cond_broadcast (&lease->unpinned_cond);
  pool->n_pinned--;
  g_mutex_unlock (&pool->queue_lock);
  fail_all (&left, PGE_ERROR_CLOSED, "the engine is closed");
  pge_lease_unref (lease);
}

/* How often a worker sleeping between reconnect attempts looks whether
 * jobs wait: submission wakes only idle slots, and a job must not wait
 * out a backoff of seconds once the server is back. */
#define RECONNECT_POLL_US (25 * G_TIME_SPAN_MILLISECOND)

/* Jobs wait and no connection of the pool is up to serve them (an outage,
 * not a busy pool: then a refused connect, "too many clients", is not
 * worth hammering). */
static gboolean
starved_locked (PgePool *pool)
{
  return pool->queue.length > 0 && !any_connected_locked (pool);
}

/* For a worker that reconnects: sleeps until @until (monotonic µs), until
 * jobs wait with no connection up (looked at every RECONNECT_POLL_US), or
 * until the pool closes. Returns FALSE if the pool is closing. */
gboolean
pge_pool_sleep (PgeSlot *slot, gint64 until)
{
  PgePool *pool = slot->pool;
  gboolean open;

  pge_mutex_lock_spin (&pool->queue_lock);
  while (!pool->closing && g_get_monotonic_time () < until)
    {
      gint64 next = MIN (until, g_get_monotonic_time () + RECONNECT_POLL_US);

      g_cond_wait_until (&slot->wake, &pool->queue_lock, next);
      if (starved_locked (pool))
        break;
    }
  open = !pool->closing;
  g_mutex_unlock (&pool->queue_lock);
  return open;
}

/* Whether jobs wait for a connection while none of the pool is up. */
gboolean
pge_pool_is_starved (PgePool *pool)
{
  gboolean starved;

  pge_mutex_lock_spin (&pool->queue_lock);
  starved = starved_locked (pool);
  g_mutex_unlock (&pool->queue_lock);
  return starved;
}

void
pge_pool_slot_exited (PgeSlot *slot)
{
  pge_mutex_lock_spin (&slot->pool->queue_lock);
  slot->exited = TRUE;
  slot->connected = FALSE;
  g_cond_broadcast (&slot->pool->state_cond);
  g_mutex_unlock (&slot->pool->queue_lock);
}

/* ---------------------------------------------------------------- close */

void
pge_pool_close (PgePool *pool)
{
  GQueue stolen = G_QUEUE_INIT;

  pge_mutex_lock_spin (&pool->queue_lock);
  if (pool->closing)
    {
      g_mutex_unlock (&pool->queue_lock);
      return;
    }
  pool->closing = TRUE;
  steal_queue_locked (&pool->queue, &stolen);
  steal_deferred_locked (pool, &stolen);
  for (guint i = 0; i < pool->slots->len; i++)
    {
      PgeSlot *slot = pool->slots->pdata[i];

      if (slot->lease != NULL)
        steal_queue_locked (&slot->lease->jobs, &stolen);
      /* A worker stuck in a connection attempt gives up now. */
      pge_connection_interrupt (slot->conn);
      g_cond_signal (&slot->wake);
    }
  g_cond_signal (&pool->janitor_cond);
  g_mutex_unlock (&pool->queue_lock);
  fail_all (&stolen, PGE_ERROR_CLOSED, "the engine was closed before this job ran");
}

static gboolean
all_exited_locked (PgePool *pool)
{
  POOL_ENSURE_LOCKED (pool);
  for (guint i = 0; i < pool->slots->len; i++)
    {
      PgeSlot *slot = pool->slots->pdata[i];

      /* A pool of an engine whose start failed early never got threads
       * (slot->thread is written and read by the engine's owner only). */
      if (!slot->exited && slot->thread != NULL)
        return FALSE;
    }
  return TRUE;
}

/* Blocks until every thread of a closed pool has ended. Queries still
 * running after the grace period are cancelled, so this cannot hang on a
 * long statement; only user code that ignores cancellation can hold it. */
void
pge_pool_join (PgePool *pool)
{
  gint64 grace_end = g_get_monotonic_time () + CLOSE_GRACE_US;
  gboolean cancelled = FALSE;

  pge_mutex_lock_spin (&pool->queue_lock);
  while (!all_exited_locked (pool))
    {
      if (!cancelled && !g_cond_wait_until (&pool->state_cond, &pool->queue_lock, grace_end))
        {
          cancelled = TRUE;
          /* Also reaches queries sent behind the running one in a
           * pipeline: the connection repeats the request for each. */
          for (guint i = 0; i < pool->slots->len; i++)
            pge_connection_cancel_all (((PgeSlot *) pool->slots->pdata[i])->conn);
        }
      else if (cancelled)
        g_cond_wait (&pool->state_cond, &pool->queue_lock);
    }
  g_mutex_unlock (&pool->queue_lock);

  for (guint i = 0; i < pool->slots->len; i++)
    {
      PgeSlot *slot = pool->slots->pdata[i];

      if (slot->thread != NULL)
        g_thread_join (g_steal_pointer (&slot->thread));
    }
  if (pool->janitor != NULL)
    g_thread_join (g_steal_pointer (&pool->janitor));
  /* Its jobs hold references to the pool. */
  pge_call_clear_deadlines (pool);
}

/* ---------------------------------------------------------------- stats */

void
pge_pool_count_reconnect (PgePool *pool)
{
  __atomic_fetch_add (&pool->n_reconnects, 1, __ATOMIC_RELAXED);
}

void
pge_pool_get_node_stats (PgePool *pool, PgeNodeStats *stats)
{
  pge_mutex_lock_spin (&pool->queue_lock);
  stats->down = pool->down;
  g_strlcpy (stats->server, pool->server ? pool->server : "", sizeof stats->server);
  g_mutex_unlock (&pool->queue_lock);
  stats->n_down = __atomic_load_n (&pool->n_down, __ATOMIC_RELAXED);
  stats->n_refused = __atomic_load_n (&pool->n_refused, __ATOMIC_RELAXED);
  stats->n_server_switches = __atomic_load_n (&pool->n_server_switches, __ATOMIC_RELAXED);
}

/* --------------------------------------------------------------- leases */

PgeLease *
pge_lease_new (PgePool *pool)
{
  PgeLease *lease = g_new0 (PgeLease, 1);

  g_atomic_ref_count_init (&lease->ref);
  lease->pool = pge_pool_ref (pool);
  g_queue_init (&lease->jobs);
  g_cond_init (&lease->unpinned_cond);
  return lease;
}

PgeLease *
pge_lease_ref (PgeLease *lease)
{
  g_atomic_ref_count_inc (&lease->ref);
  return lease;
}

void
pge_lease_unref (PgeLease *lease)
{
  if (!g_atomic_ref_count_dec (&lease->ref))
    return;
  /* A pinned slot holds a reference, so this lease is not pinned. */
  g_clear_error (&lease->poison);
  g_cond_clear (&lease->unpinned_cond);
  pge_pool_unref (lease->pool);
  g_free (lease);
}

/* The job that pins @lease to the slot that takes it; submit it with
 * pge_pool_submit(). It resolves (no result) once pinned, or fails
 * (timeout, closed, cancelled). */
PgeJob *
pge_lease_new_pin_job (PgeLease *lease)
{
  PgeJob *job = pge_job_new_call (NULL, NULL, NULL);

  job->kind = PGE_JOB_PIN;
  /* Read by the pool before submission attaches it. */
  job->lease = pge_lease_ref (lease);
  job->release = job_release;
  return job;
}

PgeSlot *
pge_lease_release (PgeLease *lease, gboolean take)
{
  PgePool *pool = lease->pool;
  PgeSlot *slot;
  PgeSlot *taken = NULL;

  pge_mutex_lock_spin (&pool->queue_lock);
  lease->released = TRUE;
  slot = lease->slot;
  if (slot != NULL && !lease->unpinned && slot->holder == PGE_HOLDER_NONE)
    {
      if (take && lease->jobs.length == 0 && !pool->closing)
        {
          slot->holder = PGE_HOLDER_DIRECT;
          taken = slot;
        }
      else
        g_cond_signal (&slot->wake);
    }
  g_mutex_unlock (&pool->queue_lock);
  return taken;
}

/* Blocks until the slot bound to a released lease is back in the pool
 * (at once if it was never pinned). */
void
pge_lease_wait_unpinned (PgeLease *lease)
{
  PgePool *pool = lease->pool;

  pge_mutex_lock_spin (&pool->queue_lock);
  while (lease->slot != NULL && !lease->unpinned)
    g_cond_wait (&lease->unpinned_cond, &pool->queue_lock);
  g_mutex_unlock (&pool->queue_lock);
}

/* For the holder of a PIN job's slot, once its connection is checked
 * (and maybe replaced): the lease begins on this connection. */
void
pge_lease_bind (PgeLease *lease)
{
  pge_mutex_lock_spin (&lease->pool->queue_lock);
  if (lease->slot != NULL)
    lease->generation = pge_connection_get_generation (lease->slot->conn);
  g_mutex_unlock (&lease->pool->queue_lock);
}

/* Makes every job of @lease that has not run yet fail with a copy of
 * @error instead: what they were written for is gone (a statement ended
 * the transaction block behind the engine's back). Any thread. */
void
pge_lease_poison (PgeLease *lease, const GError *error)
{
  pge_mutex_lock_spin (&lease->pool->queue_lock);
  if (lease->poison == NULL)
    lease->poison = g_error_copy (error);
  g_mutex_unlock (&lease->pool->queue_lock);
}

/* A copy of the poison, or NULL. */
GError *
pge_lease_dup_poison (PgeLease *lease)
{
  GError *poison = NULL;

  pge_mutex_lock_spin (&lease->pool->queue_lock);
  if (lease->poison != NULL)
    poison = g_error_copy (lease->poison);
  g_mutex_unlock (&lease->pool->queue_lock);
  return poison;
}

/* Whether @conn is the connection @lease began on (not a replacement:
 * a lease's jobs must never run outside the transaction they were
 * written for). For the holder of @conn. */
gboolean
pge_lease_owns (PgeLease *lease, PgeConnection *conn)
{
  gboolean owns;

  pge_mutex_lock_spin (&lease->pool->queue_lock);
  owns = lease->slot != NULL && lease->slot->conn == conn &&
         lease->generation == pge_connection_get_generation (conn);
  g_mutex_unlock (&lease->pool->queue_lock);
  return owns;
}

/* ------------------------------------------- for the files outside the scheduler
 *
 * engine.c and session.c set and read what they need of a pool, a slot or
 * a lease through these, never through the struct bodies, so that those
 * can live in a header only pool.c, dispatch.c and worker.c include. */

void
pge_pool_set_owner (PgePool *pool, gconstpointer owner)
{
  pool->owner = owner;
}

const char *
pge_pool_get_name (PgePool *pool)
{
  return pool->name;
}

guint
pge_pool_get_n_slots (PgePool *pool)
{
  return pool->n_slots;
}

PgeSlot *
pge_pool_get_slot (PgePool *pool, guint index)
{
  return pool->slots->pdata[index];
}

PgeConnection *
pge_slot_get_connection (PgeSlot *slot)
{
  return slot->conn;
}

void
pge_lease_set_reset (PgeLease *lease)
{
  g_assert (lease->slot == NULL);
  lease->reset = TRUE;
}
