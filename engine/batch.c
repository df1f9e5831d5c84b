/* batch.c — PgeBatch, a server-side cursor read in chunks, with prefetch.
 *
 * Outside a transaction a batch pins a worker of the main node (a lease,
 * pool.c), opens its own transaction there (`BEGIN`) and declares
 * `"pge_cursor_<n>" NO SCROLL CURSOR FOR <sql>` with the caller's
 * parameters (extended protocol: DECLARE takes $n). Inside the calling
 * thread's current transaction, or with pge_transaction_batch(), the
 * cursor is declared in that transaction, on its worker, and the batch
 * never begins, commits or rolls back anything.
 *
 * Chunks: every `FETCH FORWARD n` is a job on the pinned worker, so they
 * run in the order they are taken. Prefetch: when the caller takes the
 * future of chunk k (pge_batch_next() or pge_batch_fetch()), the job for
 * chunk k+1 is queued at once, behind it. The worker fetches k+1 while the
 * caller works on k, so a scan costs max(server, caller) per chunk rather
 * than server + caller. A chunk shorter than n rows (or an error) ends the
 * scan: no more fetches are queued, and next() gives %NULL forever (or
 * the error). The one fetch that may already be queued past the end costs
 * a round trip returning no rows, once per scan. Prefetch runs one chunk
 * ahead also inside a caller's transaction: an error in the chunk after
 * the last one taken (a division by zero at row 5000 when the caller
 * stopped at row 4000) still happens and aborts that transaction, as the
 * FETCH would have had the caller asked for it. PGE_BATCH_PREFETCH=0 (see
 * below) avoids that where it matters more than speed.
 *
 * Prefetch can be switched off: PGE_BATCH_PREFETCH=0 in the environment,
 * read when each batch is created (tools/pge-bench-batch
 * flips it between two scans of the same run).
 *
 * Threads: `state_lock` guards the fields under it in struct _PgeBatch;
 * it is never held while waiting on a future, and nested locks (a pool's
 * queue_lock through a submission, a future's lock through peeking at a
 * done future) are always taken inside it, never around it. Jobs never
 * see the batch: they share a small refcounted BatchCursor (names, SQL,
 * the lease, two atomic flags), so a job finishing on a worker thread can
 * never drop the last reference to a batch there.
 *
 * Lifetime: pge_batch_close() closes the cursor, commits the batch's own
 * transaction and waits for the worker to be back in the pool. The last
 * unref of an unclosed batch never blocks: it releases the worker (which
 * drains, ROLLS BACK the batch's own transaction and returns to the pool),
 * then the cursor (inside a caller's transaction: a queued `CLOSE`),
 * then its reference on the transaction and the engine, in that order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "async-private.h"
#include "engine-private.h"
#include "errors-private.h"
#include "job-private.h"
#include "params-private.h"
#include "dispatch-private.h"
#include "transaction-private.h"
#include "connection-private.h"
#include "submit-private.h"

#define DEFAULT_BATCH_SIZE 100

/* What the jobs of one batch share. Immutable but for the atomic flags. */
typedef struct {
  char      *name;         /* "pge_cursor_<n>", quoted where used */
  char      *declare_sql;
  char      *fetch_sql;
  char      *close_sql;
  PgeParams *params;       /* frozen copy, nullable; for DECLARE */
  PgeLease  *lease;        /* owned; the batch's own transaction, or NULL */
  gint       closing;      /* atomic: queued fetches skip the server */
  gint       failed;       /* atomic: the own transaction was rolled back */
} BatchCursor;

struct _PgeBatch {
  PgeEngine      *engine;      /* owned */
  PgeTransaction *tx;          /* owned; the caller's transaction, or NULL */
  BatchCursor    *cursor;      /* owned (rc box) */
  guint           batch_size;  /* immutable */
  gboolean        prefetch;    /* immutable */

  GMutex          state_lock;
  PgeFuture      *pending;     /* queued ahead, not handed out yet */
  PgeFuture      *last;        /* the last future handed out */
  gboolean        ended;       /* a handed-out chunk was short or failed */
  GError         *error;       /* why the scan failed, if it did */
  gboolean        closed;
};

