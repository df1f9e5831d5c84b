/* notify.c — LISTEN/NOTIFY at the engine level.
 *
 * pge_engine_listen() checks the channel name and hands the listener to
 * the engine's notifier (notifier.c: its own connection and thread, made
 * at the first listen, shut down at close); pge_engine_notify_sync() is a
 * plain `SELECT pg_notify($1, $2)` through the usual routing, so inside a
 * transaction it is sent at commit, as NOTIFY is.
 *
 * Threads: no state of its own; every function may be called from any
 * thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "engine-private.h"
#include "identifier-private.h"   /* PGE_NAME_MAX */
#include "notifier-private.h"

static gboolean
channel_check (const char *channel, GError **error)
{
  const char *why = NULL;

  if (channel == NULL)
    why = "the channel name is NULL";
  else if (*channel == '\0')
    why = "the channel name is empty";
  /* A longer name would be truncated by the server, and two long names
   * could become one channel. */
  else if (strlen (channel) > PGE_NAME_MAX)
    why = "the channel name is longer than 63 bytes";
  else if (!g_utf8_validate (channel, -1, NULL))
    why = "the channel name is not valid UTF-8";
  if (why == NULL)
    return TRUE;
  g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, why);
  return FALSE;
}

/**
 * pge_engine_listen:
 * @engine: a #PgeEngine
 * @channel: the channel: any name of 1 to 63 bytes; it is sent as a
 *   quoted identifier, so `"Orders"` and `"orders"` are two channels and
 *   no text of it is ever taken for SQL
 * @context: (nullable): where @callback runs; %NULL for the calling
 *   thread's thread-default main context
 * @callback: (scope notified) (closure user_data) (destroy destroy):
 *   called for each notification on @channel, in the server's order
 * @user_data: data for @callback
 * @destroy: (nullable): frees @user_data once the listener is gone
 *   (after pge_engine_unlisten(), a failed listen, or engine close), on
 *   whichever thread drops the listener last
 * @error: return location for a #GError
 *
 * Listens on @channel. The engine serves every listener with one
 * connection of its own, not a worker, made at the first listen. When
 * that connection is lost the engine reconnects (with backoff), listens
 * again and then calls @callback once with @missed set: notifications
 * sent in between are lost, the server keeps none; refresh what depends
 * on them.
 *
 * Blocks until `LISTEN` is in effect on the server (at most the acquire
 * timeout), so a notification sent after this returns is delivered.
 * Thread-safe; never call it from a %NULL-context future callback.
 *
 * Returns: the listener's id (never 0), for pge_engine_unlisten(); 0
 *   with @error set: %PGE_ERROR_INVALID_ARGUMENT for a %NULL, empty, too
 *   long or non-UTF-8 @channel or a %NULL @callback, %PGE_ERROR_CLOSED,
 *   %PGE_ERROR_CONNECTION when the server cannot be reached,
 *   %PGE_ERROR_TIMEOUT. On error @destroy has been called.
 *
 * Since: 1.0
 */
guint
pge_engine_listen (PgeEngine     *engine,
                   const char    *channel,
                   GMainContext  *context,
                   PgeNotifyFunc  callback,
                   gpointer       user_data,
                   GDestroyNotify destroy,
                   GError       **error)
{
  g_autoptr(PgeNotifier) notifier = NULL;
  GError *local = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (callback == NULL)
    g_set_error_literal (&local, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the callback is NULL");
  else if (channel_check (channel, &local))
    notifier = pge_engine_dup_notifier (engine, &local);
  if (notifier == NULL)
    {
      if (destroy != NULL)
        destroy (user_data);
      g_propagate_error (error, local);
      return 0;
    }
  return pge_notifier_add (notifier, channel, context, callback, user_data, destroy, error);
}

static void
listen_signal_emit (const char *channel, const char *payload, gint sender_pid, gboolean missed,
                    gpointer data)
{
  g_autoptr(PgeEngine) engine = g_weak_ref_get (data);

  if (engine != NULL)
    pge_engine_emit_notification (engine, channel, payload, sender_pid, missed);
}

static void
listen_signal_free (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

/**
 * pge_engine_listen_signal:
 * @engine: a #PgeEngine
 * @channel: the channel, as for pge_engine_listen(): any name of 1 to 63
 *   bytes of UTF-8, quoted as an identifier
 * @error: return location for a #GError
 *
 * Listens on @channel like pge_engine_listen(), delivering each
 * notification as the #PgeEngine::notification signal (detailed by the
 * channel) in the engine's main context — the thread-default
 * #GMainContext of the thread that created @engine. The listener holds
 * no reference on @engine. Blocks until `LISTEN` is in effect, like
 * pge_engine_listen(). Thread-safe.
 *
 * Returns: the listener id for pge_engine_unlisten(), or 0 with @error
 *   set (as for pge_engine_listen())
 *
 * Since: 1.0
 */
guint
pge_engine_listen_signal (PgeEngine *engine, const char *channel, GError **error)
{
  GWeakRef *ref;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);
  ref = g_new0 (GWeakRef, 1);
  g_weak_ref_init (ref, engine);
  return pge_engine_listen (engine, channel, pge_engine_get_main_context (engine), listen_signal_emit,
                            ref, listen_signal_free, error);
}

/**
 * pge_engine_unlisten:
 * @engine: a #PgeEngine
 * @listener_id: an id from pge_engine_listen()
 * @error: return location for a #GError
 *
 * Stops a listener: no call of its callback starts after this returns
 * (one running on another thread may finish). The channel is unlistened
 * on the server once no listener is left on it. Never blocks for long;
 * thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %PGE_ERROR_INVALID_ARGUMENT for an id
 *   that is not a listener of @engine (already stopped, or never one)
 *
 * Since: 1.0
 */
gboolean
pge_engine_unlisten (PgeEngine *engine, guint listener_id, GError **error)
{
  g_autoptr(PgeNotifier) notifier = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  notifier = pge_engine_dup_notifier (engine, NULL);
  if (notifier != NULL && listener_id != 0 && pge_notifier_remove (notifier, listener_id))
    return TRUE;
  g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
               "%u is not a listener of this engine", listener_id);
  return FALSE;
}

/**
 * pge_engine_notify_sync:
 * @engine: a #PgeEngine
 * @channel: the channel, as given to pge_engine_listen()
 * @payload: (nullable): the payload (%NULL for none), shorter than 8000
 *   bytes (the server's limit)
 * @error: return location for a #GError
 *
 * Sends a notification with `pg_notify()`: channel and payload are
 * parameters, never SQL text. Routed like pge_engine_query_sync(): inside
 * the calling thread's transaction it is delivered when that commits.
 * Blocks; thread-safe, but refused like pge_engine_query_sync()
 * (%PGE_ERROR_WOULD_DEADLOCK) on one of @engine's own threads.
 *
 * Returns: %TRUE once sent; %FALSE with %PGE_ERROR_INVALID_ARGUMENT for a
 *   bad @channel, or an error as from pge_engine_query_sync()
 *
 * Since: 1.0
 */
gboolean
pge_engine_notify_sync (PgeEngine *engine, const char *channel, const char *payload, GError **error)
{
  g_autoptr(PgeParams) params = NULL;
  g_autoptr(PgeResult) result = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!channel_check (channel, error))
    return FALSE;
  params = pge_params_new ();
  pge_params_add_text (params, channel);
  pge_params_add_text (params, payload != NULL ? payload : "");
  result = pge_engine_query_sync (engine, "SELECT pg_notify($1, $2)", params, error);
  return result != NULL;
}
