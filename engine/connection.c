/* connection.c — one PGconn and everything done on it.
 *
 * A PgeConnection owns a blocking libpq connection: connecting and
 * reconnecting (then the config's on-connect setup, onconnect.c, which
 * also runs again after a session's DISCARD ALL), noticing a dead
 * backend without a round trip, running a
 * statement, a script or a pipeline, the prepared-statement cache, the
 * cancel handle, rolling back what a job left open, and query logging.
 *
 * Threads: at any moment one thread holds the connection — its worker
 * thread, or a blocking caller running its own job (pool.c hands out
 * that lease) — and only the holder calls the functions marked "for the
 * holder" or touches the PGconn, the statement cache and the lists of
 * statements to deallocate. Other threads only cancel: `cancel_lock`
 * guards the cancel handle, the token of what runs now and
 * `cancel_sent`; `cancel_pending`, `cancel_all` and `interrupted` are
 * atomic so the holder's wait loops read them without the lock, and a byte on the
 * `wake` pipe gets it out of poll() to look. Requests go out from a
 * thread of their own (cancel.c), so nobody waits for the server while
 * holding a lock. Lock order: a pool's queue_lock, then cancel_lock;
 * nothing is taken inside cancel_lock.
 *
 * Deadlines: `statement_timeout` is a server timer, which a stopped or
 * unreachable server never fires. With a statement timeout configured,
 * the wait for each result also ends on the client, GRACE_US after the
 * timeout: the socket is shut down, so the connection is never reused
 * (the pool replaces it), and the statement fails with PGE_ERROR_TIMEOUT.
 * TCP keepalives and a TCP user timeout are on by default (the PGE_*
 * defaults in connection-private.h; the user's conninfo overrides them),
 * so a connection on a dead link is dropped within about 15 s, in flight
 * or idle, without bounding a long query.
 *
 * Connecting: never a blocking PQconnectdb(). The handshake is polled
 * here, on the socket and the wake pipe, ending at connect_timeout, at
 * the deadline of the job that waits for it (its acquire timeout), or at
 * once when close interrupts it (`interrupted`, sticky). A TCP handshake
 * not done in handshake_retry_us() (0.5 s, or a 20th of a longer
 * connect_timeout) fails that address, so libpq goes on to the next host,
 * and after the last one the attempt starts over: a black-holed host of a
 * multi-host string is skipped, and a healed link is used at once. The
 * fallback application_name is "pgengine " plus the label.
 *
 * The statement cache (on by default): a plain data query is prepared
 * once per connection under a name derived from its text (statements.c),
 * in the same round trip as its first run, and later runs only Bind and
 * Execute. A statement the server no longer has ("does not exist", after
 * a user's DEALLOCATE or behind a pooler) or already has ("already
 * exists", behind a pooler) is a cache miss: outside a transaction
 * nothing ran, so it is prepared again or run unprepared, and the caller
 * never sees it. Inside a transaction a failed statement aborts the
 * transaction, so there the cache is used only where its knowledge is
 * exact: on a direct connection (never behind a transaction pooler), with
 * evicted statements deallocated only once the connection is outside any
 * transaction. A pooler is recognised at connect: the backend PID libpq
 * was given is not the one the server reports.
 *
 * COPY (pge_connection_copy()): the holder runs the data callbacks itself,
 * one 64 KiB chunk in or one row out at a time, waiting like any statement
 * (deadline, cancel). Whatever fails — the server, a callback, a cancel —
 * the COPY is ended (CopyFail, or a cancel request and draining the rest
 * of the output) and its results are read, so the connection is idle
 * afterwards. Plain queries and pipelines refuse COPY.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cancel-private.h"
#include "connection-private.h"
#include "errors-private.h"
#include "logging-private.h"
#include "onconnect-private.h"
#include "params-private.h"
#include "result-private.h"
#include "statements-private.h"

/* How often a cancel request is repeated while the cancelled query runs. */
#define RECANCEL_INTERVAL_US (100 * G_TIME_SPAN_MILLISECOND)
/* How long past the statement timeout the client waits for an answer. */
#define GRACE_US (500 * G_TIME_SPAN_MILLISECOND)
/* How long past close's cancel a query may go on before its connection
 * is abandoned. */
#define ABANDON_US (1000 * G_TIME_SPAN_MILLISECOND)

struct _PgeConnection {
  char          *label;        /* "primary/2", for logs */
  char          *conninfo;
  guint          statement_timeout_ms;
  gboolean       log_queries;
  gboolean       log_responses;

  /* For the holder. */
  PGconn        *pg;
  guint64        generation;   /* +1 per successful connect */
  gboolean       doomed;       /* the server sent FATAL: the session is ending */
  gboolean       pooled;       /* behind a transaction pooler */
  gboolean       timed_out;    /* the client deadline passed: socket shut */
  gboolean       tcp;          /* TCP_CORK applies (not a Unix socket) */
  gint64         idle_since;   /* when the server last said it was idle */
  gint64         answered_us;  /* when the last statement's answer was read */
  gint           read_first;   /* > 0: read before poll() (read_first_wanted()) */
  guint          read_probes;  /* waits since read_first fell to 0 */
  int            wake[2];      /* pipe: read end polled by the holder */
  PgeStatements *statements;   /* nullable: the cache is off */
  GPtrArray     *evicted;      /* names still prepared, to deallocate */
  GPtrArray     *stale;        /* names whose plan went stale, to deallocate */
  int            server_version;  /* atomic */

  GMutex         cancel_lock;
  PgeCancelHandle *cancel;     /* owned; for the current PGconn */
  gconstpointer  running;      /* token of what runs now */
  gboolean       cancel_sent;  /* a request went out since the last take */
  gint           cancel_pending;  /* atomic: what runs now is to be cancelled */
  gint           cancel_all;      /* atomic, sticky: cancel whatever runs */
  gint64         cancel_all_at;   /* atomic: when cancel_all was set */
  gint           interrupted;     /* atomic, sticky: connecting gives up (close) */

  PgeConnectHook *on_connect;  /* nullable, owned ref; immutable */
};

PgeConnection *
pge_connection_new (const char *label, const char *conninfo, const PgeSettings *settings)
{
  PgeConnection *conn = g_new0 (PgeConnection, 1);

  conn->label = g_strdup (label);
  conn->conninfo = g_strdup (conninfo);
  conn->statement_timeout_ms = settings->statement_timeout_ms;
  conn->log_queries = settings->log_queries;
  conn->log_responses = settings->log_responses;
  if (settings->statement_cache > 0)
    conn->statements = pge_statements_new (settings->statement_cache);
  conn->evicted = g_ptr_array_new_with_free_func (g_free);
  conn->stale = g_ptr_array_new_with_free_func (g_free);
  if (settings->on_connect != NULL)
    conn->on_connect = pge_connect_hook_ref (settings->on_connect);
  g_mutex_init (&conn->cancel_lock);
  if (!g_unix_open_pipe (conn->wake, FD_CLOEXEC, NULL))
    conn->wake[0] = conn->wake[1] = -1;
  else if (!g_unix_set_fd_nonblocking (conn->wake[0], TRUE, NULL) ||
           !g_unix_set_fd_nonblocking (conn->wake[1], TRUE, NULL))
    g_debug ("%s: the wake pipe blocks", conn->label);
  return conn;
}

void
pge_connection_free (PgeConnection *conn)
{
  if (conn == NULL)
    return;
  g_clear_pointer (&conn->pg, PQfinish);
  g_clear_pointer (&conn->cancel, pge_cancel_handle_unref);
  if (conn->wake[0] >= 0)
    {
      close (conn->wake[0]);
      close (conn->wake[1]);
    }
  g_clear_pointer (&conn->statements, pge_statements_free);
  g_ptr_array_unref (conn->evicted);
  g_ptr_array_unref (conn->stale);
  g_clear_pointer (&conn->on_connect, pge_connect_hook_unref);
  g_mutex_clear (&conn->cancel_lock);
  g_free (conn->label);
  g_free (conn->conninfo);
  g_free (conn);
}

const char *
pge_connection_get_label (PgeConnection *conn)
{
  return conn->label;
}