/**
 * PgeBatch:
 *
 * A server-side cursor read in chunks.
 *
 * Created by pge_engine_batch() or pge_transaction_batch();
 * pge_batch_next() returns the next chunk while the worker already
 * fetches the one after. Thread-safe.
 *
 * Since: 1.0
 */
/**
 * pge_batch_get_type:
 *
 * Returns: the boxed #GType of #PgeBatch
 *
 * Since: 1.0
 */
G_DEFINE_BOXED_TYPE (PgeBatch, pge_batch, pge_batch_ref, pge_batch_unref)

/* Cursor names only need to be unique per connection. Global and atomic,
 * with a reason: it is a name source, not state of any engine (nothing
 * reads it back, so nothing to create or destroy with one), one counter
 * for the process is simpler than one per engine, and a repeat needs 2^32
 * batches with the first still open on the same connection. Only
 * g_atomic_int_add() touches it. */
static guint cursor_counter = 0;

/* ------------------------------------------------------------- cursor */

static void
batch_cursor_clear (gpointer data)
{
  BatchCursor *cursor = data;

  g_free (cursor->name);
  g_free (cursor->declare_sql);
  g_free (cursor->fetch_sql);
  g_free (cursor->close_sql);
  g_clear_pointer (&cursor->params, pge_params_unref);
  g_clear_pointer (&cursor->lease, pge_lease_unref);
}

static BatchCursor *
batch_cursor_new (const char *sql, PgeParams *params, guint batch_size)
{
  BatchCursor *cursor = g_atomic_rc_box_new0 (BatchCursor);

  cursor->name = g_strdup_printf ("pge_cursor_%u", (guint) g_atomic_int_add (&cursor_counter, 1));
  cursor->declare_sql = g_strdup_printf ("DECLARE \"%s\" NO SCROLL CURSOR FOR %s", cursor->name, sql);
  cursor->fetch_sql = g_strdup_printf ("FETCH FORWARD %u FROM \"%s\"", batch_size, cursor->name);
  cursor->close_sql = g_strdup_printf ("CLOSE \"%s\"", cursor->name);
  cursor->params = params ? pge_params_copy (params) : NULL;
  return cursor;
}

static BatchCursor *
batch_cursor_ref (BatchCursor *cursor)
{
  return g_atomic_rc_box_acquire (cursor);
}

static void
batch_cursor_unref (gpointer cursor)
{
  g_atomic_rc_box_release_full (cursor, batch_cursor_clear);
}

/* The batch's own transaction failed: roll it back now (rather than when
 * the worker unpins) and let the worker go. On the worker thread. */
static void
batch_cursor_abort (BatchCursor *cursor, PgeConnection *conn)
{
  PGconn *pg = pge_connection_get_pgconn (conn);

  if (cursor->lease == NULL)
    return;
  g_atomic_int_set (&cursor->failed, TRUE);
  if (PQstatus (pg) == CONNECTION_OK && PQtransactionStatus (pg) != PQTRANS_IDLE)
    PQclear (PQexec (pg, "ROLLBACK"));
  pge_lease_release (cursor->lease, FALSE);
}

/* ------------------------------------------------------ worker-side jobs */

/* BEGIN (own transaction only) and DECLARE. */
static PgeResult *
batch_declare_run (PgeJob *job, PgeConnection *conn, gpointer data, GError **error)
{
  BatchCursor *cursor = data;
  g_autoptr(PgeResult) begin = NULL;
  PgeResult *result;
  GError *local = NULL;

  if (cursor->lease != NULL)
    begin = pge_connection_query (conn, "BEGIN", NULL, &local);
  if (local == NULL)
    {
      result = pge_connection_query (conn, cursor->declare_sql, cursor->params, &local);
      g_clear_pointer (&result, pge_result_unref);
    }
  if (local != NULL)
    {
      batch_cursor_abort (cursor, conn);
      g_propagate_error (error, local);
    }
  return NULL;
}

