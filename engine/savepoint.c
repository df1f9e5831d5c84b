/* savepoint.c — PgeSavepoint, a named point inside a transaction.
 *
 * A savepoint is only a name and a reference to its transaction; the SQL
 * runs as jobs of that transaction (transaction.c), so it is ordered with
 * the transaction's other statements and obeys its state rules. The name
 * was validated against `[A-Za-z0-9_]+` before the SAVEPOINT was sent, and
 * is quoted as an identifier anyway.
 *
 * Threads: the name and the transaction are immutable; `released` is an
 * atomic flag, claimed before RELEASE is sent so that two releases (even
 * racing ones) give one success and one PGE_ERROR_TRANSACTION_STATE
 * instead of a server error that would abort the transaction.
 *
 * Lifetime: the last unref drops the transaction reference; it sends
 * nothing (a savepoint left alone simply ends with its transaction).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "identifier-private.h"
#include "transaction-private.h"

struct _PgeSavepoint {
  PgeTransaction *tx;        /* owned */
  char           *name;      /* validated */
  gint            released;  /* atomic */
  guint           epoch;     /* the transaction's savepoint epoch when made */
};

/**
 * PgeSavepoint:
 *
 * A named savepoint inside a #PgeTransaction.
 *
 * Holds a reference on its transaction. Thread-safe.
 *
 * Since: 1.0
 */
/**
 * pge_savepoint_get_type:
 *
 * Returns: the boxed #GType of #PgeSavepoint
 *
 * Since: 1.0
 */
G_DEFINE_BOXED_TYPE (PgeSavepoint, pge_savepoint, pge_savepoint_ref, pge_savepoint_unref)

static PgeSavepoint *
pge_savepoint_new (PgeTransaction *tx, const char *name)
{
  PgeSavepoint *savepoint = g_atomic_rc_box_new0 (PgeSavepoint);

  savepoint->tx = pge_transaction_ref (tx);
  savepoint->name = g_strdup (name);
  savepoint->epoch = pge_transaction_get_savepoint_epoch (tx);
  return savepoint;
}

/**
 * pge_savepoint_ref:
 * @savepoint: a #PgeSavepoint
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @savepoint
 *
 * Since: 1.0
 */
PgeSavepoint *
pge_savepoint_ref (PgeSavepoint *savepoint)
{
  g_return_val_if_fail (savepoint != NULL, NULL);
  return g_atomic_rc_box_acquire (savepoint);
}

static void
savepoint_clear (PgeSavepoint *savepoint)
{
  g_clear_pointer (&savepoint->tx, pge_transaction_unref);
  g_clear_pointer (&savepoint->name, g_free);
}

/**
 * pge_savepoint_unref:
 * @savepoint: (transfer full): a #PgeSavepoint
 *
 * Drops a reference. The last one sends nothing: the savepoint stays
 * defined on the server until its transaction ends. It also drops the
 * savepoint's reference to its transaction, which may be that
 * transaction's last (see pge_transaction_unref()). Thread-safe.
 *
 * Since: 1.0
 */
void
pge_savepoint_unref (PgeSavepoint *savepoint)
{
  g_return_if_fail (savepoint != NULL);
  g_atomic_rc_box_release_full (savepoint, (GDestroyNotify) savepoint_clear);
}

/**
 * pge_savepoint_get_name:
 * @savepoint: a #PgeSavepoint
 *
 * Never blocks; thread-safe.
 *
 * Returns: (transfer none): the savepoint's name, e.g. `savepoint_1`
 *
 * Since: 1.0
 */
const char *
pge_savepoint_get_name (PgeSavepoint *savepoint)
{
  g_return_val_if_fail (savepoint != NULL, NULL);
  return savepoint->name;
}

/**
 * pge_savepoint_get_transaction:
 * @savepoint: a #PgeSavepoint
 *
 * Never blocks; thread-safe.
 *
 * Returns: (transfer none): the transaction the savepoint belongs to
 *
 * Since: 1.0
 */
PgeTransaction *
pge_savepoint_get_transaction (PgeSavepoint *savepoint)
{
  g_return_val_if_fail (savepoint != NULL, NULL);
  return savepoint->tx;
}