PGconn *
pge_connection_get_pgconn (PgeConnection *conn)
{
  return conn->pg;
}

guint64
pge_connection_get_generation (PgeConnection *conn)
{
  return conn->generation;
}

int
pge_connection_get_server_version (PgeConnection *conn)
{
  return g_atomic_int_get (&conn->server_version);
}

/* ---------------------------------------------------------- connecting */

/* Runs inside libpq on the holder's thread. An idle connection whose
 * backend is terminated receives a FATAL error (57P01 ...) that libpq
 * hands here as a notice, possibly before the EOF that follows it is
 * readable: remember it, so the connection is replaced before the next
 * job. */
static void
notice_receiver (void *arg, const PGresult *res)
{
  PgeConnection *conn = arg;
  const char *severity = PQresultErrorField (res, PG_DIAG_SEVERITY_NONLOCALIZED);

  if (g_strcmp0 (severity, "FATAL") == 0 || g_strcmp0 (severity, "PANIC") == 0)
    conn->doomed = TRUE;
  g_debug ("%s: %s", conn->label, PQresultErrorMessage (res));
}

static void
set_cancel_handle (PgeConnection *conn, PgeCancelHandle *cancel)
{
  PgeCancelHandle *old;

  g_mutex_lock (&conn->cancel_lock);
  old = conn->cancel;
  conn->cancel = cancel;
  g_mutex_unlock (&conn->cancel_lock);
  g_clear_pointer (&old, pge_cancel_handle_unref);
}

/* For the holder. */
void
pge_connection_disconnect (PgeConnection *conn)
{
  set_cancel_handle (conn, NULL);
  g_clear_pointer (&conn->pg, PQfinish);
}

/* The session settings, and whether a pooler stands between: one round
 * trip. */
static gboolean
connection_setup (PgeConnection *conn, PGconn *pg, GError **error)
{
  g_autoptr(GString) sql = g_string_new (NULL);
  PGresult *res;
  gboolean ok;

  if (conn->statement_timeout_ms > 0)
    g_string_append_printf (sql, "SET statement_timeout = %u; ", conn->statement_timeout_ms);
  if (conn->statements != NULL)
    g_string_append (sql, "SELECT pg_backend_pid()");
  if (sql->len == 0)
    return TRUE;
  res = PQexec (pg, sql->str);
  ok = PQresultStatus (res) == PGRES_COMMAND_OK || PQresultStatus (res) == PGRES_TUPLES_OK;
  if (!ok)
    g_propagate_error (error, pge_error_new_from_result (res, FALSE));
  else if (conn->statements != NULL)
    conn->pooled = PQntuples (res) != 1 ||
                   g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10) != PQbackendPID (pg);
  PQclear (res);
  return ok;
}

/* The connect_timeout in force for @pg, in µs (0: none). */
static gint64
connect_timeout_us (PGconn *pg)
{
  PQconninfoOption *options = PQconninfo (pg);
  gint64 timeout = 0;

  for (PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++)
    if (strcmp (o->keyword, "connect_timeout") == 0 && o->val != NULL)
      timeout = g_ascii_strtoll (o->val, NULL, 10);
  PQconninfoFree (options);
  /* libpq's own rule: anything under 2 s means 2 s. */
  return timeout <= 0 ? 0 : MAX (timeout, 2) * G_USEC_PER_SEC;
}

/* Any thread: starts a connection (PQconnectStartParams()) to @conninfo
 * with the engine's defaults (see the top), which the conninfo overrides:
 * libpq keeps the last value of a repeated keyword, and
 * `fallback_application_name` yields to an `application_name`. */
PGconn *
pge_connection_start_params (const char *conninfo, const char *application_name)
{
  const char *keywords[] = { "connect_timeout", "fallback_application_name", "keepalives",
                             "keepalives_idle", "keepalives_interval", "keepalives_count",
                             "tcp_user_timeout", "dbname", NULL };
  const char *values[] = { PGE_CONNECT_TIMEOUT_S, application_name, "1",
                           PGE_KEEPALIVES_IDLE_S, PGE_KEEPALIVES_INTERVAL_S,
                           PGE_KEEPALIVES_COUNT, PGE_TCP_USER_TIMEOUT_MS, conninfo, NULL };

  return PQconnectStartParams (keywords, values, 1);
}

/* Why a connection attempt stopped before libpq finished it. */
typedef enum {
  CONNECT_DONE,         /* libpq said OK or FAILED */
  CONNECT_TIMED_OUT,    /* connect_timeout, or the caller's deadline */
  CONNECT_INTERRUPTED,  /* pge_connection_interrupt() */
  CONNECT_SYN_LOST,     /* no TCP handshake within handshake_retry_us(), on
                         * the last address and host */
} ConnectEnd;

/* A TCP handshake not done by then fails that address, and after the last
 * one the attempt starts over. The kernel retries a lost SYN after 1, 3,
 * 7 s: once a partition heals, a worker would wait for the next of those
 * instead of connecting at once; and libpq would give a black-holed host
 * its whole connect_timeout before trying the next. */
#define HANDSHAKE_RETRY_US (500 * G_TIME_SPAN_MILLISECOND)

/* HANDSHAKE_RETRY_US, or a 20th of a longer connect_timeout: a server
 * further away than that round trip needs its connect_timeout raised. */
static gint64
handshake_retry_us (gint64 connect_timeout)
{
  return MAX (HANDSHAKE_RETRY_US, connect_timeout / 20);
}

static gboolean
connect_interrupted (PgeConnection *conn)
{
  return g_atomic_int_get (&conn->interrupted) || g_atomic_int_get (&conn->cancel_all);
}

static void drain_wake (PgeConnection *conn);
static void wake_holder (PgeConnection *conn);

/* Polls @pg's handshake to its end, without ever blocking in libpq: the
 * wait is poll() on its socket and the wake pipe, so that close can
 * interrupt it, ending at connect_timeout per address tried (libpq's
 * rule) or at @limit (monotonic µs, 0: none), whichever comes first.
 * libpq 15 cannot be told to go on to the next host from outside, so a
 * timeout ends the attempt. */
static ConnectEnd
connect_poll (PgeConnection *conn, PGconn *pg, gint64 limit)
{
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  gint64 timeout = connect_timeout_us (pg);
  gint64 retry = handshake_retry_us (timeout);
  gint64 deadline = 0;
  gint64 since = 0;
  gboolean lost = FALSE;
  int socket = -1;

  while (state != PGRES_POLLING_OK && state != PGRES_POLLING_FAILED)
    {
      struct pollfd pfd[2] = {
        { PQsocket (pg), state == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0 },
        { conn->wake[0], POLLIN, 0 },
      };
      gint64 now = g_get_monotonic_time ();
      gint64 end;
      int ready;

      if (connect_interrupted (conn))
        return CONNECT_INTERRUPTED;
      if (pfd[0].fd != socket)
        {
          /* A new attempt (the next address or host): its own timeout. */
          socket = pfd[0].fd;
          deadline = timeout > 0 ? now + timeout : 0;
          since = now;
        }
      if (PQstatus (pg) == CONNECTION_STARTED && now - since >= retry &&
          (deadline == 0 || now < deadline))
        {
          /* Fail this address as a refusal would (a connecting socket
           * shut down reports ECONNRESET): libpq goes on to the next
           * address or host, so a black-holed host of a multi-host string
           * is skipped; after the last one the caller starts over. */
          shutdown (pfd[0].fd, SHUT_RDWR);
          state = PQconnectPoll (pg);
          lost = TRUE;
          /* The next socket may reuse the number: it is new all the same. */
          socket = -1;
          continue;
        }
      lost = FALSE;
      end = deadline;
      if (limit != 0 && (end == 0 || limit < end))
        end = limit;
      if (end != 0 && now >= end)
        return CONNECT_TIMED_OUT;
      if (PQstatus (pg) == CONNECTION_STARTED && (end == 0 || since + retry < end))
        end = since + retry;
      ready = poll (pfd, conn->wake[0] >= 0 ? 2 : 1, end != 0 ? (int) ((end - now + 999) / 1000) : -1);
      if (ready < 0 && errno != EINTR)
        return CONNECT_DONE;
      if (pfd[1].revents & POLLIN)
        drain_wake (conn);
      if (pfd[0].revents != 0)
        state = PQconnectPoll (pg);
    }
  return state == PGRES_POLLING_FAILED && lost ? CONNECT_SYN_LOST : CONNECT_DONE;
}

