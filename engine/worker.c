/* worker.c — the worker thread of a slot: the loop and nothing else.
 *
 * Each slot of a pool has one worker thread. It connects once and
 * reports the outcome (engine start waits for every first attempt), then
 * loops: ask the pool for something to do (pge_pool_next() blocks while
 * there is nothing, or while a blocking caller holds the slot), run it
 * through dispatch.c, reconnect with jittered backoff when the
 * connection is broken (not taking jobs meanwhile, so queued jobs wait
 * out the acquire timeout; while jobs wait and no connection of the node
 * is up, attempts come every BACKOFF_WAITING_MS), renew a connection past
 * its lifetime or idle limit (lifecycle.c) between jobs, and exit when
 * the pool closes. Which thread
 * owns what is written at the top of pool.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "dispatch-private.h"
#include "scheduler-private.h"
#include "lifecycle-private.h"
#include "worker-private.h"

#define BACKOFF_MIN_MS 50
/* The pause between attempts while jobs wait and no connection of the
 * node is up: writes resume within tens of ms of the server taking
 * connections (a failover, a restart), however long it was away. A
 * refused connect costs little. */
#define BACKOFF_WAITING_MS 30

/* Retries until connected (TRUE) or the pool closes (FALSE). The backoff
 * is short while the node is starved (jobs wait, no connection is up),
 * and pge_pool_sleep() cuts a long one short when it becomes so. */
static gboolean
worker_reconnect (PgeSlot *slot)
{
  guint backoff_ms = BACKOFF_MIN_MS;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      guint pause_ms;
      gint64 until;

      if (pge_dispatch_connect (slot, &error))
        return TRUE;
      pause_ms = pge_pool_is_starved (slot->pool) ? BACKOFF_WAITING_MS : backoff_ms;
      g_debug ("%s: %s; retrying in %u ms", pge_connection_get_label (slot->conn),
               error->message, pause_ms);
      /* Jitter, so that workers do not hammer a recovering server in step. */
      until = g_get_monotonic_time () +
              (gint64) (pause_ms + g_random_int_range (0, pause_ms / 2 + 1)) * 1000;
      if (!pge_pool_sleep (slot, until))
        return FALSE;
      backoff_ms = MIN (backoff_ms * 2, slot->pool->reconnect_max_ms);
    }
}

/* A good connection due for renewal (lifecycle.c): TRUE once renewed;
 * FALSE for a broken one, or a replacement that failed. */
static gboolean
worker_renew (PgeSlot *slot)
{
  g_autoptr(GError) error = NULL;

  switch (pge_lifecycle_renew (slot))
    {
    case PGE_RENEW_CLOSE:
      return TRUE;
    case PGE_RENEW_REPLACE:
      if (pge_dispatch_connect (slot, &error))
        return TRUE;
      g_debug ("%s: %s", pge_connection_get_label (slot->conn), error->message);
      return FALSE;
    case PGE_RENEW_NONE:
    default:
      return FALSE;
    }
}

static gpointer
worker_main (gpointer data)
{
  PgeSlot *slot = data;
  GError *error = NULL;
  gboolean running = TRUE;

  pge_pool_enter_thread (slot);
  /* Above min_workers: opened when work needs it (lifecycle.c). */
  if (!pge_lifecycle_start_closed (slot))
    pge_dispatch_connect (slot, &error);
  pge_pool_report_start (slot, error);
  g_clear_error (&error);

  while (running)
    {
      PgeJob *jobs[PGE_PIPELINE_MAX] = { NULL };
      guint n_jobs = 0;

      switch (pge_pool_next (slot, jobs, &n_jobs))
        {
        case PGE_NEXT_RUN:
          pge_dispatch_run_jobs (slot, jobs, n_jobs);
          break;
        case PGE_NEXT_UNPIN:
          pge_dispatch_unpin (slot);
          break;
        case PGE_NEXT_RESUME:
          pge_dispatch_resume (slot);
          break;
        case PGE_NEXT_RECONNECT:
          /* A good connection due for renewal (lifecycle.c), else a
           * broken one. */
          running = worker_renew (slot) || worker_reconnect (slot);
          break;
        case PGE_NEXT_EXIT:
        default:
          running = FALSE;
          break;
        }
    }

  pge_connection_disconnect (slot->conn);
  pge_pool_enter_thread (NULL);
  pge_pool_slot_exited (slot);
  return NULL;
}

gboolean
pge_worker_start (PgeSlot *slot, GError **error)
{
  g_autofree char *name = g_strdup_printf ("pge-%s", pge_connection_get_label (slot->conn));
  g_autoptr(GError) local = NULL;
  GError *failed;

  slot->thread = g_thread_try_new (name, worker_main, slot, &local);
  if (slot->thread != NULL)
    return TRUE;
  failed = g_error_new (PGE_ERROR, PGE_ERROR_FAILED, "cannot start a worker thread: %s", local->message);
  pge_pool_report_start (slot, failed);
  pge_pool_slot_exited (slot);
  g_propagate_error (error, failed);
  return FALSE;
}