/* One FETCH FORWARD n. No rows gives no result: the end of the scan. */
static PgeResult *
batch_fetch_run (PgeJob *job, PgeConnection *conn, gpointer data, GError **error)
{
  BatchCursor *cursor = data;
  PgeResult *result;
  GError *local = NULL;

  if (g_atomic_int_get (&cursor->failed))
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                           "an earlier step of this batch failed; its transaction "
                           "was rolled back");
      return NULL;
    }
  if (g_atomic_int_get (&cursor->closing))
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE, "the batch is closed");
      return NULL;
    }
  result = pge_connection_query (conn, cursor->fetch_sql, NULL, &local);
  if (local != NULL)
    {
      batch_cursor_abort (cursor, conn);
      g_propagate_error (error, local);
      return NULL;
    }
  if (result != NULL && pge_result_get_n_rows (result) == 0)
    g_clear_pointer (&result, pge_result_unref);
  return result;
}

/* CLOSE and COMMIT of the own transaction, in one round trip. */
static PgeResult *
batch_commit_run (PgeJob *job, PgeConnection *conn, gpointer data, GError **error)
{
  BatchCursor *cursor = data;
  g_autofree char *script = NULL;
  PgeResult *result;
  GError *local = NULL;

  if (g_atomic_int_get (&cursor->failed))
    {
      /* A prefetch the caller never looked at failed (close() skips the
       * commit when it knows of a failure): say that nothing committed. */
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                           "a prefetched chunk of this batch failed, so its transaction "
                           "was rolled back, not committed");
      return NULL;
    }
  script = g_strdup_printf ("%s; COMMIT", cursor->close_sql);
  result = pge_connection_exec_script (conn, script, &local);
  g_clear_pointer (&result, pge_result_unref);
  if (local != NULL)
    {
      batch_cursor_abort (cursor, conn);
      g_propagate_error (error, local);
    }
  return NULL;
}

/* ------------------------------------------------------------- helpers */

/* Queues @job where the batch's jobs go. Returns a new reference to its
 * future. */
static PgeFuture *
batch_submit (PgeBatch *batch, PgeJob *job)
{
  if (batch->tx != NULL)
    pge_transaction_submit (batch->tx, job);
  else
    pge_dispatch_lease_submit (batch->cursor->lease, job, FALSE);
  return pge_future_ref (job->future);
}

static PgeFuture *
batch_submit_call (PgeBatch *batch, PgeJobFunc func)
{
  g_autoptr(PgeJob) job = pge_job_new_call (func, batch_cursor_ref (batch->cursor),
                                            batch_cursor_unref);

  return batch_submit (batch, job);
}

static PgeFuture *
future_done (PgeResult *result, GError *error)
{
  PgeFuture *future = pge_future_new ();

  pge_future_resolve (future, result, error);
  return future;
}

static gboolean
prefetch_enabled (void)
{
  const char *value = g_getenv ("PGE_BATCH_PREFETCH");

  return value == NULL || g_strcmp0 (value, "0") != 0;
}

static PgeBatch *
set_invalid (GError **error, const char *message)
{
  g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, message);
  return NULL;
}

static void
batch_free (PgeBatch *batch)
{
  g_clear_pointer (&batch->pending, pge_future_unref);
  g_clear_pointer (&batch->last, pge_future_unref);
  g_clear_error (&batch->error);
  g_clear_pointer (&batch->cursor, batch_cursor_unref);
  g_clear_pointer (&batch->tx, pge_transaction_unref);
  g_clear_pointer (&batch->engine, pge_engine_unref);
  g_mutex_clear (&batch->state_lock);
}

/* Checks the arguments and makes the batch, with nothing sent yet. @tx:
 * the caller's transaction (a new reference is taken), or NULL for an own
 * transaction on a worker its lease will pin. @blocking: the caller is
 * going to wait (refused on the engine's own threads). */