/* The error of a failed attempt. libpq writes its "connection to server
 * at ... failed:" line only when it gives up itself: for a timeout of
 * ours, say which server and why, as libpq does ("timeout expired"). */
static GError *
connect_error (PgeConnection *conn, PGconn *pg, ConnectEnd end)
{
  g_autofree char *what = g_strdup_printf ("cannot connect (%s)", conn->label);
  const char *host = pg != NULL ? PQhost (pg) : NULL;
  const char *port = pg != NULL ? PQport (pg) : NULL;
  g_autofree char *server = NULL;

  if (end == CONNECT_DONE)
    return pge_error_new_from_conn (pg, PGE_ERROR_CONNECTION, what);
  if (host != NULL && *host == '/')
    server = g_strdup_printf ("connection to server on socket \"%s/.s.PGSQL.%s\" failed",
                              host, port != NULL ? port : "");
  else
    server = g_strdup_printf ("connection to server at \"%s\", port %s failed",
                              host != NULL ? host : "", port != NULL ? port : "");
  if (end == CONNECT_INTERRUPTED)
    return g_error_new (PGE_ERROR, PGE_ERROR_CONNECTION, "%s: %s: interrupted: the engine is closing",
                        what, server);
  return g_error_new (PGE_ERROR, PGE_ERROR_CONNECTION, "%s: %s: timeout expired", what, server);
}

/* PQconnectdbParams(), except that the notice receiver is in place from
 * the start (libpq's default one prints to the application's stderr, and
 * a backend terminated while the connection is being made sends a FATAL
 * notice), and that the wait is bounded and interruptible
 * (connect_poll()). NULL with @error set when it failed. */
static PGconn *
connect_quietly (PgeConnection *conn, gint64 limit, GError **error)
{
  g_autofree char *app_name = g_strdup_printf ("pgengine %s", conn->label);
  PGconn *pg = NULL;
  ConnectEnd end = CONNECT_SYN_LOST;
  gint64 overall = 0;

  /* After a handshake started over, connect_timeout counts from the
   * first start. */
  while (end == CONNECT_SYN_LOST)
    {
      g_clear_pointer (&pg, PQfinish);
      pg = pge_connection_start_params (conn->conninfo, app_name);
      end = CONNECT_DONE;
      if (pg != NULL && PQstatus (pg) != CONNECTION_BAD)
        {
          gint64 timeout = connect_timeout_us (pg);
          gint64 until = limit;

          if (overall == 0 && timeout > 0)
            overall = g_get_monotonic_time () + timeout;
          else if (overall != 0 && (until == 0 || overall < until))
            until = overall;
          PQsetNoticeReceiver (pg, notice_receiver, conn);
          end = connect_poll (conn, pg, until);
        }
    }
  if (pg != NULL && end == CONNECT_DONE && PQstatus (pg) == CONNECTION_OK)
    return pg;
  g_propagate_error (error, connect_error (conn, pg, end));
  g_clear_pointer (&pg, PQfinish);
  return NULL;
}

static gboolean
is_tcp (int fd)
{
  struct sockaddr_storage address;
  socklen_t length = sizeof address;

  return getsockname (fd, (struct sockaddr *) &address, &length) == 0 &&
         (address.ss_family == AF_INET || address.ss_family == AF_INET6);
}

/* For the holder: (re)connects, giving up at @deadline (monotonic µs; 0:
 * only connect_timeout bounds it) or when interrupted. Forgets every
 * prepared statement. */
gboolean
pge_connection_connect_until (PgeConnection *conn, gint64 deadline, GError **error)
{
  PGconn *pg;

  pge_connection_disconnect (conn);
  pg = connect_quietly (conn, deadline, error);
  if (pg == NULL)
    return FALSE;
  if (!connection_setup (conn, pg, error) || !pge_connect_hook_run (conn->on_connect, pg, error))
    {
      PQfinish (pg);
      return FALSE;
    }
  g_atomic_int_set (&conn->server_version, PQserverVersion (pg));
  conn->pg = pg;
  conn->doomed = FALSE;
  conn->timed_out = FALSE;
  conn->tcp = is_tcp (PQsocket (pg));
  conn->idle_since = 0;
  conn->generation++;
  if (conn->statements != NULL)
    pge_statements_clear (conn->statements);
  g_ptr_array_set_size (conn->evicted, 0);
  g_ptr_array_set_size (conn->stale, 0);
  set_cancel_handle (conn, pge_cancel_handle_new (pg, conn->label));
  return TRUE;
}

/* For the holder: (re)connects. Forgets every prepared statement. */
gboolean
pge_connection_connect (PgeConnection *conn, GError **error)
{
  return pge_connection_connect_until (conn, 0, error);
}

/* Any thread, for close: a connection attempt in progress, or any later
 * one, gives up at once. */
void
pge_connection_interrupt (PgeConnection *conn)
{
  g_atomic_int_set (&conn->interrupted, TRUE);
  g_mutex_lock (&conn->cancel_lock);
  wake_holder (conn);
  g_mutex_unlock (&conn->cancel_lock);
}

gboolean
pge_connection_is_ok (PgeConnection *conn)
{
  return conn->pg != NULL && !conn->timed_out && PQstatus (conn->pg) == CONNECTION_OK;
}

/* How long after the server said it was idle (the end of the previous
 * job) a connection is taken to be alive without looking at its socket.
 * The look is a poll() system call, 8% of a blocking call's client CPU
 * (measured: pge-bench sync4, 11.6-11.7 against 12.4-13.2 us per query),
 * and a backend terminated within this millisecond is met by the query
 * instead, as one terminated between the look and the send always was. */
#define PREFLIGHT_TRUST_US 1000

static void
drop_notifies (PgeConnection *conn)
{
  PGnotify *notify;

  /* Nobody can receive a NOTIFY on a shared connection. */
  while ((notify = PQnotifies (conn->pg)) != NULL)
    PQfreemem (notify);
}

/* For the holder: whether the idle connection is still alive, without a
 * round trip: a terminated backend leaves an error and EOF on the socket.
 * @now: the monotonic time, which the caller reads for its own books too. */
gboolean
pge_connection_preflight (PgeConnection *conn, gint64 now)
{
  if (!pge_connection_is_ok (conn) || conn->doomed)
    return FALSE;
  if (conn->idle_since != 0 && now - conn->idle_since < PREFLIGHT_TRUST_US)
    {
      drop_notifies (conn);
      return TRUE;
    }
  /* One PQconsumeInput() may read only the FATAL error and not the EOF
   * behind it: read until the socket is quiet (bounded: a live idle
   * connection goes quiet at once). */
  for (int i = 0; i < 8; i++)
    {
      struct pollfd pfd;

      if (!pge_connection_is_ok (conn) || conn->doomed)
        return FALSE;
      pfd.fd = PQsocket (conn->pg);
      pfd.events = POLLIN;
      pfd.revents = 0;
      if (poll (&pfd, 1, 0) <= 0)
        return TRUE;
      if (!PQconsumeInput (conn->pg) || PQstatus (conn->pg) != CONNECTION_OK)
        return FALSE;
      drop_notifies (conn);
    }
  return !conn->doomed;
}

static void
simple_command (PgeConnection *conn, const char *sql)
{
  PQclear (PQexec (conn->pg, sql));
}

/* Deallocates what the cache let go, now that no transaction can be hurt
 * by an error (behind a pooler the name may live on another server
 * connection: harmless, it names the same statement). */
static void
flush_deallocations (PgeConnection *conn)
{
  GPtrArray *lists[] = { conn->stale, conn->evicted };

  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    {
      for (guint i = 0; i < lists[l]->len; i++)
        {
          g_autofree char *sql = g_strdup_printf ("DEALLOCATE %s", (char *) lists[l]->pdata[i]);

          simple_command (conn, sql);
        }
      g_ptr_array_set_size (lists[l], 0);
    }
}

