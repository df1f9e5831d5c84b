/* notifier.c — an engine's LISTEN connection and the listeners it serves.
 *
 * Shape: one connection per engine, not a worker: created with the first
 * listener (engine.c), it belongs to a thread of its own that blocks in
 * poll() on the connection's socket and a wake pipe. The thread keeps
 * the server's set of LISTENed channels equal to the listeners' channels
 * (LISTEN / UNLISTEN of quoted identifiers, PQescapeIdentifier), reads
 * notifications as they come and hands each one to every listener of its
 * channel. The listeners on one GMainContext share a mailbox: one queue
 * of notifications and at most one idle source on that context that
 * drains it in order, so the server's order is the order of the
 * callbacks on a context, across channels too (a queue per listener
 * would run one channel's queue, then another's: a0 a2 b1 b3 for
 * a0 b1 a2 b3).
 *
 * Lost connection: the thread reconnects, with a backoff growing from
 * BACKOFF_MIN_MS to BACKOFF_MAX_MS (with jitter), issues every LISTEN
 * again, and then queues a "missed" call for each listener that existed
 * when the loss was seen — before any notification received on the new
 * connection — since the server does not keep what was sent meanwhile.
 *
 * Requests: pge_notifier_add() waits until the thread has applied the
 * channel set that includes its channel, so a NOTIFY sent after it
 * returns is delivered. `requested` counts requests, `applied` the last
 * one the thread served, with `apply_error` the outcome of that round.
 *
 * Threads: `lock` guards `listeners`, `mailboxes`, `next_id`,
 * `requested`, `applied`, `apply_error`, `stopping`, each listener's
 * `missed_pending` and each mailbox's `n_listeners`; the thread alone
 * touches `pg` and `listening`. Each mailbox's `lock` guards its queue
 * and `scheduled`; a listener's `stopped` is atomic. Lock order: the
 * notifier's lock, then a mailbox's. No lock is held while a callback
 * runs, nor while talking to the server.
 *
 * Lifetime: the engine holds a reference and calls
 * pge_notifier_shutdown() at close; the thread is joined there. A
 * listener is referenced by the notifier's table and by each of its
 * queued notes; the last reference runs its destroy notify. A mailbox is
 * referenced by the notifier's table while a listener of its context is
 * there, by its listeners and by its pending idle source.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "connection-private.h"
#include "errors-private.h"
#include "notifier-private.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define CONNECT_TIMEOUT_MS 10000

/* The notifications bound for one GMainContext, whatever their channel. */
typedef struct {
  gatomicrefcount ref;
  GMainContext  *context;      /* owned, immutable */
  guint          n_listeners;  /* guarded by the notifier's lock */

  GMutex         lock;         /* guards queue and scheduled */
  GQueue         queue;        /* of Note*, in the server's order */
  gboolean       scheduled;    /* an idle source will drain the queue */
} Mailbox;

typedef struct {
  gatomicrefcount ref;
  guint          id;
  char          *channel;      /* immutable */
  Mailbox       *mailbox;      /* owned, immutable: its context's */
  PgeNotifyFunc  callback;
  gpointer       user_data;
  GDestroyNotify destroy;
  gint           stopped;      /* atomic */
  gboolean       missed_pending;  /* guarded by the notifier's lock */
} Listener;

typedef struct {
  Listener *listener;  /* owned */
  char     *payload;   /* NULL for a missed call */
  gint      pid;
} Note;

struct _PgeNotifier {
  gatomicrefcount ref;
  char        *conninfo;      /* immutable */
  guint        timeout_ms;    /* immutable: how long add() waits */

  GMutex       lock;
  GCond        applied_cond;
  GHashTable  *listeners;     /* id -> Listener* (owned ref) */
  GHashTable  *mailboxes;     /* GMainContext* -> Mailbox* (owned ref) */
  guint        next_id;
  guint64      requested;
  guint64      applied;
  GError      *apply_error;   /* outcome of the round that set `applied` */
  gboolean     stopping;
  gboolean     shut;          /* guarded by shutdown_lock */
  GMutex       shutdown_lock;