static PgeBatch *
batch_alloc (PgeEngine *engine, PgeTransaction *tx, const char *sql, PgeParams *params,
             guint batch_size, gboolean blocking, GError **error)
{
  PgeBatch *batch;

  if (sql == NULL)
    return set_invalid (error, "the SQL is NULL");
  if (batch_size > G_MAXINT32)
    return set_invalid (error, "batch_size is larger than PostgreSQL's FETCH count (2^31 - 1)");
  if (params != NULL && pge_params_get_length (params) > PGE_MAX_PARAMS)
    return set_invalid (error, "too many parameters; PostgreSQL takes at most 65535");
  if (!pge_engine_check_open (engine, error) ||
      (blocking && !pge_engine_check_may_block (engine, "creating a batch", error)))
    return NULL;
  if (tx != NULL && !pge_transaction_is_open (tx))
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                           "the transaction has already ended");
      return NULL;
    }

  batch = g_atomic_rc_box_new0 (PgeBatch);
  g_mutex_init (&batch->state_lock);
  batch->engine = pge_engine_ref (engine);
  batch->tx = tx ? pge_transaction_ref (tx) : NULL;
  batch->batch_size = batch_size == 0 ? DEFAULT_BATCH_SIZE : batch_size;
  batch->prefetch = prefetch_enabled ();
  batch->cursor = batch_cursor_new (sql, params, batch->batch_size);
  if (tx == NULL)
    batch->cursor->lease = pge_lease_new (pge_engine_get_primary (engine));
  return batch;
}

/* Creates the batch and declares its cursor, blocking until the server
 * answers. */
static PgeBatch *
batch_new (PgeEngine *engine, PgeTransaction *tx, const char *sql, PgeParams *params,
           guint batch_size, GError **error)
{
  PgeBatch *batch = batch_alloc (engine, tx, sql, params, batch_size, TRUE, error);
  g_autoptr(PgeFuture) declared = NULL;
  g_autoptr(PgeResult) result = NULL;
  GError *local = NULL;

  if (batch == NULL)
    return NULL;
  if (tx == NULL && !pge_dispatch_pin_sync (batch->cursor->lease, &local))
    {
      pge_dispatch_lease_end (batch->cursor->lease, TRUE);
      batch->closed = TRUE;
      g_propagate_error (error, local);
      pge_batch_unref (batch);
      return NULL;
    }

  declared = batch_submit_call (batch, batch_declare_run);
  result = pge_future_wait (declared, &local);
  if (local != NULL)
    {
      /* The job already rolled back and released an own transaction
       * (unless it never ran: release again, it is idempotent). Inside a
       * caller's transaction the server has aborted it. */
      if (batch->cursor->lease != NULL)
        pge_lease_release (batch->cursor->lease, FALSE);
      batch->closed = TRUE;
      g_propagate_error (error, local);
      pge_batch_unref (batch);
      return NULL;
    }
  return batch;
}

/* ---------------------------------------------------------- public API */