/* For the holder: leaves the connection idle outside any transaction, or
 * drops it. @now: a time the caller read after the connection's last
 * answer (what pge_connection_preflight() trusts is measured from it). */
void
pge_connection_make_idle (PgeConnection *conn, gint64 now)
{
  PGTransactionStatusType status;

  if (!pge_connection_is_ok (conn))
    {
      pge_connection_disconnect (conn);
      return;
    }
  status = PQtransactionStatus (conn->pg);
  if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR)
    {
      g_debug ("%s: a job left a transaction open; rolling back", conn->label);
      simple_command (conn, "ROLLBACK");
      status = PQtransactionStatus (conn->pg);
      now = 0;
    }
  if (status != PQTRANS_IDLE)
    {
      pge_connection_disconnect (conn);
      return;
    }
  if (conn->evicted->len > 0 || conn->stale->len > 0)
    {
      flush_deallocations (conn);
      now = 0;
    }
  /* After a round trip of its own, the server's last answer is later. */
  conn->idle_since = now != 0 ? now : g_get_monotonic_time ();
}

/* For the holder: when the answer of the last statement run through the
 * statement cache was read (0 if none was); the caller's clock read at
 * the end of a job can be saved with it. */
gint64
pge_connection_get_answered_us (PgeConnection *conn)
{
  return conn->answered_us;
}

/* For the holder: when the server last said it was idle, 0 if unknown. */
gint64
pge_connection_get_idle_since (PgeConnection *conn)
{
  return conn->idle_since;
}

/* DISCARD ALL rather than a hand-made list (RESET ALL; UNLISTEN *;
 * pg_advisory_unlock_all(); DISCARD TEMP; DEALLOCATE of the user's
 * names): it covers every kind of session state the server has, today's
 * and future ones, in one round trip, and it cannot run inside a
 * transaction block, so it also proves the connection is idle. Its cost,
 * the cache's statements prepared again on their next use, falls only on
 * connections that served a session. */
void
pge_connection_reset_session (PgeConnection *conn)
{
  PGresult *res;
  gboolean ok;

  if (!pge_connection_is_ok (conn))
    return;
  res = PQexec (conn->pg, "DISCARD ALL");
  ok = PQresultStatus (res) == PGRES_COMMAND_OK;
  PQclear (res);
  if (conn->statements != NULL)
    pge_statements_clear (conn->statements);
  g_ptr_array_set_size (conn->evicted, 0);
  g_ptr_array_set_size (conn->stale, 0);
  if (ok && conn->statement_timeout_ms > 0)
    {
      g_autofree char *sql = g_strdup_printf ("SET statement_timeout = %u", conn->statement_timeout_ms);

      res = PQexec (conn->pg, sql);
      ok = PQresultStatus (res) == PGRES_COMMAND_OK;
      PQclear (res);
    }
  /* DISCARD ALL undid what the on-connect setup did (SET, SET ROLE). */
  if (ok && conn->on_connect != NULL)
    {
      g_autoptr(GError) error = NULL;

      ok = pge_connect_hook_run (conn->on_connect, conn->pg, &error);
      if (!ok)
        g_debug ("%s: on-connect setup after DISCARD ALL: %s", conn->label, error->message);
    }
  if (!ok)
    {
      g_debug ("%s: the session could not be reset; dropping the connection", conn->label);
      pge_connection_disconnect (conn);
    }
}

/* ---------------------------------------------------------- cancelling */

void
pge_connection_set_running (PgeConnection *conn, gconstpointer token, gboolean cancelled)
{
  g_mutex_lock (&conn->cancel_lock);
  conn->running = token;
  g_atomic_int_set (&conn->cancel_pending, token != NULL && cancelled);
  g_mutex_unlock (&conn->cancel_lock);
}

/* Gets the holder out of poll() to look at the cancel flags. */
static void
wake_holder (PgeConnection *conn)
{
  if (conn->wake[1] >= 0 && write (conn->wake[1], "", 1) < 0 && errno != EAGAIN)
    g_debug ("%s: cannot wake the holder: %s", conn->label, g_strerror (errno));
}

/* Never waits for the server (cancel.c). */
static void
send_cancel_locked (PgeConnection *conn)
{
  if (conn->cancel == NULL)
    return;
  conn->cancel_sent = TRUE;
  pge_cancel_handle_send (conn->cancel);
}

/* Any thread: cancels @token's query if it is the one running. */
void
pge_connection_cancel (PgeConnection *conn, gconstpointer token)
{
  g_mutex_lock (&conn->cancel_lock);
  if (token != NULL && conn->running == token)
    {
      g_atomic_int_set (&conn->cancel_pending, TRUE);
      send_cancel_locked (conn);
      wake_holder (conn);
    }
  g_mutex_unlock (&conn->cancel_lock);
}

/* Any thread: from now on, every query on this connection is cancelled
 * (close's grace period is over). */
void
pge_connection_cancel_all (PgeConnection *conn)
{
  gint64 now = g_get_monotonic_time ();

  __atomic_store_n (&conn->cancel_all_at, now, __ATOMIC_RELAXED);
  g_atomic_int_set (&conn->cancel_all, TRUE);
  g_mutex_lock (&conn->cancel_lock);
  if (conn->running != NULL)
    send_cancel_locked (conn);
  wake_holder (conn);
  g_mutex_unlock (&conn->cancel_lock);
}

/* How long a holder waits for a cancel request still in flight before
 * giving the connection up. */
#define CANCEL_SETTLE_US (2 * G_TIME_SPAN_SECOND)

/* For the holder, before anything new runs: a cancel request still on
 * its way must not land on the next statement. One that does not arrive
 * in time (the server does not answer) dooms the connection, which is
 * then replaced: a request names its backend, so it cannot hit the new
 * one. TRUE if a request was on its way (the caller's clock is stale). */
gboolean
pge_connection_settle_cancel (PgeConnection *conn)
{
  /* Only the holder replaces the handle: it reads it without the lock. */
  PgeCancelHandle *handle = conn->cancel;

  if (handle == NULL || !pge_cancel_handle_in_flight (handle))
    return FALSE;
  if (!pge_cancel_handle_wait (handle, CANCEL_SETTLE_US))
    {
      g_debug ("%s: a cancel request is stuck; replacing the connection", conn->label);
      conn->doomed = TRUE;
    }
  return TRUE;
}

/* Whether a cancel request went out since the last call; clears it. */
gboolean
pge_connection_take_cancel_sent (PgeConnection *conn)
{
  gboolean sent;

  g_mutex_lock (&conn->cancel_lock);
  sent = conn->cancel_sent;
  conn->cancel_sent = FALSE;
  g_mutex_unlock (&conn->cancel_lock);
  return sent;
}

static gboolean
cancel_wanted (PgeConnection *conn)
{
  return g_atomic_int_get (&conn->cancel_pending) || g_atomic_int_get (&conn->cancel_all);
}

/* A cancel request that reaches the backend before the query does is
 * ignored by the server (it is idle then), and the query would run to its
 * end: while a cancelled query's results are awaited, the request is
 * repeated every RECANCEL_INTERVAL_US. */
static void
recancel (PgeConnection *conn, gint64 *last_sent)
{
  gint64 now = g_get_monotonic_time ();

  if (now - *last_sent < RECANCEL_INTERVAL_US)
    return;
  *last_sent = now;
  g_mutex_lock (&conn->cancel_lock);
  send_cancel_locked (conn);
  g_mutex_unlock (&conn->cancel_lock);
}

/* ---------------------------------------------------------- results */

static void
drain_wake (PgeConnection *conn)
{
  char buffer[64];

  while (read (conn->wake[0], buffer, sizeof buffer) > 0)
    ;
}

/* Gives up on the server: shut the socket so that libpq reports the
 * connection lost, and nobody reuses it. */
static gboolean
abandon (PgeConnection *conn)
{
  conn->timed_out = TRUE;
  shutdown (PQsocket (conn->pg), SHUT_RDWR);
  PQconsumeInput (conn->pg);
  return FALSE;
}

/* When the client stops waiting for the next result: the statement
 * timeout plus a grace, or close's cancel plus ABANDON_US; 0 = never. */
