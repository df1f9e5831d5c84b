/* transaction.c — PgeTransaction: a pinned worker, nesting, the current
 * transaction, commit and rollback (pge_engine_run_transaction(), the
 * retrying block, is in retry.c; savepoint names are checked by
 * identifier.c).
 *
 * Shape: an outermost transaction owns a lease (pool.c) that pins one
 * worker of the main node for its whole life; BEGIN, every statement and
 * the final COMMIT/ROLLBACK are jobs on that lease, so they run on that
 * worker's connection in submission order. A savepoint-nested inner
 * transaction shares its outermost's lease through `TxShared`, holds a
 * reference on its parent, and is a SAVEPOINT on the same connection.
 * Default nesting hands out the current transaction itself. On a thread
 * with a current session (session.c), an outermost transaction begun
 * there (not one begun with _async) borrows the session's lease instead
 * of pinning one: it never ends it (the session does), and its last unref
 * while open queues a ROLLBACK there.
 *
 * Current transaction: a transaction that begins becomes the top of the
 * calling thread's stack for its engine (engine.c keeps the per-engine,
 * per-thread stacks); engine-level queries from that thread are routed
 * here through pge_transaction_submit(). Stack entries are weak, which is
 * why the reference count is a plain atomic int with a try_ref: the
 * engine may find an entry whose count already hit zero on another thread.
 *
 * Threads: everything a tree of transactions shares that can change —
 * each member's state, the children lists, the error that aborted the
 * server transaction, the count of submissions in flight — is guarded by
 * `TxShared.lock`. It is never held while waiting on a future, nor
 * across pge_lease_submit(): a refused submission fails its job on the
 * submitting thread, running callbacks that may come back here. So a
 * submission checks the state under the lock, then queues outside it
 * behind the `n_submitting` gate; ending a transaction flips its state to
 * ENDING and waits for submissions already past the check, so no
 * statement can slip in after COMMIT and run outside the transaction on
 * the still-pinned worker. No other lock is ever taken while it is held
 * (the current stacks are updated after it is dropped).
 *
 * Why a statement failed: each job on the lease gets a %NULL-context
 * callback that runs on the worker thread right after the job, before the
 * next one, and compares the connection's transaction status: the first
 * error that left it aborted is kept (commit reports it), and a recovery
 * (ROLLBACK TO) clears it. The server's status stays the source of truth:
 * commit asks PQtransactionStatus(), never this record.
 *
 * Lifetime: the last unref leaves the current stack, then rolls back an
 * unfinished transaction (an inner one queues ROLLBACK TO + RELEASE; an
 * outermost one releases its lease, whose worker rolls back what is open
 * and returns to the pool), then drops its parent, its shared part and
 * its engine, in that order. It waits for the worker to be back in the
 * pool, except on one of the engine's own worker threads (a future
 * callback), where waiting could mean waiting for itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "async-private.h"
#include "calloptions-private.h"
#include <string.h>

#include "connection-private.h"
#include "dispatch-private.h"
#include "engine-private.h"
#include "errors-private.h"
#include "identifier-private.h"
#include "result-private.h"
#include "session-private.h"
#include "transaction-private.h"

#define ALL_FLAGS (PGE_TRANSACTION_READ_ONLY | PGE_TRANSACTION_REPEATABLE_READ |           \
                   PGE_TRANSACTION_SERIALIZABLE | PGE_TRANSACTION_DEFERRABLE |             \
                   PGE_TRANSACTION_NO_NESTING | PGE_TRANSACTION_SAVEPOINT)

typedef enum {
  TX_OPEN,
  TX_ENDING,        /* commit or rollback is on its way */
  TX_COMMITTED,
  TX_ROLLED_BACK,
  TX_BROKEN         /* ended behind the engine's back: outcome unknown to it */
} TxState;

/* Who wrote a statement run in a transaction: the engine's own
 * (BEGIN, SAVEPOINT, RELEASE, COMMIT ...) are expected to move the server
 * between transaction states; the user's are watched for doing so. */
typedef enum {
  TX_BY_USER,
  TX_BY_ENGINE
} TxAuthor;

/* What an outermost transaction and its savepoint-nested inner ones
 * share: one lease, one server transaction. */
typedef struct {
  gatomicrefcount ref;
  PgeLease *lease;          /* owned; immutable */
  gboolean  borrowed;       /* immutable: @lease is a session's (session.c),
                             * which the transaction must not end */

  GMutex    lock;           /* guards the rest, and every member's state and children */
  GCond     submit_cond;    /* n_submitting went down */
  guint     n_submitting;   /* submissions past the state check, not yet queued */
  GError   *abort_error;    /* the statement that aborted the server transaction */
  GError   *broken;         /* set once a user's statement ended the block */
  guint     savepoint_epoch;  /* +1 when a user's statement released or
                               * rolled back to a savepoint */
  guint     savepoint_id;   /* last id handed out */
} TxShared;

struct _PgeTransaction {
  gint            ref;             /* atomic; see pge_current_try_ref() */
  PgeEngine      *engine;          /* owned */
  PgeTransaction *parent;          /* owned; NULL for an outermost transaction */
  TxShared       *shared;          /* owned */
  char           *savepoint_name;  /* inner only: "savepoint_<id>" */
  guint           savepoint_epoch; /* inner only: shared's, when it began */

  /* Guarded by shared->lock. */
  TxState         state;
  GPtrArray      *children;        /* weak PgeTransaction*: open inner transactions */
};

/**
 * PgeTransaction:
 *
 * A transaction on one pinned worker.
 *
 * Its statements run in order on one connection. While open it is the
 * current transaction of the thread that began it (unless begun with an
 * `_async` call). The last unref of an unfinished transaction rolls it
 * back. Thread-safe.
 *
 * Since: 1.0
 */
/**
 * pge_transaction_get_type:
 *
 * Returns: the boxed #GType of #PgeTransaction
 *
 * Since: 1.0
 */
G_DEFINE_BOXED_TYPE (PgeTransaction, pge_transaction, pge_transaction_ref, pge_transaction_unref)

/* Nesting depth of tx_enqueue() on this thread; see tx_wait_submissions_locked(). */
static GPrivate submit_depth = G_PRIVATE_INIT (NULL);

/* A new reference, or NULL if @data (a transaction) is being finalized:
 * the current stacks hold weak entries (current.c). */
static gpointer
pge_transaction_try_ref (gpointer data)
{
  PgeTransaction *tx = data;

  return pge_current_try_ref (&tx->ref) ? tx : NULL;
}

/* --------------------------------------------------------------- shared */

static TxShared *
tx_shared_new (PgeLease *lease, gboolean borrowed)
{
  TxShared *shared = g_new0 (TxShared, 1);

  g_atomic_ref_count_init (&shared->ref);
  shared->lease = pge_lease_ref (lease);
  shared->borrowed = borrowed;
  g_mutex_init (&shared->lock);
  g_cond_init (&shared->submit_cond);
  return shared;
}

static TxShared *
tx_shared_ref (TxShared *shared)
{
  g_atomic_ref_count_inc (&shared->ref);
  return shared;
}

static void
tx_shared_unref (TxShared *shared)
{
  if (!g_atomic_ref_count_dec (&shared->ref))
    return;
  g_clear_error (&shared->abort_error);
  g_clear_error (&shared->broken);
  g_mutex_clear (&shared->lock);
  g_cond_clear (&shared->submit_cond);
  pge_lease_unref (shared->lease);
  g_free (shared);
}

/* Runs on the thread holding the connection right after each job of the
 * lease, before the next one: keeps the first error that aborted the
 * server transaction, and forgets it once the transaction has recovered
 * (ROLLBACK TO). Jobs that never ran (refused, cancelled while queued)
 * say nothing about the server and are not observed. */
static void
tx_observe (PgeJob *job, PgeConnection *conn, PgeResult *result, const GError *error, gpointer data)
{
  TxShared *shared = data;
  PGconn *pg = pge_connection_get_pgconn (conn);
  PGTransactionStatusType status;

  if (pg == NULL)
    return;
  status = PQtransactionStatus (pg);
  g_mutex_lock (&shared->lock);
  if (status == PQTRANS_INERROR)
    {
      if (shared->abort_error == NULL && error != NULL)
        shared->abort_error = g_error_copy (error);
    }
  else
    g_clear_error (&shared->abort_error);
  g_mutex_unlock (&shared->lock);
}

