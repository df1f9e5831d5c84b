/* cancel.c — cancel requests that never make their sender wait.
 *
 * libpq's PQcancel() opens a new connection to the server, sends the
 * request and waits for the server to close it, with no timeout: against
 * a server that is stopped or unreachable it blocks for as long as the
 * server does (seconds, or TCP's minutes). libpq 15, the version Debian 12
 * ships, has no non-blocking cancel API (PQcancelCreate and friends came
 * in 17). So a request is sent from a short-lived thread of the engine's
 * own, detached: pge_future_cancel(), close and the repeat loop of a
 * waiting connection return at once whatever the server does, and no lock
 * is held while a request is in flight. At most one request per
 * connection is in flight: while the server does not answer, more would
 * only pile up threads.
 *
 * A handle wraps the PGcancel of one connection (PQgetCancel() is called
 * once, by the holder, at connect) with a reference count, so a request
 * still in flight when the connection is replaced or the engine closed
 * keeps what it needs.
 *
 * A request still in flight when the holder moves on could reach the
 * server during the next statement and cancel that one instead: before
 * a connection runs anything new, its holder waits for the request to be
 * done (pge_cancel_handle_wait()), a bounded time; a connection whose
 * request is stuck is replaced instead (connection.c).
 *
 * Threads: `cancel` and `label` are immutable; `lock` guards the writes
 * of `in_flight` and `done_cond`; `in_flight` is read atomically, so the
 * common case (nothing in flight) takes no lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "cancel-private.h"

struct _PgeCancelHandle {
  gatomicrefcount ref;
  PGcancel       *cancel;     /* owned */
  char           *label;      /* for debug messages */
  GMutex          lock;
  GCond           done_cond;
  gint            in_flight;  /* written under lock; read atomically */
};

/* For the holder of @conn; NULL if libpq cannot make a handle. */
PgeCancelHandle *
pge_cancel_handle_new (PGconn *conn, const char *label)
{
  PGcancel *cancel = PQgetCancel (conn);
  PgeCancelHandle *handle;

  if (cancel == NULL)
    return NULL;
  handle = g_new0 (PgeCancelHandle, 1);
  g_atomic_ref_count_init (&handle->ref);
  handle->cancel = cancel;
  handle->label = g_strdup (label);
  g_mutex_init (&handle->lock);
  g_cond_init (&handle->done_cond);
  return handle;
}

static PgeCancelHandle *
pge_cancel_handle_ref (PgeCancelHandle *handle)
{
  g_atomic_ref_count_inc (&handle->ref);
  return handle;
}

void
pge_cancel_handle_unref (PgeCancelHandle *handle)
{
  if (!g_atomic_ref_count_dec (&handle->ref))
    return;
  PQfreeCancel (handle->cancel);
  g_mutex_clear (&handle->lock);
  g_cond_clear (&handle->done_cond);
  g_free (handle->label);
  g_free (handle);
}

static gpointer
send_main (gpointer data)
{
  PgeCancelHandle *handle = data;
  char errbuf[256];

  if (!PQcancel (handle->cancel, errbuf, sizeof errbuf))
    g_debug ("%s: cancel request failed: %s", handle->label, errbuf);
  g_mutex_lock (&handle->lock);
  g_atomic_int_set (&handle->in_flight, FALSE);
  g_cond_broadcast (&handle->done_cond);
  g_mutex_unlock (&handle->lock);
  pge_cancel_handle_unref (handle);
  return NULL;
}

/* Any thread: sends a cancel request without waiting for it. FALSE if
 * none went out (one is still in flight, or no thread could be made). */
gboolean
pge_cancel_handle_send (PgeCancelHandle *handle)
{
  GThread *thread;

  g_mutex_lock (&handle->lock);
  if (handle->in_flight)
    {
      g_mutex_unlock (&handle->lock);
      return FALSE;
    }
  g_atomic_int_set (&handle->in_flight, TRUE);
  g_mutex_unlock (&handle->lock);
  thread = g_thread_try_new ("pge-cancel", send_main, pge_cancel_handle_ref (handle), NULL);
  if (thread == NULL)
    {
      g_mutex_lock (&handle->lock);
      g_atomic_int_set (&handle->in_flight, FALSE);
      g_cond_broadcast (&handle->done_cond);
      g_mutex_unlock (&handle->lock);
      pge_cancel_handle_unref (handle);
      return FALSE;
    }
  g_thread_unref (thread);
  return TRUE;
}

/* Whether a request is on its way (pge_cancel_handle_wait() would block). */
gboolean
pge_cancel_handle_in_flight (PgeCancelHandle *handle)
{
  return g_atomic_int_get (&handle->in_flight);
}

/* Blocks until no request is in flight, at most @timeout_us. FALSE if one
 * still is. */
gboolean
pge_cancel_handle_wait (PgeCancelHandle *handle, gint64 timeout_us)
{
  gint64 end;
  gboolean idle;

  if (!g_atomic_int_get (&handle->in_flight))
    return TRUE;
  end = g_get_monotonic_time () + timeout_us;
  g_mutex_lock (&handle->lock);
  while (handle->in_flight && g_cond_wait_until (&handle->done_cond, &handle->lock, end))
    ;
  idle = !handle->in_flight;
  g_mutex_unlock (&handle->lock);
  return idle;
}
