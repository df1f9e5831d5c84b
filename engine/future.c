/* future.c — PgeFuture, the handle a caller holds on a submitted job.
 *
 * Threads: every field is guarded by the future's `lock`; `done_cond` is
 * broadcast once, when the future resolves. A future resolves exactly once
 * (pge_future_resolve() returns FALSE to the loser of a race, e.g. a
 * cancel against a worker finishing), and callbacks never run under the
 * lock, so a callback may submit more work or drop the last reference.
 *
 * Hooks: whoever queues the work behind a future (dispatch.c) installs
 * three hooks with a reference on what they act on, the way GIO operations
 * hook a GCancellable: `cancel` for pge_future_cancel(); `may_wait`, which
 * pge_future_wait() asks first and which refuses (PGE_ERROR_WOULD_DEADLOCK)
 * a wait on one of the engine's own threads; and `run_here`, which it
 * calls next so that a thread about to block can run a job no worker has
 * started on a free connection itself. The future
 * knows nothing of jobs or pools. Resolution drops the hooks' data, which
 * breaks the cycle future -> job -> future.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sched.h>

#include "alloc-private.h"
#include "errors-private.h"
#include "future-private.h"
#include "spin-private.h"

typedef struct {
  PgeFuture        *future;      /* owned */
  GMainContext     *context;     /* owned, nullable */
  PgeFutureCallback callback;
  gpointer          user_data;
  GDestroyNotify    notify;
} Callback;

struct _PgeFuture {
  GMutex     lock;
  GCond      done_cond;
  guint      n_waiters;  /* threads blocked on done_cond */
  gboolean   done;
  PgeResult *result;     /* owned, nullable */
  GError    *error;      /* owned, nullable */
  GSList    *callbacks;  /* of Callback*, waiting for resolution */
  const PgeFutureHooks *hooks;  /* nullable; static */
  gpointer   hook_data;  /* owned (hooks->unref) until resolved */
};

/**
 * PgeFuture:
 *
 * The handle on a submitted job.
 *
 * Wait for it with pge_future_wait() (run_sync), poll it with
 * pge_future_is_done(), cancel it, or get called back with
 * pge_future_on_done(). Thread-safe.
 *
 * Since: 1.0
 */
/**
 * pge_future_get_type:
 *
 * Returns: the boxed #GType of #PgeFuture
 *
 * Since: 1.0
 */
G_DEFINE_BOXED_TYPE (PgeFuture, pge_future, pge_future_ref, pge_future_unref)

PgeFuture *
pge_future_new (void)
{
  PgeFuture *future = PGE_RC_BOX_NEW0 (PgeFuture);

  g_mutex_init (&future->lock);
  g_cond_init (&future->done_cond);
  return future;
}

/* A future that is already done, for errors found before anything runs
 * (bad input, a closed engine): the caller sees them the same way. */
PgeFuture *
pge_future_new_error (GError *error)
{
  PgeFuture *future = pge_future_new ();

  pge_future_resolve (future, NULL, error);
  return future;
}

PgeFuture *
pge_future_new_invalid (const char *message)
{
  return pge_future_new_error (g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, message));
}

/**
 * pge_future_ref:
 * @future: a #PgeFuture
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @future
 *
 * Since: 1.0
 */
PgeFuture *
pge_future_ref (PgeFuture *future)
{
  g_return_val_if_fail (future != NULL, NULL);
  return g_atomic_rc_box_acquire (future);
}

static void
pge_future_free (PgeFuture *future)
{
  g_clear_pointer (&future->result, pge_result_unref);
  g_clear_error (&future->error);
  if (future->hook_data != NULL)
    future->hooks->unref (future->hook_data);
  g_mutex_clear (&future->lock);
  g_cond_clear (&future->done_cond);
}