/* Whether @script (simple protocol, several statements) may hold a
 * RELEASE or a ROLLBACK TO: a statement that starts with either word.
 * Errs on the side of yes (a word inside a literal counts): a savepoint
 * wrongly taken for released only gives an error later, never a lie. */
static gboolean
script_may_end_savepoint (const char *script)
{
  const char *p = script;

  while (p != NULL && *p != '\0')
    {
      while (g_ascii_isspace (*p) || *p == ';' || *p == '(')
        p++;
      if (g_ascii_strncasecmp (p, "release", 7) == 0 || g_ascii_strncasecmp (p, "rollback", 8) == 0)
        return TRUE;
      p = strchr (p, ';');
    }
  return FALSE;
}

/* The user's statements: also notices one that ended the transaction
 * block the engine opened (COMMIT, ROLLBACK, END, ABORT, PREPARE
 * TRANSACTION ...) — the server is then outside any transaction, and
 * everything after it would autocommit — or that released or rolled
 * back to a savepoint, which the engine's savepoints may have been. The
 * lease is poisoned at once, on this thread, so that nothing queued
 * behind runs outside the transaction it was written for. */
static void
tx_observe_user (PgeJob *job, PgeConnection *conn, PgeResult *result, const GError *error,
                 gpointer data)
{
  TxShared *shared = data;
  PGconn *pg = pge_connection_get_pgconn (conn);
  const char *tag = result != NULL ? pge_result_get_command_tag (result) : NULL;
  PGTransactionStatusType status;

  tx_observe (job, conn, result, error, data);
  if (pg == NULL || PQstatus (pg) != CONNECTION_OK)
    return;
  status = PQtransactionStatus (pg);
  g_mutex_lock (&shared->lock);
  if (status == PQTRANS_IDLE && shared->broken == NULL)
    {
      shared->broken = g_error_new (PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                                    "the transaction block was ended by a statement the "
                                    "engine did not issue (%s): whatever it did stands, "
                                    "and this transaction can no longer be used",
                                    tag != NULL ? tag : "in a script");
      pge_lease_poison (shared->lease, shared->broken);
    }
  else if (g_strcmp0 (tag, "RELEASE") == 0 || g_strcmp0 (tag, "ROLLBACK") == 0 ||
           (job->kind == PGE_JOB_EXEC && script_may_end_savepoint (job->sql)))
    shared->savepoint_epoch++;
  g_mutex_unlock (&shared->lock);
}

/* ---------------------------------------------------------------- state */

/* Open: not ending or ended, and neither is any ancestor. */
static gboolean
tx_is_open_locked (PgeTransaction *tx)
{
  for (; tx != NULL; tx = tx->parent)
    if (tx->state != TX_OPEN)
      return FALSE;
  return TRUE;
}

static GError *
tx_state_error_locked (PgeTransaction *tx)
{
  const char *why;

  switch (tx->state)
    {
    case TX_COMMITTED:
      why = "the transaction is already committed";
      break;
    case TX_ROLLED_BACK:
      why = "the transaction is already rolled back";
      break;
    case TX_BROKEN:
      why = "the transaction was ended by a statement the engine did not issue";
      break;
    case TX_ENDING:
      why = "the transaction is being committed or rolled back";
      break;
    case TX_OPEN:
    default:
      why = "the enclosing transaction has ended or is ending";
      break;
    }
  return g_error_new_literal (PGE_ERROR, PGE_ERROR_TRANSACTION_STATE, why);
}

gboolean
pge_transaction_check_open (PgeTransaction *tx, GError **error)
{
  gboolean open;

  g_mutex_lock (&tx->shared->lock);
  open = tx_is_open_locked (tx);
  if (!open)
    g_propagate_error (error, tx_state_error_locked (tx));
  g_mutex_unlock (&tx->shared->lock);
  return open;
}

/* Why @tx cannot take statements although it is open, or NULL: a user's
 * statement ended the whole block, or released or rolled back to a
 * savepoint (which may have been this inner transaction's, or an
 * enclosing one's). */
static GError *
tx_unusable_locked (PgeTransaction *tx)
{
  if (tx->shared->broken != NULL)
    return g_error_copy (tx->shared->broken);
  for (; tx->parent != NULL; tx = tx->parent)
    if (tx->savepoint_epoch != tx->shared->savepoint_epoch)
      return g_error_new_literal (PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                                  "a statement the engine did not issue released or rolled "
                                  "back to a savepoint, which may have been this inner "
                                  "transaction's: it can no longer be used");
  return NULL;
}

/* Ends @tx and its open descendants as @state, collecting a reference to
 * each (those still alive) into @ended, so they can leave the current
 * stacks once the lock is dropped. */
static void
tx_end_tree_locked (PgeTransaction *tx, TxState state, GPtrArray *ended)
{
  PgeTransaction *ref;

  tx->state = state;
  if (tx->children != NULL)
    {
      for (guint i = 0; i < tx->children->len; i++)
        tx_end_tree_locked (tx->children->pdata[i], state, ended);
      g_ptr_array_set_size (tx->children, 0);
    }
  /* A child being finalized (count 0) removes itself from the stacks. */
  ref = pge_transaction_try_ref (tx);
  if (ref != NULL)
    g_ptr_array_add (ended, ref);
}

static void
tx_unlink_from_parent_locked (PgeTransaction *tx)
{
  if (tx->parent != NULL && tx->parent->children != NULL)
    g_ptr_array_remove_fast (tx->parent->children, tx);
}

/* ------------------------------------------------------------ submission */

static void
tx_wait_submissions_locked (TxShared *shared)
{
  /* A thread inside a submission (a callback of a refused job) that ends
   * the transaction would wait for itself; its own submission was refused
   * anyway, so it cannot land after the end. */
  if (GPOINTER_TO_UINT (g_private_get (&submit_depth)) > 0)
    return;
  while (shared->n_submitting > 0)
    g_cond_wait (&shared->submit_cond, &shared->lock);
}

/* Queues @job on the lease. With @require_open, only if @tx is open (else
 * the job fails with PGE_ERROR_TRANSACTION_STATE); without, for the
 * commit/rollback job of a transaction that is ENDING. Never blocks for
 * long. The lease may refuse the job (engine closed), failing it on this
 * thread, which runs its callbacks here: hence no lock is held across
 * pge_lease_submit(), only the n_submitting gate. */
static gboolean
tx_enqueue (PgeTransaction *tx, PgeJob *job, gboolean require_open, TxAuthor author,
            PgeSlot **taken)
{
  TxShared *shared = tx->shared;
  GError *unusable;
  guint depth;

  g_mutex_lock (&shared->lock);
  /* An ending inner transaction's own end job is checked against its
   * ancestors under the same lock hold as n_submitting++: a parent that
   * starts ending first must not have its COMMIT overtaken by it. */
  if (!tx_is_open_locked (require_open ? tx : tx->parent))
    {
      PgeTransaction *closed = require_open ? tx : tx->parent;
      GError *error;

      while (closed->state == TX_OPEN && closed->parent != NULL)
        closed = closed->parent;
      error = tx_state_error_locked (closed);
      g_mutex_unlock (&shared->lock);
      pge_job_finish (job, NULL, error);
      return FALSE;
    }
  unusable = require_open ? tx_unusable_locked (tx) : NULL;
  if (unusable != NULL)
    {
      g_mutex_unlock (&shared->lock);
      pge_job_finish (job, NULL, unusable);
      return FALSE;
    }
  shared->n_submitting++;
  g_mutex_unlock (&shared->lock);

  depth = GPOINTER_TO_UINT (g_private_get (&submit_depth));
  g_private_set (&submit_depth, GUINT_TO_POINTER (depth + 1));
  pge_job_set_observer (job, author == TX_BY_USER ? tx_observe_user : tx_observe,
                        tx_shared_ref (shared), (GDestroyNotify) tx_shared_unref);
  /* A blocking caller's own job needs no hooks: nobody else can cancel
   * or wait for it. */
  if (taken != NULL)
    *taken = pge_dispatch_lease_submit_or_take (shared->lease, job);
  else
    pge_dispatch_lease_submit (shared->lease, job, FALSE);
  g_private_set (&submit_depth, GUINT_TO_POINTER (depth));

  g_mutex_lock (&shared->lock);
  if (--shared->n_submitting == 0)
    g_cond_broadcast (&shared->submit_cond);
  g_mutex_unlock (&shared->lock);
  return TRUE;
}