  GThread     *thread;        /* set at creation, joined at shutdown */
  int          wake[2];

  /* The thread's own. */
  PGconn      *pg;
  GHashTable  *listening;     /* channel -> NULL: what the server has */
};

/* ------------------------------------------------------------ mailboxes */

static Mailbox *
mailbox_new (GMainContext *context)
{
  Mailbox *mailbox = g_new0 (Mailbox, 1);

  g_atomic_ref_count_init (&mailbox->ref);
  mailbox->context = g_main_context_ref (context);
  g_mutex_init (&mailbox->lock);
  g_queue_init (&mailbox->queue);
  return mailbox;
}

static Mailbox *
mailbox_ref (Mailbox *mailbox)
{
  g_atomic_ref_count_inc (&mailbox->ref);
  return mailbox;
}

static void note_free (Note *note);

static void
mailbox_unref (Mailbox *mailbox)
{
  if (!g_atomic_ref_count_dec (&mailbox->ref))
    return;
  g_queue_clear_full (&mailbox->queue, (GDestroyNotify) note_free);
  g_mutex_clear (&mailbox->lock);
  g_main_context_unref (mailbox->context);
  g_free (mailbox);
}

/* ------------------------------------------------------------ listeners */

static Listener *
listener_ref (Listener *listener)
{
  g_atomic_ref_count_inc (&listener->ref);
  return listener;
}

static void
listener_unref (Listener *listener)
{
  if (!g_atomic_ref_count_dec (&listener->ref))
    return;
  if (listener->destroy != NULL)
    listener->destroy (listener->user_data);
  g_clear_pointer (&listener->mailbox, mailbox_unref);
  g_free (listener->channel);
  g_free (listener);
}

static void
note_free (Note *note)
{
  listener_unref (note->listener);
  g_free (note->payload);
  g_free (note);
}

/* On the mailbox's context: calls back for every queued note, in order,
 * skipping those of listeners stopped meanwhile. */
static gboolean
mailbox_dispatch (gpointer data)
{
  Mailbox *mailbox = data;

  for (;;)
    {
      Note *note;
      Listener *listener;

      g_mutex_lock (&mailbox->lock);
      note = g_queue_pop_head (&mailbox->queue);
      if (note == NULL)
        mailbox->scheduled = FALSE;
      g_mutex_unlock (&mailbox->lock);
      if (note == NULL)
        break;
      listener = note->listener;
      if (!g_atomic_int_get (&listener->stopped))
        listener->callback (listener->channel, note->payload, note->pid,
                            note->payload == NULL, listener->user_data);
      note_free (note);
    }
  return G_SOURCE_REMOVE;
}

/* Any thread: queues a note for @listener (taking @payload) in its
 * context's mailbox and makes sure an idle source there will drain it. */
static void
listener_post (Listener *listener, char *payload, gint pid)
{
  Mailbox *mailbox = listener->mailbox;
  Note *note = g_new0 (Note, 1);
  gboolean schedule;

  note->listener = listener_ref (listener);
  note->payload = payload;
  note->pid = pid;
  g_mutex_lock (&mailbox->lock);
  g_queue_push_tail (&mailbox->queue, note);
  schedule = !mailbox->scheduled;
  mailbox->scheduled = TRUE;
  g_mutex_unlock (&mailbox->lock);
  if (schedule)
    {
      g_autoptr(GSource) source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_static_name (source, "[pgengine] notification");
      g_source_set_callback (source, mailbox_dispatch, mailbox_ref (mailbox),
                             (GDestroyNotify) mailbox_unref);
      g_source_attach (source, mailbox->context);
    }
}

/* Under the notifier's lock: the mailbox of @context, shared by its
 * listeners; transfer full. */
static Mailbox *
mailbox_attach_locked (PgeNotifier *notifier, GMainContext *context)
{
  Mailbox *mailbox = g_hash_table_lookup (notifier->mailboxes, context);

  if (mailbox == NULL)
    {
      mailbox = mailbox_new (context);
      g_hash_table_insert (notifier->mailboxes, mailbox->context, mailbox);
    }
  mailbox->n_listeners++;
  return mailbox_ref (mailbox);
}

