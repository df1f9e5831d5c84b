/* lifecycle.c — when a good connection is replaced, closed or given up on.
 *
 * Three reasons retire a connection that still works: its lifetime
 * (pge_config_set_max_lifetime(), with ±10% jitter per connection, so
 * connections made together do not expire together), idleness
 * (pge_config_set_max_idle(): closed, and opened again when a job needs
 * it), and pge_engine_recycle(), which bumps the pool's recycle epoch so
 * that every connection made before it is due. A due connection is never
 * touched while it serves a job, a transaction, a session or a batch:
 * the pool asks pge_lifecycle_due_locked() only where a slot is free and
 * unpinned — when its worker looks for the next job (pool.c's
 * next_job_locked()) and when a blocking caller gives it back
 * (release_locked()) — and the janitor hands idle slots that became due
 * to their workers (pge_lifecycle_scan_locked()). The worker then renews
 * the connection (pge_lifecycle_renew()) instead of taking a job; a
 * replacement that fails leaves the slot broken, for the worker's
 * ordinary reconnect loop with backoff. Closing a connection on purpose
 * is not a loss: `renewing` keeps it from being reported as
 * #PgeEngine::connection-lost.
 *
 * The give-up: a pool with no connection up whose connection attempts
 * have failed for `reconnect_timeout` is given up on
 * (pge_lifecycle_give_up_locked()); pool.c then fails its queued jobs and
 * refuses new ones with PGE_ERROR_CONNECTION, as it does at once for a
 * fail-fast node, and the engine emits #PgeEngine::node-unreachable. The
 * workers keep retrying; the first connect that succeeds ends it
 * (#PgeEngine::node-reachable).
 *
 * Threads: every field it uses lives in PgeSlot and PgePool, guarded by
 * the pool's queue_lock (the functions named _locked are called with it
 * held); pge_lifecycle_renew() runs on the slot's worker thread, the
 * holder, and is the only function here that touches a connection.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "scheduler-private.h"
#include "lifecycle-private.h"

void
pge_lifecycle_init_pool (PgePool *pool, const PgeNodeSettings *node, const PgeSettings *settings)
{
  pool->max_lifetime_us = (gint64) settings->max_lifetime_ms * 1000;
  pool->max_idle_us = (gint64) settings->max_idle_ms * 1000;
  pool->reconnect_timeout_us = (gint64) settings->reconnect_timeout_ms * 1000;
  pool->min_open = node->min_workers < node->n_workers ? node->min_workers : 0;
  pool->shrink_idle_us = pool->max_idle_us > 0 ? pool->max_idle_us
                                               : (gint64) PGE_DEFAULT_SHRINK_IDLE_MS * 1000;
}

/* Slots above min_workers start as if closed for idleness: in the idle
 * stack, below the open ones, opened by the first job that needs them. */
gboolean
pge_lifecycle_start_closed (PgeSlot *slot)
{
  PgePool *pool = slot->pool;

  if (pool->min_open == 0 || slot->index < pool->min_open)
    return FALSE;
  g_mutex_lock (&pool->queue_lock);
  slot->closed_idle = TRUE;
  slot->broken = FALSE;
  g_mutex_unlock (&pool->queue_lock);
  return TRUE;
}

/* The janitor sleeps until janitor_until: wake it if @when is sooner. */
static void
wake_janitor_locked (PgePool *pool, gint64 when)
{
  if (when < pool->janitor_until)
    {
      pool->janitor_until = when;
      g_cond_signal (&pool->janitor_cond);
    }
}

/* ±10%, so that connections made together do not expire together. */
static gint64
jittered_lifetime (PgePool *pool)
{
  return (gint64) ((double) pool->max_lifetime_us * g_random_double_range (0.9, 1.1));
}

void
pge_lifecycle_connect_done_locked (PgeSlot *slot, gboolean connected)
{
  PgePool *pool = slot->pool;

  slot->renew = PGE_RENEW_NONE;
  slot->closed_idle = FALSE;
  slot->renewing = FALSE;
  if (!connected)
    return;
  slot->epoch = pool->recycle_epoch;
  slot->expires_at = 0;
  if (pool->max_lifetime_us > 0)
    {
      slot->expires_at = g_get_monotonic_time () + jittered_lifetime (pool);
      wake_janitor_locked (pool, slot->expires_at);
    }
}

/* @now: the time if the caller has read it lately, else 0 (read here
 * when it matters: a slot freed after every query must not cost a clock
 * read each time). */
gboolean
pge_lifecycle_due_locked (PgeSlot *slot, gint64 now)
{
  if (slot->renew != PGE_RENEW_NONE)
    return TRUE;
  if (slot->closed_idle || slot->broken || !slot->connected)
    return FALSE;
  if (slot->epoch != slot->pool->recycle_epoch ||
      (slot->expires_at != 0 && (now != 0 ? now : g_get_monotonic_time ()) >= slot->expires_at))
    slot->renew = PGE_RENEW_REPLACE;
  return slot->renew != PGE_RENEW_NONE;
}