void
pge_transaction_submit (PgeTransaction *tx, PgeJob *job)
{
  tx_enqueue (tx, job, TRUE, TX_BY_USER, NULL);
}

/* Queues @job (as tx_enqueue()) and waits for it, running it on this
 * thread when the transaction's connection is free. */
static PgeResult *
tx_run_sync (PgeTransaction *tx, PgeJob *job, gboolean require_open, TxAuthor author, GError **error)
{
  PgeSlot *slot = NULL;

  /* Run outside the submission gate: an end waiting at the gate must not
   * wait for a whole statement. */
  if (tx_enqueue (tx, job, require_open, author, &slot) && slot != NULL)
    pge_dispatch_run_taken (slot, job);
  return pge_job_wait (job, FALSE, error);
}

PgeResult *
pge_transaction_run_sync (PgeTransaction *tx, PgeJob *job, GError **error)
{
  return tx_run_sync (tx, job, TRUE, TX_BY_USER, error);
}

PgeTransaction *
pge_transaction_dup_current (PgeEngine *engine)
{
  return pge_current_dup (pge_engine_get_transaction_registry (engine), pge_transaction_try_ref);
}

/* Runs @sql (one statement) inside @tx and waits. For savepoint.c too. */
gboolean
pge_transaction_run_sql (PgeTransaction *tx, const char *sql, GError **error)
{
  g_autoptr(PgeJob) job = pge_job_new_query (sql, NULL);
  g_autoptr(PgeResult) result = NULL;
  GError *local = NULL;

  if (!pge_engine_check_may_block (tx->engine, "a savepoint operation", error))
    return FALSE;
  result = tx_run_sync (tx, job, TRUE, TX_BY_ENGINE, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

guint
pge_transaction_get_savepoint_epoch (PgeTransaction *tx)
{
  guint epoch;

  g_mutex_lock (&tx->shared->lock);
  epoch = tx->shared->savepoint_epoch;
  g_mutex_unlock (&tx->shared->lock);
  return epoch;
}

gboolean
pge_transaction_is_open (PgeTransaction *tx)
{
  gboolean open;

  g_mutex_lock (&tx->shared->lock);
  open = tx_is_open_locked (tx);
  g_mutex_unlock (&tx->shared->lock);
  return open;
}

/* ------------------------------------------------------------ lifecycle */

static PgeTransaction *
tx_alloc (PgeEngine *engine, PgeTransaction *parent, TxShared *shared)
{
  PgeTransaction *tx = g_new0 (PgeTransaction, 1);

  tx->ref = 1;
  tx->engine = pge_engine_ref (engine);
  tx->parent = parent ? pge_transaction_ref (parent) : NULL;
  tx->shared = tx_shared_ref (shared);
  tx->state = TX_OPEN;
  return tx;
}

static char *
tx_begin_sql (PgeTransactionFlags flags)
{
  GString *sql = g_string_new ("BEGIN");
  const char *sep = " ";

  if (flags & PGE_TRANSACTION_SERIALIZABLE)
    {
      g_string_append_printf (sql, "%sISOLATION LEVEL SERIALIZABLE", sep);
      sep = ", ";
    }
  else if (flags & PGE_TRANSACTION_REPEATABLE_READ)
    {
      g_string_append_printf (sql, "%sISOLATION LEVEL REPEATABLE READ", sep);
      sep = ", ";
    }
  if (flags & PGE_TRANSACTION_READ_ONLY)
    {
      g_string_append_printf (sql, "%sREAD ONLY", sep);
      sep = ", ";
    }
  if (flags & PGE_TRANSACTION_DEFERRABLE)
    g_string_append_printf (sql, "%sDEFERRABLE", sep);
  return g_string_free (sql, FALSE);
}

static void
tx_release_lease (PgeTransaction *tx)
{
  /* A session's connection stays the session's. */
  if (tx->shared->borrowed)
    return;
  /* Waits so that stats show the connection free once commit/rollback/
   * unref returns; never on a worker thread, which may be the one to
   * unpin. */
  pge_dispatch_lease_end (tx->shared->lease, !pge_engine_is_worker_thread (tx->engine));
}

/* The last unref of an open transaction in a session: the connection is
 * not unpinned (which would roll back), so ROLLBACK goes in its queue. */
static void
tx_rollback_borrowed (PgeTransaction *tx)
{
  g_autoptr(PgeJob) job = pge_job_new_query ("ROLLBACK", NULL);

  pge_dispatch_lease_submit (tx->shared->lease, job, FALSE);
}

/* The lease for a new outermost transaction: the calling thread's
 * current session's (@borrowed), or a new one, pinned. */
static PgeLease *
tx_take_lease (PgeEngine *engine, PgeCallOptions *options, gboolean *borrowed, GError **error)
{
  g_autoptr(PgeSession) session = pge_session_dup_current (engine);
  PgeLease *lease = session != NULL ? pge_session_get_lease (session) : NULL;
  g_autoptr(PgeJob) pin = NULL;
  g_autoptr(PgeResult) result = NULL;
  PgeSlot *slot;
  GError *local = NULL;

  *borrowed = lease != NULL;
  if (lease != NULL)
    return pge_lease_ref (lease);
  lease = pge_lease_new (pge_engine_get_primary (engine));
  pin = pge_lease_new_pin_job (lease);
  pge_call_options_apply_acquire (options, pin);
  slot = pge_dispatch_submit (pge_engine_get_primary (engine), pin, TRUE);
  if (slot != NULL)
    pge_dispatch_run_taken (slot, pin);
  result = pge_future_wait (pin->future, &local);
  if (local != NULL)
    {
      pge_dispatch_lease_end (lease, TRUE);
      pge_lease_unref (lease);
      g_propagate_error (error, local);
      return NULL;
    }
  return lease;
}

/* BEGIN, and the statement timeout of @options for the whole
 * transaction: one round trip (simple protocol). */
static PgeJob *
tx_begin_job (PgeTransactionFlags flags, PgeCallOptions *options)
{
  g_autofree char *sql = tx_begin_sql (flags);
  g_autofree char *script = NULL;
  gint timeout_ms = options != NULL ? pge_call_options_get_statement_timeout (options) : -1;

  if (timeout_ms < 0)
    return pge_job_new_query (sql, NULL);
  script = g_strdup_printf ("%s; SET LOCAL statement_timeout = %d", sql, timeout_ms);
  return pge_job_new_exec (script);
}

static PgeTransaction *
tx_begin_outer (PgeEngine *engine, PgeTransactionFlags flags, PgeCallOptions *options, GError **error)
{
  g_autoptr(PgeLease) lease = NULL;
  g_autoptr(PgeJob) job = NULL;
  g_autoptr(PgeResult) result = NULL;
  TxShared *shared;
  PgeTransaction *tx;
  PgeSlot *slot;
  GError *local = NULL;
  gboolean borrowed;

  lease = tx_take_lease (engine, options, &borrowed, error);
  if (lease == NULL)
    return NULL;
  job = tx_begin_job (flags, options);
  slot = pge_dispatch_lease_submit (lease, job, TRUE);
  if (slot != NULL)
    pge_dispatch_run_taken (slot, job);
  result = pge_future_wait (job->future, &local);
  if (local != NULL)
    {
      if (!borrowed)
        pge_dispatch_lease_end (lease, TRUE);
      g_propagate_prefixed_error (error, local, "cannot begin a transaction: ");
      return NULL;
    }
  shared = tx_shared_new (lease, borrowed);
  tx = tx_alloc (engine, NULL, shared);
  tx_shared_unref (shared);
  pge_current_push (pge_engine_get_transaction_registry (engine), tx);
  return tx;
}

static PgeTransaction *
tx_begin_inner (PgeEngine *engine, PgeTransaction *parent, GError **error)
{
  PgeTransaction *tx = tx_alloc (engine, parent, parent->shared);
  g_autofree char *sql = NULL;
  GError *local = NULL;

  tx->savepoint_name = g_strdup_printf ("savepoint_%u", pge_transaction_next_savepoint_id (parent));
  sql = g_strdup_printf ("SAVEPOINT \"%s\"", tx->savepoint_name);
  if (!pge_transaction_run_sql (parent, sql, &local))
    {
      /* Not open, never pushed: its finalizer has nothing to roll back. */
      g_mutex_lock (&tx->shared->lock);
      tx->state = TX_ROLLED_BACK;
      g_mutex_unlock (&tx->shared->lock);
      pge_transaction_unref (tx);
      g_propagate_error (error, local);
      return NULL;
    }
  g_mutex_lock (&tx->shared->lock);
  if (tx_is_open_locked (parent))
    {
      if (parent->children == NULL)
        parent->children = g_ptr_array_new ();
      g_ptr_array_add (parent->children, tx);
      tx->savepoint_epoch = tx->shared->savepoint_epoch;
    }
  else
    {
      /* The parent ended while the SAVEPOINT ran (another thread). */
      tx->state = parent->state == TX_COMMITTED ? TX_COMMITTED : TX_ROLLED_BACK;
      local = tx_state_error_locked (parent);
    }
  g_mutex_unlock (&tx->shared->lock);
  if (local != NULL)
    {
      pge_transaction_unref (tx);
      g_propagate_error (error, local);
      return NULL;
    }
  pge_current_push (pge_engine_get_transaction_registry (engine), tx);
  return tx;
}

static gboolean
tx_check_flags (PgeTransactionFlags flags, GError **error)
{
  const char *why = NULL;

  if (flags & ~ALL_FLAGS)
    why = "unknown transaction flags";
  else if ((flags & PGE_TRANSACTION_REPEATABLE_READ) && (flags & PGE_TRANSACTION_SERIALIZABLE))
    why = "REPEATABLE_READ and SERIALIZABLE are two different isolation levels";
  else if ((flags & PGE_TRANSACTION_NO_NESTING) && (flags & PGE_TRANSACTION_SAVEPOINT))
    why = "NO_NESTING and SAVEPOINT ask for two different nesting modes";
  if (why == NULL)
    return TRUE;
  g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "%s (flags 0x%x)", why, (guint) flags);
  return FALSE;
}

/**
 * pge_engine_transaction:
 * @engine: a #PgeEngine
 * @flags: isolation, access mode and nesting mode
 * @error: return location for a #GError
 *
 * Begins a transaction, or joins the calling thread's current one.
 *
 * Not nested (the thread has no current transaction on @engine): pins one
 * worker of the main node for the transaction's whole life, waiting at
 * most the configured acquire timeout (then %PGE_ERROR_TIMEOUT) — or,
 * when the thread has a current session (pge_engine_session()), uses the
 * session's connection, which stays the session's after the end — and sends
 * `BEGIN` with `ISOLATION LEVEL`, `READ ONLY` and `DEFERRABLE` from
 * @flags. The transaction becomes the calling thread's current
 * transaction on @engine until it ends: pge_engine_query() and the other
 * engine-level calls made from this thread then run inside it, on its
 * worker, in submission order. Other threads, and other engines, are not
 * affected.
 *
 * Nested (the thread already has a current transaction): by default
 * returns a new reference to that same transaction (pointer-equal);
 * with %PGE_TRANSACTION_NO_NESTING fails with %PGE_ERROR_NESTED; with
 * %PGE_TRANSACTION_SAVEPOINT returns an inner transaction backed by a
 * savepoint (`savepoint_<id>`), whose commit releases it and whose
 * rollback rolls back to it; it is current until it ends, then its parent
 * is current again. Isolation and access flags only apply to an
 * outermost transaction.
 *
 * Blocks until `BEGIN` (or `SAVEPOINT`) is done. Thread-safe, but refuses
 * (%PGE_ERROR_WOULD_DEADLOCK) on one of @engine's own worker threads.
 *
 * Returns: (transfer full) (nullable): the transaction, or %NULL with
 *   @error set: %PGE_ERROR_INVALID_ARGUMENT for unknown or contradictory
 *   flags, %PGE_ERROR_CLOSED once the engine is closed,
 *   %PGE_ERROR_TIMEOUT when no worker became free in time
 *
 * Since: 1.0
 */
PgeTransaction *
pge_engine_transaction (PgeEngine *engine, PgeTransactionFlags flags, GError **error)
{
  return pge_engine_transaction_with_options (engine, flags, NULL, error);
}

/**
 * pge_engine_transaction_with_options:
 * @engine: a #PgeEngine
 * @flags: isolation, access mode and nesting mode
 * @options: (nullable): limits for this transaction; %NULL: the engine's
 * @error: return location for a #GError
 *
 * pge_engine_transaction() with its own limits (see #PgeCallOptions): the
 * acquire timeout bounds the wait for the connection it pins, and the
 * statement timeout applies to each of its statements (`SET LOCAL
 * statement_timeout`, sent with `BEGIN`). When it joins the thread's
 * current transaction, or makes a savepoint in it, @options are not used.
 * Blocks like pge_engine_transaction(); thread-safe.
 *
 * Returns: (transfer full) (nullable): the transaction, or %NULL with
 *   @error set as for pge_engine_transaction()
 *
 * Since: 1.2
 */
PgeTransaction *
pge_engine_transaction_with_options (PgeEngine *engine, PgeTransactionFlags flags,
                                     PgeCallOptions *options, GError **error)
{
  g_autoptr(PgeTransaction) current = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!tx_check_flags (flags, error) ||
      !pge_engine_check_open (engine, error) ||
      !pge_engine_check_may_block (engine, "pge_engine_transaction()", error))
    return NULL;

  current = pge_transaction_dup_current (engine);
  /* One that is ending on another thread is about to leave the stack. */
  if (current != NULL && !pge_transaction_is_open (current))
    g_clear_pointer (&current, pge_transaction_unref);
  if (current == NULL)
    return tx_begin_outer (engine, flags, options, error);
  if (flags & PGE_TRANSACTION_NO_NESTING)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_NESTED,
                           "this thread already has a transaction on this engine "
                           "(PGE_TRANSACTION_NO_NESTING)");
      return NULL;
    }
  if (flags & PGE_TRANSACTION_SAVEPOINT)
    return tx_begin_inner (engine, current, error);
  return g_steal_pointer (&current);
}

