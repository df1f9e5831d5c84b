/* async.c — what the GIO-style `_async` / `_finish` pairs share.
 *
 * Each pair lives beside its blocking twin (engine.c, submit.c,
 * transaction.c, batch.c, atomic.c); this file holds the pieces they
 * share. Every pair is a GTask with no source object (the pgengine types are
 * boxed, not GObjects); the task captures the thread-default GMainContext
 * of the `_async` caller and its callback always runs there. Two shapes:
 *
 * - Work that is one job (a query, a batch step, an atomic run) follows its
 *   PgeFuture. The GCancellable is connected to pge_future_cancel(): a
 *   queued job is removed and never runs, a running one gets libpq's
 *   cancel request. The future's completion reaches the task through
 *   pge_future_on_done() in the task's context, where the task returns.
 *
 * - Work that is a blocking call of several round trips (connect, begin,
 *   commit, rollback, declare a cursor) runs in GTask's thread pool
 *   (g_task_run_in_thread()), so the main loop never waits on the network.
 *   Cancelling before it starts means it never runs. Once it runs it is
 *   finished, and its outcome reported, except where the result would be a
 *   new object the caller did not get to see (an engine, a transaction, a
 *   batch): those are released on the pool thread — not in the main loop,
 *   since releasing them blocks — and the task reports the cancellation.
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

/* ------------------------------------------------------ following futures */

typedef enum {
  FOLLOW_RESULT,    /* the task returns the PgeResult (or NULL) */
  FOLLOW_BOOLEAN    /* the task returns TRUE, or the error */
} FollowKind;

typedef struct {
  GTask     *task;        /* owned */
  FollowKind kind;
  gulong     cancel_id;
} Follow;

static void
follow_done (PgeFuture *future, gpointer user_data)
{
  Follow *follow = user_data;
  GCancellable *cancellable = g_task_get_cancellable (follow->task);
  GError *error = NULL;
  PgeResult *result = pge_future_wait (future, &error); /* done: never blocks */

  /* Safe here, in the task's context: see the top of the file. */
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, follow->cancel_id);
  if (error != NULL)
    g_task_return_error (follow->task, pge_async_translate_cancel (error, cancellable));
  else if (follow->kind == FOLLOW_BOOLEAN)
    {
      g_clear_pointer (&result, pge_result_unref);
      g_task_return_boolean (follow->task, TRUE);
    }
  else
    g_task_return_pointer (follow->task, result, (GDestroyNotify) pge_result_unref);
  g_object_unref (follow->task);
  g_free (follow);
}

static void
follow_cancelled (GCancellable *cancellable, gpointer user_data)
{
  pge_future_cancel (user_data);
}

static void
follow_future (GTask *task, PgeFuture *future, FollowKind kind)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  Follow *follow = g_new0 (Follow, 1);

  follow->task = task;
  follow->kind = kind;
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
pge_async_task_new (gpointer            source_tag,
                    const char         *name,
                    GCancellable       *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer            user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

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
  follow_future (task, future, FOLLOW_RESULT);
}

void
pge_async_follow_boolean (GTask *task, PgeFuture *future)
{
  follow_future (task, future, FOLLOW_BOOLEAN);
}

gboolean
pge_async_task_check (GAsyncResult *result, gpointer source_tag)
{
  return g_task_is_valid (result, NULL) && g_task_get_source_tag (G_TASK (result)) == source_tag;
}