/**
 * pge_future_unref:
 * @future: (transfer full): a #PgeFuture
 *
 * Drops a reference. Dropping the last one does not cancel the job: it
 * still runs, and its result is discarded. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_future_unref (PgeFuture *future)
{
  g_return_if_fail (future != NULL);
  g_atomic_rc_box_release_full (future, (GDestroyNotify) pge_future_free);
}

static void
callback_free (Callback *cb)
{
  if (cb->notify != NULL)
    cb->notify (cb->user_data);
  g_clear_pointer (&cb->context, g_main_context_unref);
  pge_future_unref (cb->future);
  g_free (cb);
}

static gboolean
callback_dispatch (gpointer data)
{
  Callback *cb = data;

  cb->callback (cb->future, cb->user_data);
  return G_SOURCE_REMOVE;
}

/* Runs @cb where it asked to run, then frees it. */
static void
callback_fire (Callback *cb)
{
  GMainContext *context;
  GSource *source;

  if (cb->context == NULL)
    {
      callback_dispatch (cb);
      callback_free (cb);
      return;
    }
  /* Always through a source, never g_main_context_invoke(): that would run
   * the callback inside pge_future_on_done() when the caller owns the
   * context, which the contract forbids. */
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[pgengine] future callback");
  g_source_set_callback (source, callback_dispatch, cb, (GDestroyNotify) callback_free);
  /* The attached source is all that keeps the context: were @cb to keep a
   * reference, a context its owner drops before iterating would never be
   * freed, and @notify would never run. Taken out of @cb before attaching:
   * once attached, another thread may dispatch and free @cb. */
  context = g_steal_pointer (&cb->context);
  g_source_attach (source, context);
  g_source_unref (source);
  g_main_context_unref (context);
}

/* Takes ownership of @result and @error. Returns FALSE, freeing both, when
 * the future was already resolved. May be called from any thread; runs the
 * NULL-context callbacks on it. */
gboolean
pge_future_resolve (PgeFuture *future, PgeResult *result, GError *error)
{
  GSList *callbacks;
  gpointer hook_data;
  gboolean has_waiters;

  g_mutex_lock (&future->lock);
  if (future->done)
    {
      g_mutex_unlock (&future->lock);
      g_clear_pointer (&result, pge_result_unref);
      g_clear_error (&error);
      return FALSE;
    }
  future->result = result;
  future->error = error;
  /* Atomic: a waiter about to sleep spins on it without the lock. */
  g_atomic_int_set (&future->done, TRUE);
  callbacks = g_steal_pointer (&future->callbacks);
  hook_data = g_steal_pointer (&future->hook_data);
  has_waiters = future->n_waiters > 0;
  g_mutex_unlock (&future->lock);
  /* GLib's broadcast is a futex syscall even with nobody waiting; most
   * futures are waited for after they are done. After the unlock, so
   * that a woken waiter does not run straight into the lock still held
   * here (a second futex sleep and wake per wait); the caller's
   * reference keeps the future alive. */
  if (has_waiters)
    g_cond_broadcast (&future->done_cond);

  callbacks = g_slist_reverse (callbacks);
  for (GSList *l = callbacks; l != NULL; l = l->next)
    callback_fire (l->data);
  g_slist_free (callbacks);
  if (hook_data != NULL)
    future->hooks->unref (hook_data);
  return TRUE;
}

/* Installs @hooks with @data (a reference the future takes over); they
 * are dropped when the future resolves, at once if it already has. */
void
pge_future_set_hooks (PgeFuture *future, const PgeFutureHooks *hooks, gpointer data)
{
  gpointer old = NULL;
  const PgeFutureHooks *old_hooks;

  g_mutex_lock (&future->lock);
  old_hooks = future->hooks;
  if (!future->done)
    {
      old = g_steal_pointer (&future->hook_data);
      future->hooks = hooks;
      future->hook_data = g_steal_pointer (&data);
    }
  g_mutex_unlock (&future->lock);
  if (old != NULL)
    old_hooks->unref (old);
  if (data != NULL)
    hooks->unref (data);
}

/* A new reference to the hooks' data, or NULL once resolved. */
static gpointer
future_dup_hook_data (PgeFuture *future, const PgeFutureHooks **hooks)
{
  gpointer data = NULL;

  g_mutex_lock (&future->lock);
  if (!future->done && future->hook_data != NULL)
    {
      *hooks = future->hooks;
      data = future->hooks->ref (future->hook_data);
    }
  g_mutex_unlock (&future->lock);
  return data;
}

/* The job's answer is wanted where no waiting thread will run it (a
 * callback, a timed wait): the job must not wait for one (dispatch.c's
 * deferral). */
static void
future_hand_over (PgeFuture *future)
{
  const PgeFutureHooks *hooks = NULL;
  gpointer data = future_dup_hook_data (future, &hooks);

  if (data != NULL)
    {
      hooks->hand_over (data);
      hooks->unref (data);
    }
}