/**
 * pge_engine_get_current_transaction:
 * @engine: a #PgeEngine
 *
 * The calling thread's current transaction on @engine: the innermost one
 * it began that has not ended. Never blocks; thread-safe (each thread sees
 * its own).
 *
 * Returns: (transfer none) (nullable): the transaction, or %NULL if none;
 *   valid as long as the caller holds a reference to it
 *
 * Since: 1.0
 */
PgeTransaction *
pge_engine_get_current_transaction (PgeEngine *engine)
{
  PgeTransaction *tx;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  tx = pge_transaction_dup_current (engine);
  if (tx == NULL)
    return NULL;
  /* The caller's own reference keeps it alive; if another thread just
   * dropped the last one, there is no transaction to return. */
  if (g_atomic_int_dec_and_test (&tx->ref))
    {
      g_atomic_int_inc (&tx->ref);
      pge_transaction_unref (tx);
      return NULL;
    }
  return tx;
}

/**
 * pge_engine_transaction_exists:
 * @engine: a #PgeEngine
 *
 * Never blocks; thread-safe.
 *
 * Returns: %TRUE if the calling thread has a current transaction on @engine
 *
 * Since: 1.0
 */
gboolean
pge_engine_transaction_exists (PgeEngine *engine)
{
  g_autoptr(PgeTransaction) tx = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), FALSE);
  tx = pge_transaction_dup_current (engine);
  return tx != NULL;
}

/**
 * pge_transaction_ref:
 * @tx: a #PgeTransaction
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @tx
 *
 * Since: 1.0
 */
PgeTransaction *
pge_transaction_ref (PgeTransaction *tx)
{
  g_return_val_if_fail (tx != NULL, NULL);
  g_return_val_if_fail (g_atomic_int_get (&tx->ref) > 0, NULL);
  g_atomic_int_inc (&tx->ref);
  return tx;
}

static gboolean tx_enqueue_rollback_inner (PgeTransaction *tx);