/* Under the notifier's lock: @listener left the table. */
static void
mailbox_detach_locked (PgeNotifier *notifier, Listener *listener)
{
  if (--listener->mailbox->n_listeners == 0)
    g_hash_table_remove (notifier->mailboxes, listener->mailbox->context);
}

/* ------------------------------------------------------------ the thread */

static void
notifier_quiet_notices (void *arg, const char *message)
{
}

static gboolean
notifier_is_stopping (PgeNotifier *notifier)
{
  gboolean stopping;

  g_mutex_lock (&notifier->lock);
  stopping = notifier->stopping;
  g_mutex_unlock (&notifier->lock);
  return stopping;
}

static void
notifier_drain_wake (PgeNotifier *notifier)
{
  char buf[64];

  while (read (notifier->wake[0], buf, sizeof buf) > 0)
    ;
}

static void
notifier_wake (PgeNotifier *notifier)
{
  const char byte = 1;

  if (write (notifier->wake[1], &byte, 1) < 0 && errno != EAGAIN)
    g_debug ("notifier: cannot wake the thread: %s", g_strerror (errno));
}

/* Waits for @fd (-1: none) to be ready for @events, or the wake pipe, at
 * most @timeout_ms (-1: no limit). Returns TRUE if @fd is ready. */
static gboolean
notifier_poll (PgeNotifier *notifier, int fd, short events, int timeout_ms)
{
  struct pollfd pfd[2] = {
    { .fd = notifier->wake[0], .events = POLLIN },
    { .fd = fd, .events = events },
  };
  int n = fd >= 0 ? 2 : 1;

  if (poll (pfd, n, timeout_ms) <= 0)
    return FALSE;
  if (pfd[0].revents != 0)
    notifier_drain_wake (notifier);
  return n == 2 && pfd[1].revents != 0;
}

/* Connects without blocking the thread past a stop: the wake pipe
 * interrupts the handshake. */
static PGconn *
notifier_connect (PgeNotifier *notifier, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + CONNECT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  /* The workers' defaults (connection.c), and a name of its own. */
  PGconn *pg = pge_connection_start_params (notifier->conninfo, "pgengine listen");

  if (pg != NULL)
    PQsetNoticeProcessor (pg, notifier_quiet_notices, NULL);
  while (pg != NULL && PQstatus (pg) != CONNECTION_BAD &&
         status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED)
    {
      gint64 left = deadline - g_get_monotonic_time ();

      if (left <= 0 || notifier_is_stopping (notifier))
        break;
      notifier_poll (notifier, PQsocket (pg), status == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                     (int) (left / G_TIME_SPAN_MILLISECOND) + 1);
      status = PQconnectPoll (pg);
    }
  if (pg != NULL && PQstatus (pg) == CONNECTION_OK)
    return pg;
  g_propagate_error (error, pge_error_new_from_conn (pg, PGE_ERROR_CONNECTION,
                                                     "cannot connect the LISTEN connection"));
  g_clear_pointer (&pg, PQfinish);
  return NULL;
}

/* Runs LISTEN or UNLISTEN on @channel, quoted. */
static gboolean
notifier_command (PgeNotifier *notifier, const char *verb, const char *channel, GError **error)
{
  char *quoted = PQescapeIdentifier (notifier->pg, channel, strlen (channel));
  g_autofree char *sql = NULL;
  PGresult *res;
  gboolean ok;

  if (quoted == NULL)
    {
      g_propagate_error (error, pge_error_new_from_conn (notifier->pg, PGE_ERROR_INVALID_ARGUMENT,
                                                         "cannot quote the channel name"));
      return FALSE;
    }
  sql = g_strdup_printf ("%s %s", verb, quoted);
  PQfreemem (quoted);
  res = PQexec (notifier->pg, sql);
  ok = PQresultStatus (res) == PGRES_COMMAND_OK;
  if (!ok)
    g_propagate_error (error, res != NULL ? pge_error_new_from_result (res, FALSE)
                                          : pge_error_new_from_conn (notifier->pg, PGE_ERROR_CONNECTION,
                                                                     "LISTEN failed"));
  PQclear (res);
  return ok;
}

