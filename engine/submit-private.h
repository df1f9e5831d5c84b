/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "job-private.h"

G_BEGIN_DECLS

/* Submits @job where the calling thread's work goes: inside its current
 * transaction on @engine if it has one, else to the main node. Returns a
 * new reference to the job's future. The caller keeps its job reference. */
G_GNUC_INTERNAL PgeFuture *pge_engine_submit   (PgeEngine *engine, PgeJob *job);

/* The same, blocking until @job is done: on this thread when a connection
 * is free (or the current transaction's is). */
G_GNUC_INTERNAL PgeResult *pge_engine_run_sync (PgeEngine *engine, PgeJob *job, GError **error);

G_END_DECLS