static gint64
wait_deadline (PgeConnection *conn, gint64 start)
{
  gint64 deadline = 0;

  if (conn->statement_timeout_ms > 0)
    deadline = start + (gint64) conn->statement_timeout_ms * 1000 + GRACE_US;
  if (g_atomic_int_get (&conn->cancel_all))
    {
      gint64 close_deadline = __atomic_load_n (&conn->cancel_all_at, __ATOMIC_RELAXED) + ABANDON_US;

      deadline = deadline == 0 ? close_deadline : MIN (deadline, close_deadline);
    }
  return deadline;
}

/* One wait for input from the server (or a wake-up, or a timeout) and
 * its consumption. *@start is when the waiting began, read at the first
 * wait that has something to time (0 until then), as is *@last_cancel.
 * FALSE as below. */
static gboolean
wait_input (PgeConnection *conn, gint64 *start, gint64 *last_cancel)
{
  struct pollfd pfd[2] = { { PQsocket (conn->pg), POLLIN, 0 }, { conn->wake[0], POLLIN, 0 } };
  gboolean cancelled = cancel_wanted (conn);
  gint64 deadline = 0;
  int timeout_ms = -1;
  int ready;

  /* The clock is read only for a wait that has a deadline or a cancel to
   * repeat (neither by default): at 50 ns a read on a VM, it was one of a
   * query's costs. */
  if (*start == 0 && (conn->statement_timeout_ms > 0 || cancelled))
    *start = *last_cancel = g_get_monotonic_time ();
  if (*start != 0)
    deadline = wait_deadline (conn, *start);
  if (deadline != 0)
    {
      gint64 now = g_get_monotonic_time ();

      if (now >= deadline)
        return abandon (conn);
      timeout_ms = (int) ((deadline - now + 999) / 1000);
    }
  if (cancelled)
    timeout_ms = timeout_ms < 0 ? (int) (RECANCEL_INTERVAL_US / 1000)
                                : MIN (timeout_ms, (int) (RECANCEL_INTERVAL_US / 1000));
  ready = poll (pfd, conn->wake[0] >= 0 ? 2 : 1, timeout_ms);
  if (ready < 0 && errno != EINTR)
    return FALSE;
  if (pfd[1].revents & POLLIN)
    drain_wake (conn);
  if ((pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput (conn->pg))
    return FALSE;
  if (cancelled)
    recancel (conn, last_cancel);
  return TRUE;
}

/* Whether to try reading the answer before poll(). When client and
 * server run side by side (several busy threads on few cores), the answer
 * is often in by the time the caller looks for it, and poll() is a system
 * call that only says so; when they take turns (one thread against one
 * backend), the read finds nothing and is a system call wasted. So it is
 * tried while it has paid at least every other time, and otherwise once
 * in READ_FIRST_PROBE waits, to notice the change. Single statements
 * only. */
#define READ_FIRST_PROBE 32
#define READ_FIRST_MAX 4

static gboolean
read_first_wanted (PgeConnection *conn)
{
  /* A pipeline's answers come in a stream: reading one as soon as it is
   * in would read them one by one, where a wait reads those that came
   * together at once, and resolves them together. */
  if (PQpipelineStatus (conn->pg) != PQ_PIPELINE_OFF)
    return FALSE;
  if (conn->read_first > 0)
    return TRUE;
  if (++conn->read_probes < READ_FIRST_PROBE)
    return FALSE;
  conn->read_probes = 0;
  return TRUE;
}

static void
read_first_learn (PgeConnection *conn, gboolean paid)
{
  if (paid)
    conn->read_first = MIN (conn->read_first + 1, READ_FIRST_MAX);
  else if (conn->read_first > 0)
    conn->read_first--;
}

/* For the holder: blocks until PQgetResult() would not block. FALSE if
 * the connection failed (PQgetResult() then reports it), or the client
 * deadline passed (the connection is then shut: see the top). */
gboolean
pge_connection_wait_for_result (PgeConnection *conn)
{
  gint64 start = 0;
  gint64 last_cancel = 0;

  if (!PQisBusy (conn->pg))
    return TRUE;
  /* libpq's socket is non-blocking: this read never waits. */
  if (read_first_wanted (conn))
    {
      if (!PQconsumeInput (conn->pg))
        return FALSE;
      read_first_learn (conn, !PQisBusy (conn->pg));
    }
  while (PQisBusy (conn->pg))
    if (!wait_input (conn, &start, &last_cancel))
      return FALSE;
  return TRUE;
}

GError *
pge_connection_error_from_result (PgeConnection *conn, const PGresult *res)
{
  GError *error = pge_error_new_from_result (res, g_atomic_int_get (&conn->cancel_pending) ||
                                                  g_atomic_int_get (&conn->cancel_all));

  /* "server closed the connection unexpectedly" carries no SQLSTATE. */
  if (PQstatus (conn->pg) == CONNECTION_BAD && error->code != PGE_ERROR_CONNECTION)
    error->code = PGE_ERROR_CONNECTION;
  return error;
}

static void
set_first_error (GError **first, GError *error)
{
  if (*first == NULL)
    *first = error;
  else
    g_error_free (error);
}

static GError *
copy_refused (const char *what, const char *api)
{
  return g_error_new (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                      "%s is not a query: use %s_stream() or %s_callback()", what, api, api);
}

static GError *
timeout_error (PgeConnection *conn)
{
  if (g_atomic_int_get (&conn->cancel_all))
    return g_error_new_literal (PGE_ERROR, PGE_ERROR_CLOSED,
                                "the engine was closed and the server did not stop the "
                                "statement; its connection was abandoned");
  return g_error_new (PGE_ERROR, PGE_ERROR_TIMEOUT,
                      "no answer from the server within the statement timeout (%u ms) and "
                      "a grace of %d ms; the connection was closed", conn->statement_timeout_ms,
                      (int) (GRACE_US / 1000));
}

/* For the holder: reads every result of what was just sent (in pipeline
 * mode: of one command). Keeps the last non-error one; reports the first
 * error. COPY is refused without hanging. */
static PgeResult *
pge_connection_collect (PgeConnection *conn, gboolean simple, GError **error)
{
  PGresult *last = NULL;
  PGresult *res;
  GError *first = NULL;

  while (pge_connection_wait_for_result (conn), (res = PQgetResult (conn->pg)) != NULL)
    {
      switch (PQresultStatus (res))
        {
        case PGRES_COPY_IN:
          PQputCopyEnd (conn->pg, "pgengine: COPY FROM STDIN needs pge_engine_copy_from_stream()");
          set_first_error (&first, copy_refused ("COPY FROM STDIN", "pge_engine_copy_from"));
          break;
        case PGRES_COPY_OUT:
          {
            char *buffer = NULL;

            while (PQgetCopyData (conn->pg, &buffer, 0) > 0)
              PQfreemem (buffer);
            set_first_error (&first, copy_refused ("COPY TO STDOUT", "pge_engine_copy_to"));
          }
          break;
        case PGRES_COPY_BOTH:
          /* Replication protocol: the connection cannot be recovered. */
          PQclear (res);
          set_first_error (&first, g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                           "replication commands are not supported"));
          g_clear_pointer (&last, PQclear);
          g_propagate_error (error, first);
          return NULL;
        case PGRES_FATAL_ERROR:
        case PGRES_BAD_RESPONSE:
        case PGRES_NONFATAL_ERROR:
          set_first_error (&first, pge_connection_error_from_result (conn, res));
          break;
        case PGRES_EMPTY_QUERY:
          if (!simple)
            set_first_error (&first, g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                                                          "the query is empty"));
          else if (last == NULL)
            {
              last = res;
              continue;
            }
          break;
        default:
          g_clear_pointer (&last, PQclear);
          last = res;
          continue;
        }
      PQclear (res);
    }
  if (conn->timed_out)
    {
      g_clear_error (&first);
      first = timeout_error (conn);
    }
  else if (first == NULL && PQstatus (conn->pg) == CONNECTION_BAD)
    first = pge_error_new_from_conn (conn->pg, PGE_ERROR_CONNECTION, "the connection was lost");
  if (first != NULL)
    {
      g_clear_pointer (&last, PQclear);
      g_propagate_error (error, first);
      return NULL;
    }
  return last ? pge_result_new_take (last) : NULL;
}