/* How long a thread about to sleep on a future first watches it: a
 * result that is due within a few microseconds (the next of a pipeline
 * being read) then costs no futex sleep and wake-up, no two context
 * switches. Short, because on a small machine the spinning core is one
 * the server may need. */
#define WAIT_SPIN_US 20

/* Whether spinning paid off lately on this thread: each spin that saw
 * the future resolve earns credit, each that had to sleep anyway costs
 * more; a thread whose waits are long (a blocking caller queued behind
 * many others) soon stops spinning and only tries again now and then.
 * Thread-local, like glibc's adaptive mutexes keep their spin count. */
#define SPIN_CREDIT_MAX 8
static __thread gint spin_credit = SPIN_CREDIT_MAX;

/* @yield: between spins, give the CPU to any thread that wants it (see
 * pge_future_wait_queued()). */
static void
spin_until_done (PgeFuture *future, gboolean yield)
{
  gint64 end = 0;

  if (spin_credit <= 0)
    {
      spin_credit++;  /* skip this one, and try again after a few */
      return;
    }
  for (guint i = 1; !g_atomic_int_get (&future->done); i++)
    {
      pge_cpu_relax ();
      if (i % 64 != 0)
        continue;
      if (yield)
        sched_yield ();
      if (end == 0)
        end = g_get_monotonic_time () + WAIT_SPIN_US;
      else if (g_get_monotonic_time () >= end)
        {
          spin_credit -= 4;
          if (spin_credit <= 0)
            spin_credit = -32;
          return;
        }
    }
  spin_credit = MIN (spin_credit + 1, SPIN_CREDIT_MAX);
}

static PgeResult *
future_wait (PgeFuture *future, gboolean yield, GError **error)
{
  PgeResult *result = NULL;
  const PgeFutureHooks *hooks = NULL;
  gpointer data;

  g_mutex_lock (&future->lock);
  if (!future->done && future->hook_data != NULL)
    {
      gboolean may_wait;

      hooks = future->hooks;
      data = hooks->ref (future->hook_data);
      g_mutex_unlock (&future->lock);
      /* This thread is about to sleep anyway: rather than wake a worker
       * and be woken by it, run a job nobody has started on a free
       * connection — unless it is a thread the job may need. */
      may_wait = hooks->may_wait (data, error);
      if (may_wait)
        hooks->run_here (data);
      hooks->unref (data);
      if (!may_wait)
        return NULL;
      g_mutex_lock (&future->lock);
    }
  if (!future->done)
    {
      g_mutex_unlock (&future->lock);
      spin_until_done (future, yield);
      g_mutex_lock (&future->lock);
    }
  future->n_waiters++;
  while (!future->done)
    g_cond_wait (&future->done_cond, &future->lock);
  future->n_waiters--;
  if (future->error != NULL)
    g_propagate_error (error, g_error_copy (future->error));
  else if (future->result != NULL)
    result = pge_result_ref (future->result);
  g_mutex_unlock (&future->lock);
  return result;
}

/**
 * pge_future_wait:
 * @future: a #PgeFuture
 * @error: return location for a #GError
 *
 * Blocks the calling thread until @future is done: Piccolo's run_sync. May
 * be called again, from any thread; each call returns a new reference (or
 * a copy of the error). On one of the engine's own threads (in a
 * %NULL-context pge_future_on_done() callback), waiting for a job that is
 * not done yet fails at once with %PGE_ERROR_WOULD_DEADLOCK: the job
 * may need that very thread. A job nobody has started yet may run on the
 * calling thread, together with the plain queries this thread submitted
 * before (see pge_engine_query()): the thread that waits reads the
 * answers itself.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error
 *   set; %NULL and no error for a job that has no result (an exhausted
 *   batch step, a worker function that returned %NULL)
 *
 * Since: 1.0
 */