void
pge_lifecycle_note_idle_locked (PgeSlot *slot)
{
  PgePool *pool = slot->pool;

  if (slot->closed_idle)
    {
      /* Warm connections first: a closed one is opened again only when
       * every open one is busy. */
      g_queue_unlink (&pool->idle_slots, &slot->idle_link);
      g_queue_push_tail_link (&pool->idle_slots, &slot->idle_link);
      return;
    }
  if (pool->max_idle_us == 0 && pool->min_open == 0)
    return;
  slot->idle_since = g_get_monotonic_time ();
  wake_janitor_locked (pool, slot->idle_since + pool->shrink_idle_us);
}

static void
hand_to_worker_locked (PgeSlot *slot)
{
  g_queue_unlink (&slot->pool->idle_slots, &slot->idle_link);
  slot->idle = FALSE;
  g_cond_signal (&slot->wake);
}

static gint64
sooner (gint64 a, gint64 b)
{
  return a == 0 ? b : b == 0 ? a : MIN (a, b);
}

static guint
count_open_locked (PgePool *pool)
{
  guint n = 0;

  for (guint i = 0; i < pool->slots->len; i++)
    {
      PgeSlot *slot = pool->slots->pdata[i];

      /* One its worker is yet to close counts as closed: a scan before
       * the worker got to it must not close another below min_workers. */
      n += slot->connected && !slot->closed_idle && slot->renew != PGE_RENEW_CLOSE;
    }
  return n;
}

/* A fixed pool closes idle connections only for max_idle; a growing one
 * closes those above min_workers (after max_idle, or a default). */
static gboolean
may_close_idle_locked (PgePool *pool, guint n_open)
{
  return pool->min_open == 0 ? pool->max_idle_us > 0 : n_open > pool->min_open;
}

gint64
pge_lifecycle_scan_locked (PgePool *pool, gint64 now)
{
  gint64 next = 0;
  guint n_open = count_open_locked (pool);

  for (guint i = 0; i < pool->slots->len; i++)
    {
      PgeSlot *slot = pool->slots->pdata[i];
      gint64 idle_end;

      if (!slot->connected || slot->closed_idle || slot->renew == PGE_RENEW_CLOSE)
        continue;
      if (!slot->idle)
        {
          /* Renewed when it is free again; look then if it is not. */
          if (slot->expires_at > now)
            next = sooner (next, slot->expires_at);
          continue;
        }
      idle_end = may_close_idle_locked (pool, n_open) ? slot->idle_since + pool->shrink_idle_us : 0;
      if (pge_lifecycle_due_locked (slot, now))
        hand_to_worker_locked (slot);
      else if (idle_end != 0 && now >= idle_end)
        {
          slot->renew = PGE_RENEW_CLOSE;
          n_open--;
          hand_to_worker_locked (slot);
        }
      else
        next = sooner (sooner (next, idle_end), slot->expires_at);
    }
  return next;
}

gboolean
pge_lifecycle_is_renewing_locked (PgeSlot *slot)
{
  return slot->renewing;
}

gboolean
pge_lifecycle_give_up_locked (PgePool *pool, gboolean any_up)
{
  gint64 now;

  if (any_up)
    {
      pool->unreachable_since = 0;
      return FALSE;
    }
  now = g_get_monotonic_time ();
  if (pool->unreachable_since == 0)
    pool->unreachable_since = now;
  if (pool->gave_up || pool->closing || pool->reconnect_timeout_us == 0 ||
      now - pool->unreachable_since < pool->reconnect_timeout_us)
    return FALSE;
  pool->gave_up = TRUE;
  return TRUE;
}

gboolean
pge_lifecycle_back_locked (PgePool *pool)
{
  gboolean was_given_up = pool->gave_up;

  pool->unreachable_since = 0;
  pool->gave_up = FALSE;
  return was_given_up;
}

PgeRenew
pge_lifecycle_renew (PgeSlot *slot)
{
  PgePool *pool = slot->pool;
  PgeRenew renew;

  g_mutex_lock (&pool->queue_lock);
  renew = slot->renew;
  slot->renew = PGE_RENEW_NONE;
  slot->renewing = renew != PGE_RENEW_NONE;
  /* Closed for the pool's counts from now on, in the same step that
   * takes the order: a janitor scan while the worker disconnects must not
   * count it open and close another below min_workers. */
  if (renew == PGE_RENEW_CLOSE)
    {
      slot->closed_idle = TRUE;
      slot->connected = FALSE;
    }
  g_mutex_unlock (&pool->queue_lock);

  if (renew == PGE_RENEW_CLOSE)
    {
      g_debug ("%s: idle too long; closing it until it is needed",
               pge_connection_get_label (slot->conn));
      pge_connection_disconnect (slot->conn);
    }
  else if (renew == PGE_RENEW_REPLACE)
    g_debug ("%s: past its lifetime or recycled; replacing it",
             pge_connection_get_label (slot->conn));
  return renew;
}

void
pge_lifecycle_recycle (PgePool *pool)
{
  g_mutex_lock (&pool->queue_lock);
  pool->recycle_epoch++;
  /* Idle ones at once; the others when they are free again. */
  if (!pool->closing)
    pge_lifecycle_scan_locked (pool, g_get_monotonic_time ());
  g_mutex_unlock (&pool->queue_lock);
}