void
pge_connection_log (PgeConnection *conn, const char *sql, gint64 start_us, PgeResult *result,
                    const GError *error)
{
  if (!conn->log_queries)
    return;
  pge_log_query (conn->label, sql, g_get_monotonic_time () - start_us,
                 result ? pge_result_get_pgresult (result) : NULL, error, conn->log_responses);
}

static GError *
send_error (PgeConnection *conn)
{
  gint code = PQstatus (conn->pg) == CONNECTION_BAD ? PGE_ERROR_CONNECTION : PGE_ERROR_FAILED;

  return pge_error_new_from_conn (conn->pg, code, "cannot send the query");
}

/* ---------------------------------------------------------- the cache */

static gboolean
in_transaction (PgeConnection *conn)
{
  return PQtransactionStatus (conn->pg) != PQTRANS_IDLE;
}

static void
key_init (PgeStatementKey *key, const char *sql, const PgeParamsView *view, guint hash)
{
  *key = (PgeStatementKey) { view->n, view->types, sql, hash };
}

static gboolean
sqlstate_is (const GError *error, const char *sqlstate)
{
  return g_strcmp0 (pge_error_get_sqlstate (error), sqlstate) == 0;
}

/* "does not exist" (26000) or "already exists" (42P05): the cache was
 * wrong about the server, and nothing ran. */
static gboolean
is_cache_miss (const GError *error)
{
  return sqlstate_is (error, "26000") || sqlstate_is (error, "42P05");
}

/* A name still waiting to be deallocated names a statement the server
 * has: take it back instead of preparing it again. */
static gboolean
revive (PgeConnection *conn, const char *name)
{
  for (guint i = 0; i < conn->evicted->len; i++)
    if (strcmp (conn->evicted->pdata[i], name) == 0)
      {
        g_ptr_array_remove_index_fast (conn->evicted, i);
        return TRUE;
      }
  return FALSE;
}

static void
add_evicted (PgeConnection *conn, char *name)
{
  if (name != NULL)
    g_ptr_array_add (conn->evicted, name);
}

static void
remember (PgeConnection *conn, const PgeStatementKey *key)
{
  add_evicted (conn, pge_statements_insert (conn->statements, key));
}

/* Fills @item's cache fields: whether it goes through the cache, its
 * name, and whether a Parse must go first. */
static void
plan (PgeConnection *conn, PgePipelineItem *item, const PgeParamsView *view)
{
  PgeStatementKey key;

  item->parse = FALSE;
  item->cached = conn->statements != NULL && !(conn->pooled && in_transaction (conn));
  if (!item->cached)
    return;
  /* A hit first: only plain queries are ever in the cache. The text is
   * hashed only if it is not the statement run last. */
  key_init (&key, item->sql, view, 0);
  if (pge_statements_lookup_last (conn->statements, &key, item->name, &item->key_hash))
    return;
  item->key_hash = key.hash = pge_statements_key_hash (item->sql, view->n, view->types);
  if (pge_statements_lookup (conn->statements, &key, item->name))
    return;
  item->cached = pge_sql_is_plain (item->sql);
  if (!item->cached)
    return;
  pge_statements_name (&key, item->name);
  if (revive (conn, item->name))
    remember (conn, &key);
  else
    {
      item->parse = TRUE;
      add_evicted (conn, pge_statements_make_room (conn->statements));
    }
}

static gboolean
send_planned (PgeConnection *conn, const PgePipelineItem *item, const PgeParamsView *view)
{
  if (!item->cached)
    return PQsendQueryParams (conn->pg, item->sql, view->n, view->types, view->values,
                              view->lengths, view->formats, 0);
  if (item->parse && !PQsendPrepare (conn->pg, item->name, item->sql, view->n, view->types))
    return FALSE;
  return PQsendQueryPrepared (conn->pg, item->name, view->n, view->values, view->lengths,
                              view->formats, 0);
}

/* The results of one planned query (in pipeline mode, then its Sync). A
 * Parse that failed because of the cache sets @item->retry. */
static void
read_planned (PgeConnection *conn, PgePipelineItem *item, const PgeParamsView *view,
              gint64 since_us, gboolean pipelined)
{
  PgeStatementKey key;
  GError *parse_error = NULL;
  PGresult *sync;

  if (item->parse)
    {
      g_autoptr(PgeResult) parsed = pge_connection_collect (conn, FALSE, &parse_error);
    }
  item->result = pge_connection_collect (conn, FALSE, &item->error);
  sync = pipelined ? PQgetResult (conn->pg) : NULL;
  item->read_us = conn->answered_us = g_get_monotonic_time ();
  if (sync != NULL && PQresultStatus (sync) != PGRES_PIPELINE_SYNC && item->error == NULL &&
      parse_error == NULL)
    item->error = g_error_new_literal (PGE_ERROR, PGE_ERROR_CONNECTION, "pipeline out of step");
  g_clear_pointer (&sync, PQclear);
  if (parse_error != NULL)
    {
      /* The Execute was skipped; its "result" is the abort notice. */
      g_clear_pointer (&item->result, pge_result_unref);
      g_clear_error (&item->error);
      item->retry = is_cache_miss (parse_error);
      item->error = parse_error;
      return;
    }
  if (!item->cached)
    return;
  key_init (&key, item->sql, view, item->key_hash);
  if (item->parse)
    remember (conn, &key);
  if (item->error == NULL)
    pge_statements_note_time (conn->statements, &key, item->read_us - since_us);
  else if (sqlstate_is (item->error, "26000") || sqlstate_is (item->error, "0A000"))
    {
      /* Lost, or its plan went stale (DDL changed its result type):
       * nothing ran, but inside a transaction the error has aborted it. */
      pge_statements_remove (conn->statements, &key);
      if (sqlstate_is (item->error, "0A000"))
        g_ptr_array_add (conn->stale, g_strdup (item->name));
      item->retry = TRUE;
    }
}

static void
end_pipeline (PgeConnection *conn)
{
  PQexitPipelineMode (conn->pg);
}

/* One planned query, in one round trip: a miss prepares and runs in a
 * pipeline (Parse, Bind, Execute, Sync); anything else is sent as usual,
 * which is cheaper than a pipeline of one. */
static PgeResult *
run_planned (PgeConnection *conn, PgePipelineItem *item, const PgeParamsView *view, gint64 start)
{
  if (!item->parse)
    {
      if (!send_planned (conn, item, view))
        item->error = send_error (conn);
      else
        read_planned (conn, item, view, start, FALSE);
      return item->result;
    }
  /* What plan() evicted goes before the Parse, while that cannot hurt. */
  if (conn->evicted->len > 0 && !in_transaction (conn))
    flush_deallocations (conn);
  if (!PQenterPipelineMode (conn->pg) || !send_planned (conn, item, view) ||
      !PQpipelineSync (conn->pg))
    {
      item->error = send_error (conn);
      if (PQpipelineStatus (conn->pg) != PQ_PIPELINE_OFF)
        end_pipeline (conn);
      return NULL;
    }
  read_planned (conn, item, view, start, TRUE);
  end_pipeline (conn);
  return item->result;
}

/* One statement through the cache, recovering from what the cache got
 * wrong about the server while that cannot hurt (outside a transaction):
 * at most a prepare, a prepared run, and an unprepared run. */
static PgeResult *
query_cached (PgeConnection *conn, PgePipelineItem *item, const PgeParamsView *view, gint64 start)
{
  gboolean in_tx = in_transaction (conn);

  plan (conn, item, view);
  run_planned (conn, item, view, start);
  if (in_tx || !item->cached || !item->retry)
    return item->result;
  /* Lost or stale: prepare it again (or, already there, just run it). */
  flush_deallocations (conn);
  g_clear_error (&item->error);
  item->retry = FALSE;
  plan (conn, item, view);
  run_planned (conn, item, view, start);
  if (item->retry)
    {
      /* Wrong twice (a pooler moving us between servers): unprepared. */
      g_clear_error (&item->error);
      item->cached = FALSE;
      item->parse = FALSE;
      item->retry = FALSE;
      run_planned (conn, item, view, start);
    }
  return item->result;
}

/* ---------------------------------------------------------- statements */