/**
 * pge_engine_batch:
 * @engine: a #PgeEngine
 * @sql: a query that returns rows (`SELECT`, `VALUES`, `... RETURNING` is
 *   not allowed by PostgreSQL in a cursor), with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 * @batch_size: rows per chunk; 0 means 100
 * @error: return location for a #GError
 *
 * Opens a server-side cursor over @sql, to be read in chunks with
 * pge_batch_next() or pge_batch_fetch(). On a thread that has a current
 * transaction on @engine, the cursor lives in that transaction (as with
 * pge_transaction_batch()). Otherwise the batch pins a worker of the main
 * node (waiting up to the acquire timeout, else %PGE_ERROR_TIMEOUT) and
 * opens its own transaction there, which pge_batch_close() commits.
 *
 * Blocks until the cursor is declared. Bad SQL fails here with the
 * server's error (%PGE_ERROR_QUERY and its SQLSTATE) and frees everything:
 * the own transaction is rolled back and the worker returns to the pool;
 * inside a caller's transaction, PostgreSQL aborts that transaction, as
 * any failed statement does. A %NULL @sql, a @batch_size above
 * 2147483647 or more than 65535 parameters is
 * %PGE_ERROR_INVALID_ARGUMENT, and nothing is sent.
 *
 * Thread-safe. On one of @engine's own worker threads (a %NULL-context
 * future callback) it fails with %PGE_ERROR_WOULD_DEADLOCK: it could wait for
 * itself.
 *
 * Returns: (transfer full) (nullable): the batch, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeBatch *
pge_engine_batch (PgeEngine *engine, const char *sql, PgeParams *params, guint batch_size,
                  GError **error)
{
  g_autoptr(PgeTransaction) tx = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  tx = pge_transaction_dup_current (engine);
  return batch_new (engine, tx, sql, params, batch_size, error);
}

/**
 * pge_transaction_batch:
 * @tx: an open transaction
 * @sql: a query that returns rows, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 * @batch_size: rows per chunk; 0 means 100
 * @error: return location for a #GError
 *
 * Like pge_engine_batch(), but always inside @tx, whichever thread calls
 * it: the cursor sees @tx's uncommitted rows, its chunks run on @tx's
 * worker in order with @tx's other statements, and the batch never
 * commits or rolls back @tx. The cursor ends with @tx at the latest; a
 * fetch after @tx has ended fails with %PGE_ERROR_TRANSACTION_STATE. An
 * ended @tx gives %PGE_ERROR_TRANSACTION_STATE here; bad SQL gives the
 * server's error and aborts @tx, as any failed statement does.
 *
 * Blocks until the cursor is declared. Thread-safe, except on one of the
 * engine's own worker threads, where it fails with %PGE_ERROR_WOULD_DEADLOCK.
 *
 * Returns: (transfer full) (nullable): the batch, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeBatch *
pge_transaction_batch (PgeTransaction *tx, const char *sql, PgeParams *params, guint batch_size,
                       GError **error)
{
  g_return_val_if_fail (tx != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return batch_new (pge_transaction_get_engine (tx), tx, sql, params, batch_size, error);
}

/**
 * pge_batch_ref:
 * @batch: a #PgeBatch
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @batch
 *
 * Since: 1.0
 */
PgeBatch *
pge_batch_ref (PgeBatch *batch)
{
  g_return_val_if_fail (batch != NULL, NULL);
  return g_atomic_rc_box_acquire (batch);
}

/* The last reference went without a close: let go without waiting. */
static void
batch_abandon (PgeBatch *batch)
{
  BatchCursor *cursor = batch->cursor;

  g_atomic_int_set (&cursor->closing, TRUE);
  if (cursor->lease != NULL)
    {
      /* The worker drains the queued fetches (which now skip the server),
       * rolls the own transaction back and returns to the pool. */
      pge_lease_release (cursor->lease, FALSE);
    }
  else if (pge_transaction_is_open (batch->tx))
    {
      /* Free the cursor's server memory now rather than at the end of the
       * caller's transaction; nobody waits for the answer. Even after a
       * scan error: a fetch cancelled while queued left the cursor open
       * (and where the error aborted the transaction, this fails
       * harmlessly). */
      g_autoptr(PgeJob) job = pge_job_new_query (cursor->close_sql, NULL);

      pge_transaction_submit (batch->tx, job);
    }
}

static void
batch_finalize (gpointer data)
{
  PgeBatch *batch = data;

  if (!batch->closed)
    batch_abandon (batch);
  batch_free (batch);
}

/**
 * pge_batch_unref:
 * @batch: (transfer full): a #PgeBatch
 *
 * Drops a reference. The last one of a batch that was not closed closes
 * it without committing: the batch's own transaction is rolled back and
 * its worker returns to the pool once the fetches already queued are
 * done; inside a caller's transaction a `CLOSE` of the cursor is queued
 * there. Never blocks, so it is safe on any thread, including a worker's
 * callback. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_batch_unref (PgeBatch *batch)
{
  g_return_if_fail (batch != NULL);
  g_atomic_rc_box_release_full (batch, batch_finalize);
}

/* Looks at the last chunk handed out, if it is in: a short chunk or an
 * error ends the scan. */
