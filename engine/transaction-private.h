/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "job-private.h"
#include "pool-private.h"

G_BEGIN_DECLS

/* Queues @job on @tx's pinned worker, after everything queued before it.
 * An ended transaction fails the job with PGE_ERROR_TRANSACTION_STATE.
 * The caller keeps its reference. Never blocks. */
G_GNUC_INTERNAL void            pge_transaction_submit    (PgeTransaction *tx, PgeJob *job);

/* Queues @job in @tx and blocks until it is done, running it on this
 * thread when the transaction's connection is free. */
G_GNUC_INTERNAL PgeResult      *pge_transaction_run_sync  (PgeTransaction *tx,
                                                           PgeJob         *job,
                                                           GError        **error);

/* The calling thread's current transaction on @engine (a new reference),
 * or NULL. */
G_GNUC_INTERNAL PgeTransaction *pge_transaction_dup_current (PgeEngine *engine);

/* TRUE while @tx can take statements (not committed, not rolled back). */
G_GNUC_INTERNAL gboolean        pge_transaction_is_open   (PgeTransaction *tx);

/* For savepoint.c. */

/* Runs one statement inside @tx and waits (refused on a worker thread). */
G_GNUC_INTERNAL gboolean        pge_transaction_run_sql   (PgeTransaction *tx,
                                                           const char     *sql,
                                                           GError        **error);
/* Counts the statements of the user's that released or rolled back to a
 * savepoint in @tx's server transaction: a savepoint made before the
 * count last moved may be gone. */
G_GNUC_INTERNAL guint           pge_transaction_get_savepoint_epoch (PgeTransaction *tx);

/* PGE_ERROR_TRANSACTION_STATE unless @tx and its ancestors are open. */
G_GNUC_INTERNAL gboolean        pge_transaction_check_open (PgeTransaction *tx,
                                                            GError        **error);

G_END_DECLS
