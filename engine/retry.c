/* retry.c — pge_engine_run_transaction(): a transaction body run again
 * from the start after a serialization failure or a deadlock.
 *
 * Built on the public transaction calls alone (transaction.c), plus the
 * caller's current transaction to know whether this block is the
 * outermost one: only the outermost block can run a whole transaction
 * again. Between attempts it sleeps, backing off from RETRY_BACKOFF_MIN_MS
 * to RETRY_BACKOFF_MAX_MS with jitter, so that the transactions that
 * collided do not collide again in step.
 *
 * Threads: no state of its own; it blocks the calling thread, and is
 * refused on one of the engine's own threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "engine-private.h"
#include "errors-private.h"
#include "transaction-private.h"

#define RETRY_BACKOFF_MIN_MS 5
#define RETRY_BACKOFF_MAX_MS 50

static void
retry_backoff (guint attempt)
{
  guint base = MIN (RETRY_BACKOFF_MIN_MS << MIN (attempt, 4u), RETRY_BACKOFF_MAX_MS);

  g_usleep ((gulong) g_random_int_range (base / 2, base + 1) * 1000);
}

/**
 * pge_engine_run_transaction:
 * @engine: a #PgeEngine
 * @flags: as for pge_engine_transaction()
 * @max_retries: how many times an outermost transaction that failed with
 *   a serialization failure (SQLSTATE 40001) or a deadlock (40P01) is run
 *   again from the start; 0 never retries
 * @func: (scope call) (closure user_data): the body, called on this thread
 *   with the transaction current
 * @user_data: data for @func
 * @error: return location for a #GError
 *
 * The `async with engine.transaction():` block: begins a transaction as
 * pge_engine_transaction() does, calls @func, then commits if @func
 * returned %TRUE (unless @func ended the transaction itself), or rolls
 * back and returns @func's error if it returned %FALSE (%PGE_ERROR_FAILED
 * if it set none). When this thread already has a transaction on @engine
 * the call joins it as @flags say (by default @func runs in the parent,
 * which this call neither commits nor rolls back: a failure is for the
 * enclosing block to act on; with %PGE_TRANSACTION_SAVEPOINT, in a
 * savepoint it releases or rolls back), and it never retries on its own:
 * only the outermost block can run a whole transaction again. Between
 * retries it sleeps a few milliseconds, with jitter. @func may run more
 * than once, so it must not keep effects from a failed attempt.
 *
 * Blocks. Thread-safe, but refuses (%PGE_ERROR_WOULD_DEADLOCK) on one of
 * @engine's own worker threads.
 *
 * Returns: %TRUE if the block committed (or, nested by default, succeeded)
 *
 * Since: 1.0
 */
gboolean
pge_engine_run_transaction (PgeEngine          *engine,
                            PgeTransactionFlags flags,
                            guint               max_retries,
                            PgeTransactionFunc  func,
                            gpointer            user_data,
                            GError            **error)
{
  g_autoptr(PgeTransaction) parent = NULL;
  gboolean outermost;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (func == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                           "the transaction function is NULL");
      return FALSE;
    }
  if (!pge_engine_check_may_block (engine, "pge_engine_run_transaction()", error))
    return FALSE;
  parent = pge_transaction_dup_current (engine);
  outermost = parent == NULL || !pge_transaction_is_open (parent);

  for (guint attempt = 0;; attempt++)
    {
      g_autoptr(PgeTransaction) tx = NULL;
      GError *local = NULL;
      gboolean ok;
      gboolean joined;

      tx = pge_engine_transaction (engine, flags, &local);
      if (tx == NULL)
        {
          g_propagate_error (error, local);
          return FALSE;
        }
      /* Default nesting hands back the parent itself: its block ends it. */
      joined = !outermost && tx == parent;

      ok = func (tx, user_data, &local);
      if (!ok && local == NULL)
        local = g_error_new_literal (PGE_ERROR, PGE_ERROR_FAILED, "the transaction function failed");
      if (ok && local != NULL)
        {
          /* A TRUE return with an error set: the error wins. */
          ok = FALSE;
        }
      if (!joined && pge_transaction_is_open (tx))
        {
          if (ok)
            ok = pge_transaction_commit (tx, &local);
          else
            pge_transaction_rollback (tx, NULL);
        }
      if (ok)
        return TRUE;

      if (!outermost || attempt >= max_retries || !pge_error_is_retryable (local))
        {
          g_propagate_error (error, local);
          return FALSE;
        }
      g_debug ("pge_engine_run_transaction: %s; retry %u of %u", local->message, attempt + 1,
               max_retries);
      g_clear_error (&local);
      g_clear_pointer (&tx, pge_transaction_unref);
      retry_backoff (attempt);
    }
}