static void
update_end_locked (PgeBatch *batch)
{
  g_autoptr(PgeResult) result = NULL;
  GError *error = NULL;

  if (batch->ended || batch->last == NULL || !pge_future_is_done (batch->last))
    return;
  result = pge_future_wait (batch->last, &error);
  if (error != NULL)
    {
      batch->ended = TRUE;
      batch->error = error;
      /* The job has released an own transaction already, unless it never
       * ran (lost connection, closing engine): make sure. */
      if (batch->cursor->lease != NULL)
        pge_lease_release (batch->cursor->lease, FALSE);
    }
  else if (result == NULL || pge_result_get_n_rows (result) < batch->batch_size)
    batch->ended = TRUE;
}

static PgeFuture *
take_locked (PgeBatch *batch)
{
  PgeFuture *future;

  if (batch->closed)
    return future_done (NULL, g_error_new_literal (PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                                                   "the batch is closed"));
  update_end_locked (batch);
  if (batch->ended)
    {
      /* A fetch queued before the end was known returns nothing useful. */
      g_clear_pointer (&batch->pending, pge_future_unref);
      return future_done (NULL, batch->error ? g_error_copy (batch->error) : NULL);
    }
  if (batch->pending != NULL)
    future = g_steal_pointer (&batch->pending);
  else
    future = batch_submit_call (batch, batch_fetch_run);
  g_clear_pointer (&batch->last, pge_future_unref);
  batch->last = pge_future_ref (future);
  if (batch->prefetch)
    batch->pending = batch_submit_call (batch, batch_fetch_run);
  return future;
}

/**
 * pge_batch_fetch:
 * @batch: a #PgeBatch
 *
 * The future form of pge_batch_next(): the future gives the next chunk,
 * or no result (and no error) once the rows are exhausted. Calls to
 * pge_batch_fetch() and pge_batch_next() may be mixed and take the chunks
 * in call order. Taking a chunk queues the fetch of the following one, so
 * the server works while the caller does. An error mid-scan (and every
 * chunk after it) fails with that error; after pge_batch_close(), with
 * %PGE_ERROR_TRANSACTION_STATE. Cancelling the future cancels its FETCH,
 * which ends the scan like any error. Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the next chunk
 *
 * Since: 1.0
 */
PgeFuture *
pge_batch_fetch (PgeBatch *batch)
{
  PgeFuture *future;

  g_return_val_if_fail (batch != NULL, NULL);
  g_mutex_lock (&batch->state_lock);
  future = take_locked (batch);
  g_mutex_unlock (&batch->state_lock);
  return future;
}

