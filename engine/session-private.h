/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "job-private.h"
#include "pool-private.h"

G_BEGIN_DECLS

/* The calling thread's current session on @engine (a new reference), or
 * NULL. */
G_GNUC_INTERNAL PgeSession *pge_session_dup_current (PgeEngine *engine);

/* Queues @job on @session's connection; an ended session fails it with
 * PGE_ERROR_TRANSACTION_STATE. The caller keeps its reference. Never
 * blocks. */
G_GNUC_INTERNAL void        pge_session_submit      (PgeSession *session, PgeJob *job);

/* The same, then waits, running @job on this thread when the session's
 * connection is free. */
G_GNUC_INTERNAL PgeResult  *pge_session_run_sync    (PgeSession *session,
                                                     PgeJob     *job,
                                                     GError    **error);

/* The lease that pins @session's connection (transfer none), for a
 * transaction begun inside it; NULL once the session has ended. */
G_GNUC_INTERNAL PgeLease   *pge_session_get_lease   (PgeSession *session);

G_END_DECLS