/* Makes the server's channels the listeners' channels. */
static gboolean
notifier_sync_channels (PgeNotifier *notifier, GError **error)
{
  g_autoptr(GHashTable) wanted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&notifier->lock);
  g_hash_table_iter_init (&iter, notifier->listeners);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_add (wanted, g_strdup (((Listener *) value)->channel));
  g_mutex_unlock (&notifier->lock);

  g_hash_table_iter_init (&iter, notifier->listening);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (wanted, key))
      g_ptr_array_add (gone, g_strdup (key));
  for (guint i = 0; i < gone->len; i++)
    {
      if (!notifier_command (notifier, "UNLISTEN", gone->pdata[i], error))
        return FALSE;
      g_hash_table_remove (notifier->listening, gone->pdata[i]);
    }
  g_hash_table_iter_init (&iter, wanted);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      if (g_hash_table_contains (notifier->listening, key))
        continue;
      if (!notifier_command (notifier, "LISTEN", key, error))
        return FALSE;
      g_hash_table_add (notifier->listening, g_strdup (key));
    }
  return TRUE;
}

/* Hands what libpq has read to the listeners of each channel. */
static void
notifier_deliver (PgeNotifier *notifier)
{
  PGnotify *notify;

  while ((notify = PQnotifies (notifier->pg)) != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_mutex_lock (&notifier->lock);
      g_hash_table_iter_init (&iter, notifier->listeners);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Listener *listener = value;

          if (strcmp (listener->channel, notify->relname) == 0)
            listener_post (listener, g_strdup (notify->extra != NULL ? notify->extra : ""),
                           notify->be_pid);
        }
      g_mutex_unlock (&notifier->lock);
      PQfreemem (notify);
    }
}

/* The connection is gone: every current listener is owed a missed call
 * once a new one listens again. */
static void
notifier_lose (PgeNotifier *notifier)
{
  GHashTableIter iter;
  gpointer value;

  g_debug ("notifier: the LISTEN connection was lost; reconnecting");
  g_clear_pointer (&notifier->pg, PQfinish);
  g_hash_table_remove_all (notifier->listening);
  g_mutex_lock (&notifier->lock);
  g_hash_table_iter_init (&iter, notifier->listeners);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    ((Listener *) value)->missed_pending = TRUE;
  g_mutex_unlock (&notifier->lock);
}

static void
notifier_post_missed (PgeNotifier *notifier)
{
  GHashTableIter iter;
  gpointer value;

  g_mutex_lock (&notifier->lock);
  g_hash_table_iter_init (&iter, notifier->listeners);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Listener *listener = value;

      if (listener->missed_pending)
        listener_post (listener, NULL, 0);
      listener->missed_pending = FALSE;
    }
  g_mutex_unlock (&notifier->lock);
}

/* Serves the requests made up to now; their waiters get @error's copy. */
static void
notifier_finish_round (PgeNotifier *notifier, guint64 round, const GError *error)
{
  g_mutex_lock (&notifier->lock);
  notifier->applied = MAX (notifier->applied, round);
  g_clear_error (&notifier->apply_error);
  if (error != NULL)
    notifier->apply_error = g_error_copy (error);
  g_cond_broadcast (&notifier->applied_cond);
  g_mutex_unlock (&notifier->lock);
}

/* One pass of the thread: connect if needed (at once when a request
 * waits, else after the backoff), apply requests, then wait for input. */
