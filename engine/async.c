/* async.c — what the GIO-style `_async` / `_finish` pairs share.
 *
 * Each pair lives beside its blocking twin (engine.c, submit.c,
 * transaction.c, session.c, batch.c, atomic.c); this file holds the pieces they
 * share. Every pair is a GTask whose source object is the engine (so a
 * binding's callback gets it); the task captures the thread-default
 * GMainContext of the `_async` caller and its callback always runs there.
 *
 * No `_async` call ever uses a thread of its own, nor one of GIO's pool:
 * every one is a chain of the engine's own jobs. Each step queues a job
 * (non-blocking), and pge_async_then() runs the next step in the task's
 * context when the job's PgeFuture is done. The calls that need a
 * connection of their own (a transaction, a session, a batch) all start
 * with pge_async_pin_then(): the PIN job (a queued lease request that
 * waits its turn like any job), and the shared prologue of its step (a
 * failed or cancelled pin returns the error). A transaction is a PIN job,
 * then BEGIN on the lease, then the task returns; a commit is its COMMIT job; an engine
 * waits for each node's "started" future (resolved by the worker threads
 * once their first connection attempt is over). While a step waits, the
 * GCancellable is connected to pge_future_cancel() of that step's future:
 * a queued job is removed and never runs, a running one gets libpq's
 * cancel request. What a cancelled chain already made (a pinned worker,
 * an open BEGIN) is let go without blocking: the lease is released and
 * the worker rolls back and returns to the pool on its own thread.
 *
 * Why a future's completion hops into the task's context before touching
 * the GCancellable: cancelling a queued job resolves its future on the
 * spot, that is inside the GCancellable's "cancelled" handler, and
 * g_cancellable_disconnect() called from there waits for that same handler
 * to return: a self-deadlock. In the context, the handler has returned.
 *
 * Errors: what the work did decides, not whether the GCancellable was
 * cancelled (the GTasks do not check it when propagating): a job stopped by
 * the cancellation gives G_IO_ERROR_CANCELLED, as everywhere in GIO, but a
 * statement that completed before the cancel took effect reports its
 * result — an INSERT that committed is never called cancelled. Everything
 * else is a PGE_ERROR.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "async-private.h"
#include "dispatch-private.h"

/* ------------------------------------------------------ following futures */

typedef struct {
  GTask         *task;        /* owned */
  PgeAsyncStep   step;        /* one of step and pinned */
  PgeAsyncPinned pinned;
  gulong         cancel_id;
} Follow;

/* The prologue every "lease pinned" step shares: a failed or cancelled
 * pin returns the task's error, else the next step runs. The lease is the
 * caller's: its task data lets it go if no step takes it. */
static void
follow_pinned (Follow *follow, PgeResult *result, GError *error)
{
  GTask *task = follow->task;

  g_clear_pointer (&result, pge_result_unref);
  if (error != NULL)
    g_task_return_error (task, pge_async_translate_cancel (error, g_task_get_cancellable (task)));
  else if (!g_task_return_error_if_cancelled (task))
    follow->pinned (task);
}

static void
follow_done (PgeFuture *future, gpointer user_data)
{
  Follow *follow = user_data;
  GCancellable *cancellable = follow->cancel_id != 0 ? g_task_get_cancellable (follow->task) : NULL;
  GError *error = NULL;
  PgeResult *result = pge_future_wait (future, &error); /* done: never blocks */

  /* Safe here, in the task's context: see the top of the file. */
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, follow->cancel_id);
  if (follow->pinned != NULL)
    follow_pinned (follow, result, error);
  else
    follow->step (follow->task, result, error);
  g_object_unref (follow->task);
  g_free (follow);
}

static void
follow_cancelled (GCancellable *cancellable, gpointer user_data)
{
  pge_future_cancel (user_data);
}

static void
follow_future (GTask *task, PgeFuture *future, PgeAsyncStep step, PgeAsyncPinned pinned, gboolean cancels)
{
  GCancellable *cancellable = cancels ? g_task_get_cancellable (task) : NULL;
  Follow *follow = g_new0 (Follow, 1);

  follow->task = g_object_ref (task);
  follow->step = step;
  follow->pinned = pinned;
  /* Connected before the callback is registered: the task's context may be
   * run by another thread, which could otherwise see follow_done() before
   * cancel_id is set. If the cancellable is already cancelled, the handler
   * runs right here and resolves the future, which is fine. */
  if (cancellable != NULL)
    follow->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (follow_cancelled),
                                               pge_future_ref (future),
                                               (GDestroyNotify) pge_future_unref);
  pge_future_on_done (future, g_task_get_context (task), follow_done, follow, NULL);
}

void
pge_async_then (GTask *task, PgeFuture *future, PgeAsyncStep step)
{
  follow_future (task, future, step, NULL, TRUE);
}

void
pge_async_then_full (GTask *task, PgeFuture *future, PgeAsyncStep step, gboolean cancels)
{
  follow_future (task, future, step, NULL, cancels);
}

void
pge_async_pin_then (GTask *task, PgePool *pool, PgeLease *lease, PgeAsyncPinned pinned)
{
  g_autoptr(PgeJob) pin = pge_lease_new_pin_job (lease);

  pge_dispatch_submit (pool, pin, FALSE);
  follow_future (task, pin->future, NULL, pinned, TRUE);
}

static void
return_result (GTask *task, PgeResult *result, GError *error)
{
  if (error != NULL)
    g_task_return_error (task, pge_async_translate_cancel (error, g_task_get_cancellable (task)));
  else
    g_task_return_pointer (task, result, (GDestroyNotify) pge_result_unref);
}

static void
return_boolean (GTask *task, PgeResult *result, GError *error)
{
  g_clear_pointer (&result, pge_result_unref);
  if (error != NULL)
    g_task_return_error (task, pge_async_translate_cancel (error, g_task_get_cancellable (task)));
  else
    g_task_return_boolean (task, TRUE);
}

/* GIO's code for a job that our GCancellable stopped; any other error,
 * including a cancel made directly with pge_future_cancel(), stays. */
GError *
pge_async_translate_cancel (GError *error, GCancellable *cancellable)
{
  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable) &&
      g_error_matches (error, PGE_ERROR, PGE_ERROR_CANCELLED))
    {
      GError *cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, error->message);

      g_error_free (error);
      return cancelled;
    }
  return error;
}

GTask *
pge_async_task_new (gpointer            source_object,
                    gpointer            source_tag,
                    const char         *name,
                    GCancellable       *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer            user_data)
{
  g_autoptr(GTask) task = g_task_new (source_object, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, name);
  if (g_task_return_error_if_cancelled (task))
    return NULL;
  /* The outcome of the work decides (see the top of the file). */
  g_task_set_check_cancellable (task, FALSE);
  return g_steal_pointer (&task);
}

void
pge_async_follow_result (GTask *task, PgeFuture *future)
{
  pge_async_then (task, future, return_result);
  g_object_unref (task);
}

void
pge_async_follow_boolean (GTask *task, PgeFuture *future)
{
  pge_async_then (task, future, return_boolean);
  g_object_unref (task);
}

gboolean
pge_async_task_check (GAsyncResult *result, gpointer source_object, gpointer source_tag)
{
  return g_task_is_valid (result, source_object) &&
         g_task_get_source_tag (G_TASK (result)) == source_tag;
}
