/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "pool-private.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL PgeWorker *pge_worker_new         (PgePool *pool, guint index);
G_GNUC_INTERNAL void       pge_worker_free        (PgeWorker *worker);
G_GNUC_INTERNAL gpointer   pge_worker_main        (gpointer data);
G_GNUC_INTERNAL PgeWorker *pge_worker_get_current (void);

/* For job functions, on the worker thread: run SQL on @conn with the
 * pool's logging, cancel/timeout mapping and COPY protection. */
G_GNUC_INTERNAL PgeResult *pge_worker_exec        (PgeJob     *job,
                                                   PGconn     *conn,
                                                   const char *sql,
                                                   PgeParams  *frozen_params,
                                                   GError    **error);
G_GNUC_INTERNAL PgeResult *pge_worker_exec_script (PgeJob     *job,
                                                   PGconn     *conn,
                                                   const char *script,
                                                   GError    **error);
G_GNUC_INTERNAL gboolean   pge_worker_wait_for_result (PgeJob *job, PGconn *conn);
G_GNUC_INTERNAL PgeResult *pge_worker_collect     (PgeJob   *job,
                                                   PGconn   *conn,
                                                   gboolean  simple,
                                                   GError  **error);
G_GNUC_INTERNAL void       pge_worker_log         (PgeJob         *job,
                                                   const char     *sql,
                                                   gint64          start_us,
                                                   PgeResult      *result,
                                                   const GError   *error);
G_GNUC_INTERNAL GError    *pge_worker_error_from_result (PgeJob         *job,
                                                         PGconn         *conn,
                                                         const PGresult *res);

G_END_DECLS