static void
notifier_step (PgeNotifier *notifier, gint64 *next_attempt, guint *backoff_ms)
{
  g_autoptr(GError) error = NULL;
  guint64 round;
  gboolean want, any;

  g_mutex_lock (&notifier->lock);
  round = notifier->requested;
  want = round > notifier->applied;
  any = g_hash_table_size (notifier->listeners) > 0;
  g_mutex_unlock (&notifier->lock);

  if (notifier->pg == NULL)
    {
      gint64 now = g_get_monotonic_time ();

      if (!want && (!any || now < *next_attempt))
        {
          notifier_poll (notifier, -1, 0,
                         any ? (int) ((*next_attempt - now) / G_TIME_SPAN_MILLISECOND) + 1 : -1);
          return;
        }
      notifier->pg = notifier_connect (notifier, &error);
      if (notifier->pg == NULL)
        {
          *backoff_ms = CLAMP (*backoff_ms * 2, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
          *next_attempt = g_get_monotonic_time () +
                          (*backoff_ms + g_random_int_range (0, *backoff_ms / 2 + 1)) *
                          G_TIME_SPAN_MILLISECOND;
          if (want)
            notifier_finish_round (notifier, round, error);
          return;
        }
      *backoff_ms = 0;
    }
  if (!notifier_sync_channels (notifier, &error))
    {
      if (PQstatus (notifier->pg) != CONNECTION_OK)
        notifier_lose (notifier);
      notifier_finish_round (notifier, round, error);
      return;
    }
  notifier_post_missed (notifier);
  notifier_finish_round (notifier, round, NULL);
  notifier_deliver (notifier);
  if (notifier_poll (notifier, PQsocket (notifier->pg), POLLIN, -1) &&
      !PQconsumeInput (notifier->pg))
    g_debug ("notifier: %s", PQerrorMessage (notifier->pg));
  notifier_deliver (notifier);
  if (PQstatus (notifier->pg) != CONNECTION_OK)
    notifier_lose (notifier);
}

static gpointer
notifier_thread (gpointer data)
{
  PgeNotifier *notifier = data;
  gint64 next_attempt = 0;
  guint backoff_ms = 0;

  while (!notifier_is_stopping (notifier))
    notifier_step (notifier, &next_attempt, &backoff_ms);
  g_clear_pointer (&notifier->pg, PQfinish);
  notifier_finish_round (notifier, G_MAXUINT64, NULL);
  return NULL;
}

/* ------------------------------------------------------------- the API */

PgeNotifier *
pge_notifier_new (const char *conninfo, guint timeout_ms)
{
  PgeNotifier *notifier = g_new0 (PgeNotifier, 1);

  g_atomic_ref_count_init (&notifier->ref);
  notifier->conninfo = g_strdup (conninfo);
  notifier->timeout_ms = timeout_ms;
  g_mutex_init (&notifier->lock);
  g_mutex_init (&notifier->shutdown_lock);
  g_cond_init (&notifier->applied_cond);
  notifier->listeners = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) listener_unref);
  notifier->mailboxes = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) mailbox_unref);
  notifier->listening = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!g_unix_open_pipe (notifier->wake, FD_CLOEXEC, NULL))
    g_error ("notifier: cannot create a pipe: %s", g_strerror (errno));
  g_unix_set_fd_nonblocking (notifier->wake[0], TRUE, NULL);
  g_unix_set_fd_nonblocking (notifier->wake[1], TRUE, NULL);
  notifier->thread = g_thread_new ("pge-listen", notifier_thread, notifier);
  return notifier;
}

PgeNotifier *
pge_notifier_ref (PgeNotifier *notifier)
{
  g_atomic_ref_count_inc (&notifier->ref);
  return notifier;
}

void
pge_notifier_shutdown (PgeNotifier *notifier)
{
  g_autoptr(GHashTable) listeners = NULL;

  g_mutex_lock (&notifier->shutdown_lock);
  if (!notifier->shut)
    {
      g_mutex_lock (&notifier->lock);
      notifier->stopping = TRUE;
      listeners = g_steal_pointer (&notifier->listeners);
      notifier->listeners = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) listener_unref);
      g_hash_table_remove_all (notifier->mailboxes);
      g_mutex_unlock (&notifier->lock);
      notifier_wake (notifier);
      g_thread_join (g_steal_pointer (&notifier->thread));
      notifier->shut = TRUE;
    }
  g_mutex_unlock (&notifier->shutdown_lock);
  if (listeners != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, listeners);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_atomic_int_set (&((Listener *) value)->stopped, TRUE);
    }
}