/**
 * pge_batch_next:
 * @batch: a #PgeBatch
 * @error: return location for a #GError
 *
 * The next chunk: up to the batch size rows (`FETCH FORWARD n`), in the
 * cursor's order. Once the rows are exhausted, returns %NULL without an
 * error, and keeps doing so. An error mid-scan (a division by zero at row
 * 5000, a cancel, a lost connection) is returned here; the batch's own
 * transaction has then been rolled back and its worker freed (inside a
 * caller's transaction, PostgreSQL has aborted that transaction). Later
 * calls return the same error, never hang.
 *
 * Blocks until the chunk is in, which with prefetch is usually at once.
 * Thread-safe. On one of the engine's own worker threads (a %NULL-context
 * future callback) it fails with %PGE_ERROR_WOULD_DEADLOCK, since it could wait
 * for itself: use pge_batch_fetch() there.
 *
 * Returns: (transfer full) (nullable): the rows, or %NULL at the end or
 *   with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_batch_next (PgeBatch *batch, GError **error)
{
  g_autoptr(PgeFuture) future = NULL;

  g_return_val_if_fail (batch != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (!pge_engine_check_may_block (batch->engine, "pge_batch_next()", error))
    return NULL;
  future = pge_batch_fetch (batch);
  return pge_future_wait (future, error);
}

/**
 * pge_batch_close:
 * @batch: a #PgeBatch
 * @error: return location for a #GError
 *
 * Closes the cursor. A batch with its own transaction then commits it
 * (`CLOSE` and `COMMIT` in one round trip) and its worker goes back to
 * the pool before this returns; inside a caller's transaction only the
 * cursor is closed. Idempotent: closing again returns %TRUE. After a scan
 * whose error the caller has seen there is nothing left to close, and this
 * returns %TRUE; if a prefetched chunk the caller never took failed, the
 * own transaction was rolled back instead of committed, and this says so
 * with %PGE_ERROR_TRANSACTION_STATE.
 * Fetches taken but not started yet resolve with
 * %PGE_ERROR_TRANSACTION_STATE. A failing `COMMIT` is reported here (the
 * transaction is rolled back and the worker freed all the same).
 *
 * Blocks. Thread-safe. On one of the engine's own worker threads (a
 * %NULL-context future callback) it fails with %PGE_ERROR_WOULD_DEADLOCK and
 * leaves the batch open: drop the reference there instead, which never
 * blocks (and rolls back).
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
pge_batch_close (PgeBatch *batch, GError **error)
{
  BatchCursor *cursor;
  g_autoptr(PgeFuture) closed = NULL;
  g_autoptr(PgeResult) result = NULL;
  gboolean failed;
  GError *local = NULL;

  g_return_val_if_fail (batch != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pge_engine_check_may_block (batch->engine, "pge_batch_close()", error))
    return FALSE;
  cursor = batch->cursor;
  g_mutex_lock (&batch->state_lock);
  if (batch->closed)
    {
      g_mutex_unlock (&batch->state_lock);
      return TRUE;
    }
  batch->closed = TRUE;
  update_end_locked (batch);
  failed = batch->error != NULL;
  g_clear_pointer (&batch->pending, pge_future_unref);
  g_mutex_unlock (&batch->state_lock);

  g_atomic_int_set (&cursor->closing, TRUE);
  if (cursor->lease != NULL)
    {
      if (!failed)
        closed = batch_submit_call (batch, batch_commit_run);
      if (closed != NULL)
        result = pge_future_wait (closed, &local);
      pge_dispatch_lease_end (cursor->lease, TRUE);
    }
  else if (pge_transaction_is_open (batch->tx))
    {
      g_autoptr(PgeJob) job = pge_job_new_query (cursor->close_sql, NULL);

      closed = batch_submit (batch, job);
      result = pge_future_wait (closed, &local);
      /* After a scan error the cursor may be gone (34000) or the
       * transaction aborted (25P02): the scan's error was reported then;
       * a fetch cancelled while queued, though, left the cursor open,
       * which is why CLOSE is still sent. */
      if (failed)
        g_clear_error (&local);
    }
  /* Otherwise the transaction has ended, and the cursor with it. */

  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

/**
 * pge_batch_get_batch_size:
 * @batch: a #PgeBatch
 *
 * Never blocks; thread-safe.
 *
 * Returns: the rows per chunk (100 when the batch was created with 0)
 *
 * Since: 1.0
 */
guint
pge_batch_get_batch_size (PgeBatch *batch)
{
  g_return_val_if_fail (batch != NULL, 0);
  return batch->batch_size;
}

/* ----------------------------------------------------------------- batch */

/* An asynchronous open is two jobs completing in the caller's context:
 * the PIN job of the batch's lease (queued like any job), then DECLARE.
 * The task data is the batch: if the task does not return it, its last
 * unref lets the worker go without blocking (batch_abandon()). */