/* For the holder: runs one statement (extended protocol), through the
 * statement cache when it is a plain data query. */
PgeResult *
pge_connection_query (PgeConnection *conn, const char *sql, PgeParams *frozen_params, GError **error)
{
  return pge_connection_query_since (conn, sql, frozen_params, g_get_monotonic_time (), error);
}

/* pge_connection_query() for a caller that read the clock a moment ago,
 * at @start: the statement's log line and cache timing count from it. */
PgeResult *
pge_connection_query_since (PgeConnection *conn, const char *sql, PgeParams *frozen_params,
                            gint64 start, GError **error)
{
  PgePipelineItem item = { .sql = sql, .params = frozen_params };
  PgeParamsView view;

  pge_params_view (frozen_params, &view);
  if (view.n > PGE_MAX_PARAMS)
    item.error = g_error_new (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                              "%d parameters; PostgreSQL takes at most %d", view.n, PGE_MAX_PARAMS);
  else if (conn->statements != NULL)
    query_cached (conn, &item, &view, start);
  else if (!PQsendQueryParams (conn->pg, sql, view.n, view.types, view.values, view.lengths,
                               view.formats, 0))
    item.error = send_error (conn);
  else
    item.result = pge_connection_collect (conn, FALSE, &item.error);
  pge_connection_log (conn, sql, start, item.result, item.error);
  if (item.error != NULL)
    g_propagate_error (error, item.error);
  return item.result;
}

/* For the holder: a script, simple protocol. */
PgeResult *
pge_connection_exec_script (PgeConnection *conn, const char *script, GError **error)
{
  PgeResult *result = NULL;
  GError *local = NULL;
  gint64 start = g_get_monotonic_time ();

  if (!PQsendQuery (conn->pg, script))
    local = send_error (conn);
  else
    result = pge_connection_collect (conn, TRUE, &local);
  pge_connection_log (conn, script, start, result, local);
  if (local != NULL)
    g_propagate_error (error, local);
  return result;
}

/* For the holder: whether @sql may share a pipeline with other queries:
 * with the cache on, only a statement this connection has seen run fast,
 * so that one slow query never holds others behind it. @key_hash is
 * pge_statements_key_hash() of @sql and @params' types. */
gboolean
pge_connection_is_fast (PgeConnection *conn, const char *sql, PgeParams *params, guint key_hash)
{
  PgeParamsView view;
  PgeStatementKey key;

  if (conn->statements == NULL)
    return TRUE;
  pge_params_view (params, &view);
  key_init (&key, sql, &view, key_hash);
  return pge_statements_is_fast (conn->statements, &key);
}

/* ---------------------------------------------------------- pipelines */

/* For the holder: sends @items (autocommit queries) as one pipeline,
 * each with its own Sync, so each is its own implicit transaction and one
 * failure never touches the others. FALSE if nothing could be sent (the
 * items then carry errors); after TRUE, read each sent item in order with
 * pge_connection_pipeline_read(), then pge_connection_pipeline_end().
 * More items may be sent into a pipeline that is still being read (a
 * sliding window: dispatch.c). */
gboolean
pge_connection_pipeline_send (PgeConnection *conn, PgePipelineItem *items, guint n_items)
{
  if (PQpipelineStatus (conn->pg) == PQ_PIPELINE_OFF && !PQenterPipelineMode (conn->pg))
    {
      for (guint i = 0; i < n_items; i++)
        items[i].error = pge_error_new_from_conn (conn->pg, PGE_ERROR_CONNECTION,
                                                  "cannot start a pipeline");
      return FALSE;
    }
  for (guint i = 0; i < n_items; i++)
    {
      PgeParamsView view;

      if (items[i].skip)
        continue;
      pge_params_view (items[i].params, &view);
      plan (conn, &items[i], &view);
      if (!send_planned (conn, &items[i], &view) || !PQpipelineSync (conn->pg))
        {
          for (guint j = i; j < n_items; j++)
            if (!items[j].skip)
              items[j].error = send_error (conn);
          break;
        }
      items[i].sent = TRUE;
    }
  return TRUE;
}

/* @since_us: when the previous item's results were in (or the send). */
void
pge_connection_pipeline_read (PgeConnection *conn, PgePipelineItem *item, gint64 since_us)
{
  PgeParamsView view;

  pge_params_view (item->params, &view);
  read_planned (conn, item, &view, since_us, TRUE);
  pge_connection_log (conn, item->sql, since_us, item->result, item->error);
}

/* For the holder, in a pipeline: whether the next results are already
 * buffered, so that reading them will not wait for the server. */
gboolean
pge_connection_has_result (PgeConnection *conn)
{
  return conn->pg != NULL && !PQisBusy (conn->pg);
}

/* For the holder, in a pipeline: waits until the next results are in,
 * or until @deadline (monotonic µs): FALSE then. A failed connection
 * counts as in (the read reports it). */
gboolean
pge_connection_wait_result_until (PgeConnection *conn, gint64 deadline)
{
  while (pge_connection_is_ok (conn) && PQisBusy (conn->pg))
    {
      struct pollfd pfd = { PQsocket (conn->pg), POLLIN, 0 };
      gint64 now = g_get_monotonic_time ();

      if (now >= deadline)
        return FALSE;
      if (poll (&pfd, 1, (int) ((deadline - now + 999) / 1000)) < 0 && errno != EINTR)
        return TRUE;
      if (pfd.revents != 0 && !PQconsumeInput (conn->pg))
        return TRUE;
    }
  return TRUE;
}

/* For the holder, in a pipeline: while corked, what the sends write goes
 * out in full segments only, and all of it at uncork. libpq 15 flushes at
 * every Sync, so several queries sent together would otherwise cost one
 * segment, one send() delivery and one server wake-up each. Nothing on a
 * Unix socket. */