void
pge_notifier_unref (PgeNotifier *notifier)
{
  if (!g_atomic_ref_count_dec (&notifier->ref))
    return;
  pge_notifier_shutdown (notifier);
  g_hash_table_unref (notifier->listeners);
  g_hash_table_unref (notifier->mailboxes);
  g_hash_table_unref (notifier->listening);
  g_clear_error (&notifier->apply_error);
  close (notifier->wake[0]);
  close (notifier->wake[1]);
  g_cond_clear (&notifier->applied_cond);
  g_mutex_clear (&notifier->shutdown_lock);
  g_mutex_clear (&notifier->lock);
  g_free (notifier->conninfo);
  g_free (notifier);
}

/* Under the lock: waits until the thread served request @round, at most
 * until @deadline. */
static GError *
notifier_wait_round_locked (PgeNotifier *notifier, guint64 round, gint64 deadline)
{
  while (notifier->applied < round && !notifier->stopping)
    if (!g_cond_wait_until (&notifier->applied_cond, &notifier->lock, deadline))
      return g_error_new (PGE_ERROR, PGE_ERROR_TIMEOUT,
                          "LISTEN was not in effect within %u ms", notifier->timeout_ms);
  if (notifier->stopping)
    return g_error_new_literal (PGE_ERROR, PGE_ERROR_CLOSED, "the engine is closed");
  return notifier->apply_error != NULL ? g_error_copy (notifier->apply_error) : NULL;
}

guint
pge_notifier_add (PgeNotifier   *notifier,
                  const char    *channel,
                  GMainContext  *context,
                  PgeNotifyFunc  callback,
                  gpointer       user_data,
                  GDestroyNotify destroy,
                  GError       **error)
{
  Listener *listener = g_new0 (Listener, 1);
  g_autoptr(GMainContext) own_context = NULL;
  gint64 deadline = g_get_monotonic_time () + notifier->timeout_ms * G_TIME_SPAN_MILLISECOND;
  GError *local;
  guint64 round;
  guint id;

  g_atomic_ref_count_init (&listener->ref);
  listener->channel = g_strdup (channel);
  if (context == NULL)
    context = own_context = g_main_context_ref_thread_default ();
  listener->callback = callback;
  listener->user_data = user_data;
  listener->destroy = destroy;

  g_mutex_lock (&notifier->lock);
  if (notifier->stopping)
    {
      g_mutex_unlock (&notifier->lock);
      listener_unref (listener);
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CLOSED, "the engine is closed");
      return 0;
    }
  id = listener->id = ++notifier->next_id;
  listener->mailbox = mailbox_attach_locked (notifier, context);
  g_hash_table_insert (notifier->listeners, GUINT_TO_POINTER (id), listener);
  round = ++notifier->requested;
  notifier_wake (notifier);
  local = notifier_wait_round_locked (notifier, round, deadline);
  g_mutex_unlock (&notifier->lock);
  if (local == NULL)
    return id;
  pge_notifier_remove (notifier, id);
  g_propagate_error (error, local);
  return 0;
}

gboolean
pge_notifier_remove (PgeNotifier *notifier, guint id)
{
  Listener *listener;

  g_mutex_lock (&notifier->lock);
  listener = g_hash_table_lookup (notifier->listeners, GUINT_TO_POINTER (id));
  if (listener != NULL)
    {
      g_atomic_int_set (&listener->stopped, TRUE);
      g_hash_table_steal (notifier->listeners, GUINT_TO_POINTER (id));
      mailbox_detach_locked (notifier, listener);
      notifier->requested++;
    }
  g_mutex_unlock (&notifier->lock);
  if (listener == NULL)
    return FALSE;
  /* UNLISTEN when the channel has no listener left; nobody waits. */
  notifier_wake (notifier);
  listener_unref (listener);
  return TRUE;
}