static gboolean
savepoint_check_usable (PgeSavepoint *savepoint, GError **error)
{
  if (g_atomic_int_get (&savepoint->released))
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                   "savepoint \"%s\" has already been released", savepoint->name);
      return FALSE;
    }
  if (!pge_transaction_is_open (savepoint->tx))
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                   "the transaction of savepoint \"%s\" has ended", savepoint->name);
      return FALSE;
    }
  if (pge_transaction_get_savepoint_epoch (savepoint->tx) != savepoint->epoch)
    {
      /* Sending it would fail on the server and abort the transaction. */
      g_set_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                   "a statement the engine did not issue released or rolled back to a "
                   "savepoint since \"%s\" was made, which may have removed it",
                   savepoint->name);
      return FALSE;
    }
  return TRUE;
}

/**
 * pge_savepoint_rollback_to:
 * @savepoint: a #PgeSavepoint
 * @error: return location for a #GError
 *
 * Undoes what its transaction did since the savepoint
 * (`ROLLBACK TO SAVEPOINT`), which stays defined, so this may be done
 * again. Also recovers a transaction that an error aborted after the
 * savepoint. Fails with %PGE_ERROR_TRANSACTION_STATE, sending nothing,
 * once the savepoint is released or its transaction has ended. Blocks
 * until the server answers. Thread-safe, but refuses (%PGE_ERROR_WOULD_DEADLOCK)
 * on one of the engine's own worker threads.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
pge_savepoint_rollback_to (PgeSavepoint *savepoint, GError **error)
{
  g_autofree char *sql = NULL;

  g_return_val_if_fail (savepoint != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (!savepoint_check_usable (savepoint, error))
    return FALSE;
  sql = g_strdup_printf ("ROLLBACK TO SAVEPOINT \"%s\"", savepoint->name);
  return pge_transaction_run_sql (savepoint->tx, sql, error);
}

/**
 * pge_savepoint_release:
 * @savepoint: a #PgeSavepoint
 * @error: return location for a #GError
 *
 * Forgets the savepoint (`RELEASE SAVEPOINT`), keeping what was done
 * since. Fails with %PGE_ERROR_TRANSACTION_STATE, sending nothing, when it
 * was already released or its transaction has ended; a server error (in
 * an aborted transaction) leaves it defined. Blocks until the server
 * answers. Thread-safe, but refuses (%PGE_ERROR_WOULD_DEADLOCK) on one of the
 * engine's own worker threads.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
pge_savepoint_release (PgeSavepoint *savepoint, GError **error)
{
  g_autofree char *sql = NULL;

  g_return_val_if_fail (savepoint != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (!savepoint_check_usable (savepoint, error))
    return FALSE;
  if (!g_atomic_int_compare_and_exchange (&savepoint->released, FALSE, TRUE))
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE,
                   "savepoint \"%s\" has already been released", savepoint->name);
      return FALSE;
    }
  sql = g_strdup_printf ("RELEASE SAVEPOINT \"%s\"", savepoint->name);
  if (!pge_transaction_run_sql (savepoint->tx, sql, error))
    {
      g_atomic_int_set (&savepoint->released, FALSE);
      return FALSE;
    }
  return TRUE;
}

/**
 * pge_transaction_savepoint:
 * @tx: an open #PgeTransaction
 * @name: (nullable): a name matching `[A-Za-z0-9_]+` (at most 63 bytes),
 *   or %NULL for `savepoint_<id>` (see pge_transaction_next_savepoint_id())
 * @error: return location for a #GError
 *
 * Creates a savepoint inside @tx (`SAVEPOINT "name"`). A bad name fails
 * with %PGE_ERROR_INVALID_ARGUMENT before anything is sent, leaving @tx
 * untouched; an ended @tx fails with %PGE_ERROR_TRANSACTION_STATE. Blocks
 * until the server answers. Thread-safe, but refuses (%PGE_ERROR_WOULD_DEADLOCK)
 * on one of the engine's own worker threads.
 *
 * Returns: (transfer full) (nullable): the savepoint, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeSavepoint *
pge_transaction_savepoint (PgeTransaction *tx, const char *name, GError **error)
{
  g_autofree char *auto_name = NULL;
  g_autofree char *sql = NULL;

  g_return_val_if_fail (tx != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (name == NULL)
    name = auto_name = g_strdup_printf ("savepoint_%u", pge_transaction_next_savepoint_id (tx));
  else if (!pge_savepoint_name_check (name, error))
    return NULL;
  if (!pge_transaction_check_open (tx, error))
    return NULL;
  /* Validated, and quoted anyway: the name is never SQL. */
  sql = g_strdup_printf ("SAVEPOINT \"%s\"", name);
  if (!pge_transaction_run_sql (tx, sql, error))
    return NULL;
  return pge_savepoint_new (tx, name);
}