static void
tx_finalize (PgeTransaction *tx)
{
  gboolean was_open;
  gboolean ended;

  /* No live child: each holds a reference on its parent. */
  g_autoptr(GError) unusable = NULL;

  g_mutex_lock (&tx->shared->lock);
  /* An outermost transaction that ended let its lease go then. */
  ended = tx->state != TX_OPEN;
  was_open = tx_is_open_locked (tx);
  /* A savepoint someone else released is not there to roll back to:
   * trying would abort the enclosing transaction. */
  unusable = was_open ? tx_unusable_locked (tx) : NULL;
  if (unusable != NULL)
    was_open = FALSE;
  if (tx->state == TX_OPEN)
    tx->state = unusable != NULL ? TX_BROKEN : TX_ROLLED_BACK;
  tx_unlink_from_parent_locked (tx);
  g_mutex_unlock (&tx->shared->lock);

  pge_current_remove (pge_engine_get_transaction_registry (tx->engine), tx);
  if (tx->parent == NULL && was_open && tx->shared->borrowed)
    tx_rollback_borrowed (tx);
  else if (tx->parent == NULL && !ended)
    tx_release_lease (tx);
  else if (tx->parent != NULL && was_open)
    tx_enqueue_rollback_inner (tx);

  g_clear_pointer (&tx->parent, pge_transaction_unref);
  g_clear_pointer (&tx->children, g_ptr_array_unref);
  tx_shared_unref (tx->shared);
  pge_engine_unref (tx->engine);
  g_free (tx->savepoint_name);
  g_free (tx);
}

/**
 * pge_transaction_unref:
 * @tx: (transfer full): a #PgeTransaction
 *
 * Drops a reference. The last one of a transaction that has not ended
 * rolls it back: an outermost transaction frees its worker (waiting until
 * the worker is back in the pool, except on one of the engine's own
 * worker threads), an inner one queues `ROLLBACK TO` and `RELEASE` of its
 * savepoint. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_transaction_unref (PgeTransaction *tx)
{
  g_return_if_fail (tx != NULL);
  if (g_atomic_int_dec_and_test (&tx->ref))
    tx_finalize (tx);
}

/**
 * pge_transaction_get_engine:
 * @tx: a #PgeTransaction
 *
 * Never blocks; thread-safe.
 *
 * Returns: (transfer none): the engine @tx runs on
 *
 * Since: 1.0
 */
PgeEngine *
pge_transaction_get_engine (PgeTransaction *tx)
{
  g_return_val_if_fail (tx != NULL, NULL);
  return tx->engine;
}

/**
 * pge_transaction_get_parent:
 * @tx: a #PgeTransaction
 *
 * Never blocks; thread-safe.
 *
 * Returns: (transfer none) (nullable): the transaction a savepoint-nested
 *   @tx was made in, or %NULL for an outermost transaction
 *
 * Since: 1.0
 */
PgeTransaction *
pge_transaction_get_parent (PgeTransaction *tx)
{
  g_return_val_if_fail (tx != NULL, NULL);
  return tx->parent;
}

/* ---------------------------------------------------------------- queries */

/**
 * pge_transaction_query:
 * @tx: a #PgeTransaction
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 *
 * Queues @sql inside @tx, on its worker, after everything queued in @tx
 * before it: many may be in flight, and they run in that order. Errors
 * show on the future: %PGE_ERROR_INVALID_ARGUMENT for a %NULL @sql,
 * %PGE_ERROR_TRANSACTION_STATE once @tx has ended (or is ending),
 * %PGE_ERROR_QUERY for a server error, which also aborts the server
 * transaction until a rollback (or a rollback to a savepoint).
 * Never blocks; thread-safe.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_transaction_query (PgeTransaction *tx, const char *sql, PgeParams *params)
{
  g_autoptr(PgeJob) job = NULL;

  g_return_val_if_fail (tx != NULL, NULL);
  if (sql == NULL)
    return pge_future_new_invalid ("the SQL is NULL");
  job = pge_job_new_query (sql, params);
  pge_transaction_submit (tx, job);
  return pge_future_ref (job->future);
}

/**
 * pge_transaction_query_sync:
 * @tx: a #PgeTransaction
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, read while the call runs (not
 *   copied): no other thread may change them before it returns
 * @error: return location for a #GError
 *
 * pge_transaction_query() and pge_future_wait() in one call. Blocks until
 * the result is in. Thread-safe, but refuses (%PGE_ERROR_WOULD_DEADLOCK) on one of
 * the engine's own worker threads.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_transaction_query_sync (PgeTransaction *tx, const char *sql, PgeParams *params, GError **error)
{
  g_autoptr(PgeJob) job = NULL;

  g_return_val_if_fail (tx != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (!pge_engine_check_may_block (tx->engine, "pge_transaction_query_sync()", error))
    return NULL;
  if (sql == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the SQL is NULL");
      return NULL;
    }
  job = pge_job_new_query_borrowed (sql, params);
  return tx_run_sync (tx, job, TRUE, TX_BY_USER, error);
}

/**
 * pge_transaction_exec_sync:
 * @tx: a #PgeTransaction
 * @script: one or more statements separated by `;` (simple protocol, no
 *   parameters)
 * @error: return location for a #GError
 *
 * Runs @script inside @tx, after everything queued in it before, and
 * blocks until it is done. %NULL @script is %PGE_ERROR_INVALID_ARGUMENT;
 * an ended transaction %PGE_ERROR_TRANSACTION_STATE. Thread-safe, but
 * refuses (%PGE_ERROR_WOULD_DEADLOCK) on one of the engine's own worker threads.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
pge_transaction_exec_sync (PgeTransaction *tx, const char *script, GError **error)
{
  g_autoptr(PgeJob) job = NULL;
  g_autoptr(PgeResult) result = NULL;
  GError *local = NULL;

  g_return_val_if_fail (tx != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (script == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the script is NULL");
      return FALSE;
    }
  if (!pge_engine_check_may_block (tx->engine, "pge_transaction_exec_sync()", error))
    return FALSE;
  job = pge_job_new_exec (script);
  result = tx_run_sync (tx, job, TRUE, TX_BY_USER, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------- commit, rollback */

typedef struct {
  TxShared *shared;      /* owned */
  char     *savepoint;   /* inner: its quoted name; NULL: outermost */
} EndCall;

static void
end_call_free (gpointer data)
{
  EndCall *call = data;

  tx_shared_unref (call->shared);
  g_free (call->savepoint);
  g_free (call);
}

static EndCall *
end_call_new (PgeTransaction *tx)
{
  EndCall *call = g_new0 (EndCall, 1);

  call->shared = tx_shared_ref (tx->shared);
  if (tx->savepoint_name != NULL)
    call->savepoint = g_strdup_printf ("\"%s\"", tx->savepoint_name);
  return call;
}

/* The error for a commit that found the server transaction aborted: it
 * carries the SQLSTATE of the statement that aborted it, so a
 * serialization failure stays retryable. */
static GError *
aborted_error (TxShared *shared, const char *what)
{
  GError *error;

  g_mutex_lock (&shared->lock);
  if (shared->abort_error != NULL)
    error = pge_error_new_sqlstate (PGE_ERROR_TRANSACTION_STATE,
                                    pge_error_get_sqlstate (shared->abort_error),
                                    "cannot commit: an earlier statement failed and aborted "
                                    "the transaction (%s); %s",
                                    shared->abort_error->message, what);
  else
    error = g_error_new (PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                         "cannot commit: an earlier statement failed and aborted the "
                         "transaction; %s", what);
  g_mutex_unlock (&shared->lock);
  return error;
}

/* Worker side of an outermost commit. PostgreSQL answers a COMMIT in an
 * aborted transaction with "ROLLBACK" and no error: ask first. */
static PgeResult *
commit_outer_run (PgeJob *job, PgeConnection *conn, gpointer data, GError **error)
{
  EndCall *call = data;
  PGTransactionStatusType status = PQtransactionStatus (pge_connection_get_pgconn (conn));
  g_autoptr(PgeResult) result = NULL;
  const char *tag;

  if (status == PQTRANS_INERROR)
    {
      g_autoptr(PgeResult) rolled = pge_connection_query (conn, "ROLLBACK", NULL, NULL);

      g_propagate_error (error, aborted_error (call->shared, "it was rolled back"));
      return NULL;
    }
  if (status == PQTRANS_IDLE)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                           "cannot commit: no transaction is open on the server "
                           "(a COMMIT or ROLLBACK was sent as a statement)");
      return NULL;
    }
  result = pge_connection_query (conn, "COMMIT", NULL, error);
  if (result == NULL)
    return NULL;
  tag = pge_result_get_command_tag (result);
  if (tag == NULL || strcmp (tag, "COMMIT") != 0)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                   "the server rolled the transaction back instead of committing it (%s)",
                   tag ? tag : "no command tag");
      return NULL;
    }
  return g_steal_pointer (&result);
}