void
pge_connection_set_corked (PgeConnection *conn, gboolean corked)
{
  int on = corked;

  if (conn->pg != NULL && conn->tcp)
    setsockopt (PQsocket (conn->pg), IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

void
pge_connection_pipeline_end (PgeConnection *conn)
{
  end_pipeline (conn);
  if (conn->stale->len > 0 && pge_connection_is_ok (conn) && !in_transaction (conn))
    flush_deallocations (conn);
}

/* ---------------------------------------------------------------- COPY */

/* How much COPY FROM STDIN data goes to the server per CopyData message:
 * the only buffer a COPY needs on this side, whatever its size. */
#define COPY_CHUNK (64 * 1024)

/* The server's error, with its CONTEXT line ("COPY t, line 4711, column
 * x: ..."), which says where in the data it stopped. The SQLSTATE tag
 * comes once, at the end, after the context: "...: \"abc\"; context: COPY
 * t, line 4711, column id: \"abc\" [SQLSTATE 22P02]". */
static GError *
copy_server_error (PgeConnection *conn, const PGresult *res)
{
  GError *error = pge_connection_error_from_result (conn, res);
  g_autofree char *context = g_strdup (PQresultErrorField (res, PG_DIAG_CONTEXT));
  const char *sqlstate = pge_error_get_sqlstate (error);
  g_autofree char *tag = g_strdup_printf (" [SQLSTATE %s]", sqlstate ? sqlstate : "");
  gsize length = strlen (error->message);
  GError *full;

  if (context == NULL)
    return error;
  g_strdelimit (g_strchomp (context), "\n", ' ');
  if (sqlstate != NULL && g_str_has_suffix (error->message, tag))
    length -= strlen (tag);
  full = pge_error_new_sqlstate (error->code, sqlstate, "%.*s; context: %s",
                                 (int) length, error->message, context);
  g_error_free (error);
  return full;
}

static GError *
copy_cancelled (void)
{
  return g_error_new_literal (PGE_ERROR, PGE_ERROR_CANCELLED, "the COPY was cancelled");
}

static GError *
copy_callback_failed (const char *what)
{
  return g_error_new (PGE_ERROR, PGE_ERROR_FAILED, "the COPY %s failed without saying why", what);
}

/* The client gave up on a COPY TO STDOUT: the server goes on sending
 * until it is told to stop, and only a cancel request can tell it. */
static void
copy_cancel_running (PgeConnection *conn)
{
  g_mutex_lock (&conn->cancel_lock);
  if (conn->running != NULL)
    {
      g_atomic_int_set (&conn->cancel_pending, TRUE);
      send_cancel_locked (conn);
    }
  g_mutex_unlock (&conn->cancel_lock);
}

/* Whether a COPY that began at @start ran past the statement timeout.
 * The server's timer fires too, but it is not heard while this side
 * sends: libpq reads nothing during PQputCopyData(). */
static gboolean
copy_timed_out (PgeConnection *conn, gint64 start)
{
  return conn->statement_timeout_ms > 0 &&
         g_get_monotonic_time () >= start + (gint64) conn->statement_timeout_ms * 1000;
}

/* Sends what @read supplies, one chunk at a time, then ends the COPY:
 * with a failure message when this side failed, so that the server rolls
 * the COPY back and the connection goes back to idle. Stops at the
 * statement timeout (counted from @start), however steadily the input
 * flows: the call then ends no later than the timeout plus one call of
 * @read and a round trip. Returns this side's error, or NULL. */
static GError *
copy_in (PgeConnection *conn, PgeCopyFromFunc read, gpointer data, gint64 start)
{
  g_autofree char *buffer = g_malloc (COPY_CHUNK);
  GError *error = NULL;
  gboolean sent = TRUE;

  while (sent)
    {
      gssize n;

      if (cancel_wanted (conn))
        {
          error = copy_cancelled ();
          break;
        }
      if (copy_timed_out (conn, start))
        {
          error = g_error_new (PGE_ERROR, PGE_ERROR_TIMEOUT,
                               "the COPY ran past the statement timeout (%u ms); it was "
                               "stopped and rolled back", conn->statement_timeout_ms);
          break;
        }
      n = read (buffer, COPY_CHUNK, data, &error);
      if (n == 0 && error == NULL)
        break;
      if (n <= 0 || n > COPY_CHUNK || error != NULL)
        {
          if (error == NULL)
            error = n > COPY_CHUNK
                    ? g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                                           "the COPY data callback returned more than its buffer holds")
                    : copy_callback_failed ("data callback");
          break;
        }
      sent = PQputCopyData (conn->pg, buffer, (int) n) == 1;
    }
  /* A lost connection shows in the results. */
  PQputCopyEnd (conn->pg, error != NULL ? "pgengine: the client stopped the COPY" : NULL);
  return error;
}

/* Hands each chunk of COPY TO STDOUT output to @write (NULL: discards
 * them) as it arrives, waiting like any statement (deadline, cancel).
 * After @write fails, the server is cancelled and the rest discarded.
 * Returns this side's error, or NULL. */
static GError *
copy_out (PgeConnection *conn, PgeCopyToFunc write, gpointer data)
{
  GError *error = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 last_cancel = start;

  for (;;)
    {
      char *chunk = NULL;
      int n = PQgetCopyData (conn->pg, &chunk, TRUE);

      if (n > 0)
        {
          if (write != NULL && error == NULL && !write (chunk, (gsize) n, data, &error))
            {
              if (error == NULL)
                error = copy_callback_failed ("output callback");
              copy_cancel_running (conn);
            }
          PQfreemem (chunk);
          start = g_get_monotonic_time ();
          continue;
        }
      /* -1: done; -2: failed (the result says why); 0: wait for more. */
      if (n < 0 || !wait_input (conn, &start, &last_cancel))
        break;
    }
  return error;
}

static void
keep_first (GError **first, GError *error)
{
  if (error != NULL)
    set_first_error (first, error);
}

/* One result of a COPY statement. FALSE: stop reading results. */
static gboolean
copy_step (PgeConnection *conn, PGresult *res, PgeCopyFromFunc read, PgeCopyToFunc write,
           gpointer data, gint64 start, gboolean *transferred, GError **client, GError **server)
{
  switch (PQresultStatus (res))
    {
    case PGRES_COPY_IN:
      if (read == NULL || *transferred)
        {
          PQputCopyEnd (conn->pg, "pgengine: COPY FROM STDIN given to a COPY TO function");
          keep_first (client, copy_refused ("COPY FROM STDIN", "pge_engine_copy_from"));
        }
      else
        keep_first (client, copy_in (conn, read, data, start));
      *transferred = TRUE;
      return PQstatus (conn->pg) == CONNECTION_OK && !conn->timed_out;
    case PGRES_COPY_OUT:
      if (write == NULL || *transferred)
        {
          keep_first (client, copy_refused ("COPY TO STDOUT", "pge_engine_copy_to"));
          copy_cancel_running (conn);
          copy_out (conn, NULL, NULL);
        }
      else
        keep_first (client, copy_out (conn, write, data));
      *transferred = TRUE;
      return PQstatus (conn->pg) == CONNECTION_OK && !conn->timed_out;
    case PGRES_COPY_BOTH:
      /* Replication protocol: the connection cannot be recovered. */
      keep_first (client, g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                                               "replication commands are not supported"));
      return FALSE;
    case PGRES_FATAL_ERROR:
    case PGRES_BAD_RESPONSE:
    case PGRES_NONFATAL_ERROR:
      keep_first (server, copy_server_error (conn, res));
      return TRUE;
    default:
      keep_first (client, g_error_new (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                                       "not a COPY %s: the server ran it as a plain statement",
                                       read != NULL ? "FROM STDIN" : "TO STDOUT"));
      return TRUE;
    }
}

/* For the holder: runs one COPY statement (extended protocol, so one
 * statement only), feeding it from @read (COPY FROM STDIN) or handing
 * its output to @write (COPY TO STDOUT) — exactly one of them set —
 * without holding more than one chunk. Whatever fails, the COPY is ended
 * and its results read, so the connection stays usable. An error of this
 * side (a callback's, a cancel) wins over the server's that it caused. */
PgeResult *
pge_connection_copy (PgeConnection *conn, const char *sql, PgeCopyFromFunc read,
                     PgeCopyToFunc write, gpointer data, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  gboolean transferred = FALSE;
  GError *client = NULL;
  GError *server = NULL;
  PGresult *last = NULL;
  PGresult *res;
  PgeResult *result = NULL;

  if (!PQsendQueryParams (conn->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
    client = send_error (conn);
  else
    while (pge_connection_wait_for_result (conn), (res = PQgetResult (conn->pg)) != NULL)
      {
        gboolean more;

        if (transferred && PQresultStatus (res) == PGRES_COMMAND_OK)
          {
            g_clear_pointer (&last, PQclear);
            last = res;
            continue;
          }
        more = copy_step (conn, res, read, write, data, start, &transferred, &client, &server);
        PQclear (res);
        if (!more)
          break;
      }
  if (conn->timed_out)
    {
      g_clear_error (&client);
      client = timeout_error (conn);
    }
  else if (client == NULL && server == NULL && PQstatus (conn->pg) == CONNECTION_BAD)
    server = pge_error_new_from_conn (conn->pg, PGE_ERROR_CONNECTION, "the connection was lost");
  if (client != NULL)
    g_clear_error (&server);
  else
    client = g_steal_pointer (&server);
  if (client == NULL && last == NULL)
    client = g_error_new_literal (PGE_ERROR, PGE_ERROR_FAILED, "the COPY gave no result");
  if (client == NULL)
    result = pge_result_new_take (g_steal_pointer (&last));
  g_clear_pointer (&last, PQclear);
  pge_connection_log (conn, sql, start, result, client);
  if (client != NULL)
    g_propagate_error (error, client);
  return result;
}

/* ------------------------------------------------------------- metrics */

/* Any thread: the cache lives as long as the connection object and only
 * its counters are read (relaxed). */
void
pge_connection_add_cache_counts (PgeConnection *conn, guint64 *hits, guint64 *misses)
{
  if (conn->statements != NULL)
    pge_statements_add_counts (conn->statements, hits, misses);
}

/* For the holder, around one call with its own statement timeout
 * (calloptions.c): the client-side deadline follows the server's timer.
 * Returns the value it replaces. */
guint
pge_connection_swap_statement_timeout (PgeConnection *conn, guint timeout_ms)
{
  guint old = conn->statement_timeout_ms;

  conn->statement_timeout_ms = timeout_ms;
  return old;
}