static void
batch_async_declared (GTask *task, PgeResult *result, GError *error)
{
  PgeBatch *batch = g_task_get_task_data (task);

  g_clear_pointer (&result, pge_result_unref);
  if (error != NULL)
    {
      g_task_return_error (task, pge_async_translate_cancel (error, g_task_get_cancellable (task)));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;
  g_task_return_pointer (task, pge_batch_ref (batch), (GDestroyNotify) pge_batch_unref);
}

static void
batch_async_pinned (GTask *task)
{
  PgeBatch *batch = g_task_get_task_data (task);
  g_autoptr(PgeFuture) declared = NULL;

  declared = batch_submit_call (batch, batch_declare_run);
  pge_async_then (task, declared, batch_async_declared);
}

/**
 * pge_engine_batch_async:
 * @engine: a #PgeEngine
 * @sql: a query that returns rows, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 * @batch_size: rows per chunk; 0 means 100
 * @cancellable: (nullable): cancels the batch before its cursor is
 *   declared; a batch opened before the cancel is closed again
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * pge_engine_batch() without blocking and without any helper thread: a
 * request for a worker is queued like any job, then the cursor is
 * declared on the pinned worker, and @callback runs in the thread-default
 * #GMainContext of the calling thread at the time of this call, with
 * @engine as its source object, where pge_engine_batch_finish() gets the
 * batch. The batch always
 * has its own transaction (it never joins the calling thread's current
 * one); inside a transaction, use pge_transaction_batch(). Read it with
 * pge_batch_next_async(). Never blocks.
 *
 * Since: 1.0
 */
void
pge_engine_batch_async (PgeEngine          *engine,
                        const char         *sql,
                        PgeParams          *params,
                        guint               batch_size,
                        GCancellable       *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer            user_data)
{
  GError *error = NULL;
  PgeBatch *batch;
  GTask *task;

  g_return_if_fail (PGE_IS_ENGINE (engine));
  task = pge_async_task_new (engine, pge_engine_batch_async, "pge_engine_batch_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  /* The batch always gets its own transaction; the SQL and the params are
   * copied into its cursor before this returns. */
  batch = batch_alloc (engine, NULL, sql, params, batch_size, FALSE, &error);
  if (batch == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_task_set_task_data (task, batch, (GDestroyNotify) pge_batch_unref);
  pge_async_pin_then (task, pge_engine_get_primary (engine), batch->cursor->lease, batch_async_pinned);
  g_object_unref (task);
}

/**
 * pge_engine_batch_finish:
 * @engine: the #PgeEngine given to pge_engine_batch_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Errors as for pge_engine_batch() (bad SQL fails here), or
 * %G_IO_ERROR_CANCELLED. Never blocks.
 *
 * Returns: (transfer full) (nullable): the batch, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeBatch *
pge_engine_batch_finish (PgeEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (pge_async_task_check (result, engine, pge_engine_batch_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pge_batch_next_async:
 * @batch: a #PgeBatch
 * @cancellable: (nullable): cancels the chunk's `FETCH` (queued: it never
 *   runs; running: through libpq's cancel API), which ends the scan like
 *   any error
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * GIO-style pge_batch_next(), on pge_batch_fetch(): takes the next chunk
 * (so chunks come in call order, and the following one is prefetched) and
 * @callback runs in the thread-default #GMainContext of the calling
 * thread at the time of this call, where pge_batch_next_finish() gets the
 * rows. Never blocks.
 *
 * Since: 1.0
 */
void
pge_batch_next_async (PgeBatch           *batch,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  g_autoptr(PgeFuture) future = NULL;
  GTask *task;

  g_return_if_fail (batch != NULL);
  task = pge_async_task_new (batch->engine, pge_batch_next_async, "pge_batch_next_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  future = pge_batch_fetch (batch);
  pge_async_follow_result (task, future);
}

/**
 * pge_batch_next_finish:
 * @batch: the #PgeBatch given to pge_batch_next_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets a chunk taken by pge_batch_next_async(): up to the batch size rows,
 * or %NULL without an error once the rows are exhausted. An error mid-scan
 * is returned here, as by pge_batch_next(); a cancelled #GCancellable
 * gives %G_IO_ERROR_CANCELLED. Never blocks.
 *
 * Returns: (transfer full) (nullable): the rows, or %NULL at the end or
 *   with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_batch_next_finish (PgeBatch *batch, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (batch != NULL, NULL);
  g_return_val_if_fail (pge_async_task_check (result, batch->engine, pge_batch_next_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