/* Worker side of an inner commit: RELEASE, or, if a statement aborted the
 * transaction, roll back to the savepoint (which also recovers the
 * parent) and report it. */
static PgeResult *
commit_inner_run (PgeJob *job, PgeConnection *conn, gpointer data, GError **error)
{
  EndCall *call = data;
  g_autofree char *release = g_strdup_printf ("RELEASE SAVEPOINT %s", call->savepoint);

  if (PQtransactionStatus (pge_connection_get_pgconn (conn)) == PQTRANS_INERROR)
    {
      g_autofree char *rollback = g_strdup_printf ("ROLLBACK TO SAVEPOINT %s", call->savepoint);
      g_autoptr(PgeResult) r1 = pge_connection_query (conn, rollback, NULL, NULL);
      g_autoptr(PgeResult) r2 = pge_connection_query (conn, release, NULL, NULL);

      g_propagate_error (error, aborted_error (call->shared,
                                               "it was rolled back to its savepoint"));
      return NULL;
    }
  return pge_connection_query (conn, release, NULL, error);
}

static PgeResult *
rollback_inner_run (PgeJob *job, PgeConnection *conn, gpointer data, GError **error)
{
  EndCall *call = data;
  g_autofree char *rollback = g_strdup_printf ("ROLLBACK TO SAVEPOINT %s", call->savepoint);
  g_autofree char *release = g_strdup_printf ("RELEASE SAVEPOINT %s", call->savepoint);
  g_autoptr(PgeResult) result = pge_connection_query (conn, rollback, NULL, error);

  if (result == NULL)
    return NULL;
  return pge_connection_query (conn, release, NULL, error);
}

/* Fire and forget, for the finalizer: the parent's next statements queue
 * behind it. */
static gboolean
tx_enqueue_rollback_inner (PgeTransaction *tx)
{
  g_autoptr(PgeJob) job = pge_job_new_call (rollback_inner_run, end_call_new (tx), end_call_free);

  return tx_enqueue (tx->parent, job, TRUE, TX_BY_ENGINE, NULL);
}

/* After an end: the ended members leave the current stacks, and an
 * outermost transaction lets its connection go. Blocking (the sync calls)
 * it waits for the worker to be back in the pool, and may roll back on
 * this thread; from a main loop (@async) it only releases the lease: the
 * worker rolls back what is open and returns to the pool on its own. */
static void
tx_forget (PgeTransaction *tx, GPtrArray *ended, gboolean async)
{
  for (guint i = 0; i < ended->len; i++)
    pge_current_remove (pge_engine_get_transaction_registry (tx->engine), ended->pdata[i]);
  if (tx->parent == NULL && async)
    pge_lease_release (tx->shared->lease, FALSE);
  else if (tx->parent == NULL)
    tx_release_lease (tx);
}

/* First half of an end: checks that @tx can end and marks it ENDING.
 * Returns the COMMIT/ROLLBACK job to queue, or NULL with @error set (an
 * unusable transaction is then ended as BROKEN). Never blocks for long. */
static PgeJob *
tx_end_begin (PgeTransaction *tx, gboolean commit, gboolean async, GError **error)
{
  g_autoptr(GPtrArray) ended = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_transaction_unref);
  TxShared *shared = tx->shared;
  GError *local = NULL;

  g_mutex_lock (&shared->lock);
  if (!tx_is_open_locked (tx))
    {
      g_propagate_error (error, tx_state_error_locked (tx));
      g_mutex_unlock (&shared->lock);
      return NULL;
    }
  local = tx_unusable_locked (tx);
  if (local != NULL)
    {
      /* Nothing is sent: the block (or the savepoint) is not there to
       * commit or roll back, and what ended it is not the engine's to
       * report as a commit or a rollback. */
      tx_wait_submissions_locked (shared);
      tx_end_tree_locked (tx, TX_BROKEN, ended);
      tx_unlink_from_parent_locked (tx);
      g_mutex_unlock (&shared->lock);
      tx_forget (tx, ended, async);
      g_propagate_error (error, local);
      return NULL;
    }
  tx->state = TX_ENDING;
  tx_wait_submissions_locked (shared);
  g_mutex_unlock (&shared->lock);

  if (tx->parent == NULL)
    return commit ? pge_job_new_call (commit_outer_run, end_call_new (tx), end_call_free)
                  : pge_job_new_query ("ROLLBACK", NULL);
  return pge_job_new_call (commit ? commit_inner_run : rollback_inner_run, end_call_new (tx),
                           end_call_free);
}

/* Second half: records the outcome of the end job (@local, consumed). */
static gboolean
tx_end_complete (PgeTransaction *tx, gboolean commit, gboolean async, GError *local, GError **error)
{
  g_autoptr(GPtrArray) ended = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_transaction_unref);
  TxShared *shared = tx->shared;
  gboolean committed = commit && local == NULL;

  /* A lost connection or a closed engine leaves nothing open on the
   * server: the rollback the caller asked for has happened. */
  if (!commit && local != NULL &&
      (g_error_matches (local, PGE_ERROR, PGE_ERROR_CONNECTION) ||
       g_error_matches (local, PGE_ERROR, PGE_ERROR_CLOSED)))
    g_clear_error (&local);

  g_mutex_lock (&shared->lock);
  /* Unless an ancestor's end already settled this one's fate. */
  if (tx->state == TX_ENDING)
    {
      tx_end_tree_locked (tx, committed ? TX_COMMITTED : TX_ROLLED_BACK, ended);
      tx_unlink_from_parent_locked (tx);
    }
  g_mutex_unlock (&shared->lock);

  tx_forget (tx, ended, async);

  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

static gboolean
tx_end (PgeTransaction *tx, gboolean commit, GError **error)
{
  g_autoptr(PgeJob) job = NULL;
  g_autoptr(PgeResult) result = NULL;
  GError *local = NULL;

  if (!pge_engine_check_may_block (tx->engine, commit ? "pge_transaction_commit()" : "pge_transaction_rollback()",
                          error))
    return FALSE;
  job = tx_end_begin (tx, commit, FALSE, error);
  if (job == NULL)
    return FALSE;
  result = tx_run_sync (tx, job, FALSE, TX_BY_ENGINE, &local);
  return tx_end_complete (tx, commit, FALSE, local, error);
}

/**
 * pge_transaction_commit:
 * @tx: an open #PgeTransaction
 * @error: return location for a #GError
 *
 * Commits @tx: `COMMIT` for an outermost transaction (then its worker goes
 * back to the pool, unless @tx was begun on a session's connection, which
 * stays the session's), `RELEASE SAVEPOINT` for an inner one. Inner
 * transactions still open inside @tx end with it. Blocks until the server
 * answers and, for an outermost transaction not in a session, until the
 * worker is free.
 *
 * Fails with %PGE_ERROR_TRANSACTION_STATE if @tx has already ended, and
 * also when an earlier statement aborted the transaction: then @tx is
 * rolled back (an inner one to its savepoint) and the message names that
 * statement's error (whose SQLSTATE the error carries). A server error at
 * COMMIT (deferred constraint, serialization failure), a lost connection
 * (%PGE_ERROR_CONNECTION) or a closed engine (%PGE_ERROR_CLOSED) also
 * leave @tx rolled back. Thread-safe, but refuses (%PGE_ERROR_WOULD_DEADLOCK) on
 * one of the engine's own worker threads.
 *
 * Returns: %TRUE if @tx is committed
 *
 * Since: 1.0
 */
