/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "config-private.h"
#include "job-private.h"
#include "statements-private.h"

G_BEGIN_DECLS

/* One query of a pipeline: what to send, and what came back. */
typedef struct {
  const char *sql;
  PgeParams  *params;     /* frozen, nullable */
  gboolean    skip;       /* send nothing (cancelled before it ran) */
  /* Out. */
  gboolean    sent;
  gboolean    retry;      /* had no effect (a lost prepared statement):
                           * run it again on its own */
  PgeResult  *result;
  GError     *error;
  /* Private to connection.c. */
  gboolean    cached;
  gboolean    parse;
  char        name[PGE_STATEMENT_NAME_SIZE];
} PgePipelineItem;

G_GNUC_INTERNAL PgeConnection *pge_connection_new        (const char        *label,
                                                          const char        *conninfo,
                                                          const PgeSettings *settings);
G_GNUC_INTERNAL void           pge_connection_free       (PgeConnection *conn);
G_GNUC_INTERNAL const char    *pge_connection_get_label  (PgeConnection *conn);
G_GNUC_INTERNAL PGconn        *pge_connection_get_pgconn (PgeConnection *conn);
G_GNUC_INTERNAL guint64        pge_connection_get_generation (PgeConnection *conn);
G_GNUC_INTERNAL int            pge_connection_get_server_version (PgeConnection *conn);

/* For the holder only. */
G_GNUC_INTERNAL gboolean       pge_connection_connect    (PgeConnection *conn, GError **error);
G_GNUC_INTERNAL void           pge_connection_disconnect (PgeConnection *conn);
G_GNUC_INTERNAL gboolean       pge_connection_is_ok      (PgeConnection *conn);
G_GNUC_INTERNAL gboolean       pge_connection_preflight  (PgeConnection *conn);
G_GNUC_INTERNAL void           pge_connection_make_idle  (PgeConnection *conn);
/* After a session (session.c), on an idle connection: DISCARD ALL, then
 * what connecting had set again; the statement cache is emptied, since
 * DISCARD ALL deallocated it. A failure drops the connection. */
G_GNUC_INTERNAL void           pge_connection_reset_session (PgeConnection *conn);
G_GNUC_INTERNAL gboolean       pge_connection_is_fast    (PgeConnection *conn,
                                                          const char    *sql,
                                                          PgeParams     *params);

G_GNUC_INTERNAL PgeResult     *pge_connection_query      (PgeConnection *conn,
                                                          const char    *sql,
                                                          PgeParams     *frozen_params,
                                                          GError       **error);
G_GNUC_INTERNAL PgeResult     *pge_connection_exec_script (PgeConnection *conn,
                                                           const char    *script,
                                                           GError       **error);
G_GNUC_INTERNAL gboolean       pge_connection_pipeline_send (PgeConnection   *conn,
                                                             PgePipelineItem *items,
                                                             guint            n_items);
G_GNUC_INTERNAL void           pge_connection_pipeline_read (PgeConnection   *conn,
                                                             PgePipelineItem *item,
                                                             gint64           since_us);
G_GNUC_INTERNAL void           pge_connection_pipeline_end  (PgeConnection *conn);

/* Lower-level pieces, for job functions that drive libpq themselves. */
G_GNUC_INTERNAL gboolean       pge_connection_wait_for_result (PgeConnection *conn);
G_GNUC_INTERNAL GError        *pge_connection_error_from_result (PgeConnection  *conn,
                                                                 const PGresult *res);
G_GNUC_INTERNAL void           pge_connection_log        (PgeConnection *conn,
                                                          const char    *sql,
                                                          gint64         start_us,
                                                          PgeResult     *result,
                                                          const GError  *error);

/* For the holder: one COPY statement, fed from @read (FROM STDIN) or
 * written to @write (TO STDOUT), one chunk at a time; the connection is
 * idle again afterwards, whatever failed. */
G_GNUC_INTERNAL PgeResult     *pge_connection_copy       (PgeConnection  *conn,
                                                          const char     *sql,
                                                          PgeCopyFromFunc read,
                                                          PgeCopyToFunc   write,
                                                          gpointer        data,
                                                          GError        **error);

/* Cancellation; any thread. @token names what runs (a job); a request
 * is sent only while that very token runs. */
G_GNUC_INTERNAL void           pge_connection_set_running (PgeConnection *conn,
                                                           gconstpointer  token,
                                                           gboolean       cancelled);
G_GNUC_INTERNAL void           pge_connection_cancel     (PgeConnection *conn,
                                                          gconstpointer  token);
G_GNUC_INTERNAL void           pge_connection_cancel_all (PgeConnection *conn);
G_GNUC_INTERNAL gboolean       pge_connection_take_cancel_sent (PgeConnection *conn);
G_GNUC_INTERNAL void           pge_connection_settle_cancel (PgeConnection *conn);

G_END_DECLS
