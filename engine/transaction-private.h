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

/* A new reference, or NULL if @tx is being finalized (its count hit 0). */
G_GNUC_INTERNAL PgeTransaction *pge_transaction_try_ref   (PgeTransaction *tx);

/* The lease that pins @tx's worker (shared by savepoint-nested inner
 * transactions with their outermost parent); transfer none. */
G_GNUC_INTERNAL PgeLease       *pge_transaction_get_lease (PgeTransaction *tx);

/* TRUE while @tx can take statements (not committed, not rolled back). */
G_GNUC_INTERNAL gboolean        pge_transaction_is_open   (PgeTransaction *tx);

G_END_DECLS