gboolean
pge_transaction_commit (PgeTransaction *tx, GError **error)
{
  g_return_val_if_fail (tx != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return tx_end (tx, TRUE, error);
}

/**
 * pge_transaction_rollback:
 * @tx: an open #PgeTransaction
 * @error: return location for a #GError
 *
 * Rolls @tx back: `ROLLBACK` for an outermost transaction (then its worker
 * goes back to the pool, unless @tx was begun on a session's connection,
 * which stays the session's), `ROLLBACK TO SAVEPOINT` and `RELEASE
 * SAVEPOINT` for an inner one. Works on a transaction an error aborted.
 * Inner transactions still open inside @tx end with it. A lost connection
 * or a closed engine count as success: the server has rolled back. Blocks
 * until the server answers and, for an outermost transaction not in a
 * session, until the worker is free. Fails with
 * %PGE_ERROR_TRANSACTION_STATE if @tx has already ended. Thread-safe, but
 * refuses (%PGE_ERROR_WOULD_DEADLOCK) on one of the engine's own worker
 * threads.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
pge_transaction_rollback (PgeTransaction *tx, GError **error)
{
  g_return_val_if_fail (tx != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return tx_end (tx, FALSE, error);
}

/**
 * pge_transaction_is_committed:
 * @tx: a #PgeTransaction
 *
 * An inner transaction still open when its parent committed counts as
 * committed. Never blocks; thread-safe.
 *
 * Returns: %TRUE once @tx has been committed
 *
 * Since: 1.0
 */
static gboolean
tx_state_is (PgeTransaction *tx, TxState state)
{
  gboolean is;

  g_mutex_lock (&tx->shared->lock);
  is = tx->state == state;
  g_mutex_unlock (&tx->shared->lock);
  return is;
}

gboolean
pge_transaction_is_committed (PgeTransaction *tx)
{
  g_return_val_if_fail (tx != NULL, FALSE);
  return tx_state_is (tx, TX_COMMITTED);
}

/**
 * pge_transaction_is_rolled_back:
 * @tx: a #PgeTransaction
 *
 * %TRUE after pge_transaction_rollback(), after a commit that failed (the
 * server rolled back), and for an inner transaction still open when its
 * parent ended without committing. Never blocks; thread-safe.
 *
 * Returns: %TRUE once @tx has been rolled back
 *
 * Since: 1.0
 */
gboolean
pge_transaction_is_rolled_back (PgeTransaction *tx)
{
  g_return_val_if_fail (tx != NULL, FALSE);
  return tx_state_is (tx, TX_ROLLED_BACK);
}

/* ------------------------------------------------------------- savepoints */

/**
 * pge_transaction_next_savepoint_id:
 * @tx: a #PgeTransaction
 *
 * Hands out the next savepoint number of @tx: 1, 2, 3 ... Each call
 * takes a new number (the counter goes up). Inner transactions share the
 * counter of their outermost transaction, so the names `savepoint_<id>`
 * never collide inside one server transaction. Never blocks; thread-safe.
 *
 * Returns: the next id, starting at 1; 0 (with a critical) for a %NULL @tx
 *
 * Since: 1.2
 */
guint
pge_transaction_next_savepoint_id (PgeTransaction *tx)
{
  guint id;

  g_return_val_if_fail (tx != NULL, 0);
  g_mutex_lock (&tx->shared->lock);
  id = ++tx->shared->savepoint_id;
  g_mutex_unlock (&tx->shared->lock);
  return id;
}

/**
 * pge_transaction_get_savepoint_id:
 * @tx: a #PgeTransaction
 *
 * The same as pge_transaction_next_savepoint_id(), under the name of
 * 1.0, which reads like a getter: each call takes a new number.
 *
 * Returns: the next id, starting at 1
 *
 * Since: 1.0
 * Deprecated: 1.2: Use pge_transaction_next_savepoint_id(), whose name
 *   says that it takes a new number.
 */
guint
pge_transaction_get_savepoint_id (PgeTransaction *tx)
{
  return pge_transaction_next_savepoint_id (tx);
}

/**
 * pge_transaction_rollback_to:
 * @tx: an open #PgeTransaction
 * @savepoint_name: the name of a savepoint of @tx, matching `[A-Za-z0-9_]+`
 * @error: return location for a #GError
 *
 * Rolls @tx back to the savepoint (`ROLLBACK TO SAVEPOINT "name"`), which
 * stays defined. This also recovers a transaction that an error aborted
 * after the savepoint was made. A bad name fails with
 * %PGE_ERROR_INVALID_ARGUMENT before anything is sent; an unknown one is
 * a server error (%PGE_ERROR_QUERY, SQLSTATE 3B001) that aborts the
 * transaction, as in psql. Blocks until the server answers. Thread-safe,
 * but refused (%PGE_ERROR_WOULD_DEADLOCK) on one of the engine's own
 * threads.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
pge_transaction_rollback_to (PgeTransaction *tx, const char *savepoint_name, GError **error)
{
  g_autofree char *sql = NULL;

  g_return_val_if_fail (tx != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (!pge_savepoint_name_check (savepoint_name, error) || !pge_transaction_check_open (tx, error))
    return FALSE;
  sql = g_strdup_printf ("ROLLBACK TO SAVEPOINT \"%s\"", savepoint_name);
  return pge_transaction_run_sql (tx, sql, error);
}

/* ----------------------------------------------------------- transactions */

/* An asynchronous begin is two jobs, each completing in the caller's
 * context: the PIN job (a queued lease request: no thread waits for the
 * worker), then BEGIN on the pinned worker. */
typedef struct {
  PgeEngine *engine;   /* owned */
  PgeLease  *lease;    /* owned */
  char      *sql;      /* BEGIN ... */
} BeginCall;

static void
begin_call_free (gpointer data)
{
  BeginCall *call = data;

  /* Idempotent; a lease handed to a transaction is released by it. */
  if (call->lease != NULL)
    pge_lease_release (call->lease, FALSE);
  g_clear_pointer (&call->lease, pge_lease_unref);
  pge_engine_unref (call->engine);
  g_free (call->sql);
  g_free (call);
}

static void
begin_async_begun (GTask *task, PgeResult *result, GError *error)
{
  BeginCall *call = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  TxShared *shared;
  PgeTransaction *tx;

  g_clear_pointer (&result, pge_result_unref);
  if (error != NULL)
    {
      g_prefix_error (&error, "cannot begin a transaction: ");
      g_task_return_error (task, pge_async_translate_cancel (error, cancellable));
      return;
    }
  /* Nobody will see it: begin_call_free() lets the worker roll it back. */
  if (g_task_return_error_if_cancelled (task))
    return;
  shared = tx_shared_new (call->lease, FALSE);
  g_clear_pointer (&call->lease, pge_lease_unref);
  tx = tx_alloc (call->engine, NULL, shared);
  tx_shared_unref (shared);
  g_task_return_pointer (task, tx, (GDestroyNotify) pge_transaction_unref);
}

static void
begin_async_pinned (GTask *task)
{
  BeginCall *call = g_task_get_task_data (task);
  g_autoptr(PgeJob) job = NULL;

  job = pge_job_new_query (call->sql, NULL);
  pge_dispatch_lease_submit (call->lease, job, FALSE);
  pge_async_then (task, job->future, begin_async_begun);
}

/**
 * pge_engine_transaction_async:
 * @engine: a #PgeEngine
 * @flags: isolation and access mode; the nesting flags have no effect
 * @cancellable: (nullable): stops the wait for a free worker, or the
 *   `BEGIN`; a transaction begun before the cancel is rolled back
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * Begins a new outermost transaction without blocking and without any
 * helper thread: a request for a worker is queued like any job (it waits
 * its turn, at most the acquire timeout), and once a worker is pinned
 * `BEGIN` is queued on it; @callback runs in the thread-default
 * #GMainContext of the calling thread at the time of this call, with
 * @engine as its source object, where pge_engine_transaction_finish()
 * gets the transaction. Many such calls on a busy engine hold no thread
 * each: they are served in order as workers come free.
 *
 * Unlike pge_engine_transaction(), the transaction is never made the
 * current transaction of any thread, and never nests into one: a main
 * loop interleaves unrelated work, which must not be routed into it. So
 * pge_engine_query() and the other engine-level calls run outside it, even
 * on the thread that began it: use the explicit calls on the transaction —
 * pge_transaction_query_async(), pge_transaction_batch(),
 * pge_transaction_commit_async(), pge_transaction_rollback_async().
 * Drop the last reference after it has ended: the last unref of an open
 * transaction rolls it back and blocks until the worker is free.
 *
 * Never blocks.
 *
 * Since: 1.0
 */
void
pge_engine_transaction_async (PgeEngine          *engine,
                              PgeTransactionFlags flags,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  GError *error = NULL;
  BeginCall *call;
  GTask *task;

  g_return_if_fail (PGE_IS_ENGINE (engine));
  task = pge_async_task_new (engine, pge_engine_transaction_async, "pge_engine_transaction_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  if (!tx_check_flags (flags & ~(PGE_TRANSACTION_NO_NESTING | PGE_TRANSACTION_SAVEPOINT), &error) ||
      !pge_engine_check_open (engine, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  call = g_new0 (BeginCall, 1);
  call->engine = pge_engine_ref (engine);
  call->lease = pge_lease_new (pge_engine_get_primary (engine));
  call->sql = tx_begin_sql (flags);
  g_task_set_task_data (task, call, begin_call_free);
  pge_async_pin_then (task, pge_engine_get_primary (engine), call->lease, begin_async_pinned);
  g_object_unref (task);
}

/**
 * pge_engine_transaction_finish:
 * @engine: the #PgeEngine given to pge_engine_transaction_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the transaction begun by pge_engine_transaction_async(). It is not
 * the current transaction of any thread (see there). Errors as for
 * pge_engine_transaction() (%PGE_ERROR_TIMEOUT when no worker became free
 * in time ...), or %G_IO_ERROR_CANCELLED. Never blocks.
 *
 * Returns: (transfer full) (nullable): the open transaction, or %NULL
 *   with @error set
 *
 * Since: 1.0
 */
PgeTransaction *
pge_engine_transaction_finish (PgeEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (pge_async_task_check (result, engine, pge_engine_transaction_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pge_transaction_query_async:
 * @tx: an open transaction
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 * @cancellable: (nullable): cancels the statement if it is still queued
 *   (it never runs), or through libpq's cancel API if it runs; a
 *   cancelled statement aborts @tx, as in psql
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * GIO-style pge_transaction_query(): queues @sql inside @tx, on its
 * worker, after the statements queued before it, whichever thread calls
 * this; @callback runs in the thread-default #GMainContext of the calling
 * thread at the time of this call, where pge_transaction_query_finish()
 * gets the result. Never blocks.
 *
 * Since: 1.0
 */
void
pge_transaction_query_async (PgeTransaction     *tx,
                             const char         *sql,
                             PgeParams          *params,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  g_autoptr(PgeFuture) future = NULL;
  GTask *task;

  g_return_if_fail (tx != NULL);
  task = pge_async_task_new (tx->engine, pge_transaction_query_async, "pge_transaction_query_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  future = pge_transaction_query (tx, sql, params);
  pge_async_follow_result (task, future);
}

/**
 * pge_transaction_query_finish:
 * @tx: the #PgeTransaction given to pge_transaction_query_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * A statement stopped by the #GCancellable gives %G_IO_ERROR_CANCELLED;
 * one that completed before the cancel took effect keeps its result. A
 * statement on an ended transaction gives %PGE_ERROR_TRANSACTION_STATE.
 * Never blocks.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_transaction_query_finish (PgeTransaction *tx, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (tx != NULL, NULL);
  g_return_val_if_fail (pge_async_task_check (result, tx->engine, pge_transaction_query_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* What an asynchronous commit or rollback ends, and which of the two it
 * is: told by the caller, not read back from the task's source tag. */
typedef struct {
  PgeTransaction *tx;      /* owned */
  gboolean        commit;
} AsyncEnd;

static void
async_end_free (gpointer data)
{
  AsyncEnd *call = data;

  pge_transaction_unref (call->tx);
  g_free (call);
}

static void
transaction_end_done (GTask *task, PgeResult *result, GError *error)
{
  AsyncEnd *call = g_task_get_task_data (task);
  GError *local = NULL;

  g_clear_pointer (&result, pge_result_unref);
  if (tx_end_complete (call->tx, call->commit, TRUE, error, &local))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, local);
}

static void
transaction_end_async (PgeTransaction     *tx,
                       gboolean            commit,
                       gpointer            source_tag,
                       const char         *name,
                       GCancellable       *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer            user_data)
{
  GTask *task = pge_async_task_new (tx->engine, source_tag, name, cancellable, callback, user_data);
  g_autoptr(PgeJob) job = NULL;
  GError *error = NULL;
  AsyncEnd *call;

  /* Cancelled before it started: nothing was sent, @tx is still open. */
  if (task == NULL)
    return;
  call = g_new0 (AsyncEnd, 1);
  call->tx = pge_transaction_ref (tx);
  call->commit = commit;
  g_task_set_task_data (task, call, async_end_free);
  job = tx_end_begin (tx, commit, TRUE, &error);
  if (job == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  tx_enqueue (tx, job, FALSE, TX_BY_ENGINE, NULL);
  /* Once queued, COMMIT or ROLLBACK is not cancelled: the outcome is
   * reported as it is, so that the caller knows what was kept. */
  pge_async_then_full (task, job->future, transaction_end_done, FALSE);
  g_object_unref (task);
}

/**
 * pge_transaction_commit_async:
 * @tx: a transaction
 * @cancellable: (nullable): cancels the commit only if it has not started
 *   (then nothing is sent and @tx stays open)
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * pge_transaction_commit() without blocking: the `COMMIT` (or, for an
 * inner transaction, `RELEASE SAVEPOINT`) is queued on the transaction's
 * worker, and @callback runs in the thread-default #GMainContext of the
 * calling thread at the time of this call, with the engine as its source
 * object, where pge_transaction_commit_finish() gets the outcome. The
 * worker then returns to the pool on its own (the callback may run just
 * before it is back). No thread waits meanwhile. Never blocks.
 *
 * Since: 1.0
 */
void
pge_transaction_commit_async (PgeTransaction     *tx,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  g_return_if_fail (tx != NULL);
  transaction_end_async (tx, TRUE, pge_transaction_commit_async, "pge_transaction_commit_async",
                         cancellable, callback, user_data);
}

/**
 * pge_transaction_commit_finish:
 * @tx: the #PgeTransaction given to pge_transaction_commit_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Errors as for pge_transaction_commit(): committing a transaction that an
 * earlier error aborted rolls it back and fails with
 * %PGE_ERROR_TRANSACTION_STATE, and so does an ended one; or
 * %G_IO_ERROR_CANCELLED if it was cancelled before it started. Never
 * blocks.
 *
 * Returns: %TRUE if the transaction was committed
 *
 * Since: 1.0
 */
gboolean
pge_transaction_commit_finish (PgeTransaction *tx, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (tx != NULL, FALSE);
  g_return_val_if_fail (pge_async_task_check (result, tx->engine, pge_transaction_commit_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * pge_transaction_rollback_async:
 * @tx: a transaction
 * @cancellable: (nullable): cancels the rollback only if it has not
 *   started (then nothing is sent and @tx stays open)
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * pge_transaction_rollback() without blocking: the `ROLLBACK` (or, for an
 * inner transaction, `ROLLBACK TO SAVEPOINT`) is queued on the
 * transaction's worker, and @callback runs in the thread-default
 * #GMainContext of the calling thread at the time of this call, with the
 * engine as its source object, where pge_transaction_rollback_finish()
 * gets the outcome. No thread waits meanwhile. Never blocks.
 *
 * Since: 1.0
 */
void
pge_transaction_rollback_async (PgeTransaction     *tx,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  g_return_if_fail (tx != NULL);
  transaction_end_async (tx, FALSE, pge_transaction_rollback_async, "pge_transaction_rollback_async",
                         cancellable, callback, user_data);
}

/**
 * pge_transaction_rollback_finish:
 * @tx: the #PgeTransaction given to pge_transaction_rollback_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Errors as for pge_transaction_rollback() (%PGE_ERROR_TRANSACTION_STATE
 * for an ended transaction), or %G_IO_ERROR_CANCELLED if it was cancelled
 * before it started. Never blocks.
 *
 * Returns: %TRUE if the transaction was rolled back
 *
 * Since: 1.0
 */
gboolean
pge_transaction_rollback_finish (PgeTransaction *tx, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (tx != NULL, FALSE);
  g_return_val_if_fail (pge_async_task_check (result, tx->engine, pge_transaction_rollback_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