PgeResult *
pge_future_wait (PgeFuture *future, GError **error)
{
  g_return_val_if_fail (future != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return future_wait (future, FALSE, error);
}

/* pge_future_wait() for a blocking caller whose own job was queued: it has
 * nothing else to do, and on a machine where more threads want to run
 * than there are cores, the thread that will answer it (a worker, a local
 * server's backend) may be one of them. So its spin yields the CPU between
 * looks: when it runs again the answer is often in, which saves a futex
 * sleep here and a wake-up by the worker (16 blocking threads on the 4
 * workers of a 2-core machine: 67-71k against 43-51k q/s, 0.2-0.7 against
 * 1.2 voluntary context switches per query). Not for futures in general:
 * a thread that keeps many in flight does more, and better batched, work
 * when woken once for several (measured: 79k against 92k q/s). Where no
 * other thread wants the CPU, sched_yield() returns at once. */
PgeResult *
pge_future_wait_queued (PgeFuture *future, GError **error)
{
  return future_wait (future, TRUE, error);
}

/**
 * pge_future_wait_timeout:
 * @future: a #PgeFuture
 * @timeout_ms: how long to wait at most, in milliseconds; 0 only checks
 *
 * Blocks up to @timeout_ms for @future to be done. The job goes on if the
 * wait times out. Thread-safe.
 *
 * Returns: %TRUE if @future is done
 *
 * Since: 1.0
 */
gboolean
pge_future_wait_timeout (PgeFuture *future, guint timeout_ms)
{
  gint64 end;
  gboolean done;

  g_return_val_if_fail (future != NULL, FALSE);
  end = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  future_hand_over (future);
  g_mutex_lock (&future->lock);
  future->n_waiters++;
  while (!future->done)
    if (!g_cond_wait_until (&future->done_cond, &future->lock, end))
      break;
  future->n_waiters--;
  done = future->done;
  g_mutex_unlock (&future->lock);
  return done;
}

/**
 * pge_future_is_done:
 * @future: a #PgeFuture
 *
 * Never blocks; thread-safe.
 *
 * Returns: %TRUE once @future has a result or an error
 *
 * Since: 1.0
 */
gboolean
pge_future_is_done (PgeFuture *future)
{
  gboolean done;

  g_return_val_if_fail (future != NULL, FALSE);
  g_mutex_lock (&future->lock);
  done = future->done;
  g_mutex_unlock (&future->lock);
  return done;
}

/**
 * pge_future_cancel:
 * @future: a #PgeFuture
 *
 * Cancels the job behind @future. Queued: it is removed and never runs.
 * Running: the server is asked to cancel it through libpq's cancel API
 * (a round trip to the server, so this may block for about a millisecond).
 * Either way @future resolves with %PGE_ERROR_CANCELLED and the worker's
 * connection stays usable. A job that completes before the server acts on
 * the request keeps its result. Done: nothing happens. Inside a
 * transaction, a cancelled statement aborts the transaction, as in psql.
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_future_cancel (PgeFuture *future)
{
  const PgeFutureHooks *hooks = NULL;
  gpointer data;

  g_return_if_fail (future != NULL);
  if (pge_future_is_done (future))
    return;
  data = future_dup_hook_data (future, &hooks);
  if (data != NULL)
    {
      hooks->cancel (data);
      hooks->unref (data);
    }
  else
    pge_future_resolve (future, NULL,
                        g_error_new_literal (PGE_ERROR, PGE_ERROR_CANCELLED, "cancelled"));
}

/**
 * pge_future_on_done:
 * @future: a #PgeFuture
 * @context: (nullable): where to call @callback, or %NULL
 * @callback: (scope notified) (closure user_data): called once @future is done
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data after the call (or when the
 *   context is destroyed before it could run)
 *
 * Calls @callback once @future is done. With a @context, always from that
 * context's main loop, even when @future is already done: never inside this
 * call. With %NULL, on the thread that completes the job (usually a worker
 * thread, or a blocking caller that ran the job itself: keep it short; on
 * one of the engine's own threads its blocking calls fail with
 * %PGE_ERROR_WOULD_DEADLOCK), or right away in the caller if @future is
 * already done. Thread-safe; several callbacks
 * run in the order they were added.
 *
 * Since: 1.0
 */
void
pge_future_on_done (PgeFuture        *future,
                    GMainContext     *context,
                    PgeFutureCallback callback,
                    gpointer          user_data,
                    GDestroyNotify    notify)
{
  Callback *cb;
  gboolean done;

  g_return_if_fail (future != NULL);
  g_return_if_fail (callback != NULL);
  cb = g_new0 (Callback, 1);
  cb->future = pge_future_ref (future);
  cb->context = context ? g_main_context_ref (context) : NULL;
  cb->callback = callback;
  cb->user_data = user_data;
  cb->notify = notify;

  g_mutex_lock (&future->lock);
  done = future->done;
  if (!done)
    future->callbacks = g_slist_prepend (future->callbacks, cb);
  g_mutex_unlock (&future->lock);
  if (done)
    callback_fire (cb);
  else
    future_hand_over (future);
}
