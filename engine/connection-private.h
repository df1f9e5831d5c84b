/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "config-private.h"
#include "job-private.h"
#include "statements-private.h"

G_BEGIN_DECLS

/* The engine's connection defaults (a value in the user's conninfo wins;
 * RELIABILITY.md and the README say why these). A dead link under a
 * statement in flight is dropped by the kernel after tcp_user_timeout of
 * unacknowledged data; one under an idle connection, or under a
 * statement waiting for its result, after keepalives_idle plus one
 * unanswered probe (the user timeout then ends it): about 15 s either
 * way. */
#define PGE_CONNECT_TIMEOUT_S      "10"
#define PGE_KEEPALIVES_IDLE_S      "10"
#define PGE_KEEPALIVES_INTERVAL_S  "5"
#define PGE_KEEPALIVES_COUNT       "3"
#define PGE_TCP_USER_TIMEOUT_MS    "15000"

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
  gint64      read_us;    /* monotonic: when its results were in */
  /* Private to connection.c. */
  gboolean    cached;
  gboolean    parse;
  guint       key_hash;   /* the statement cache's, from plan() */
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

/* Any thread: PQconnectStartParams() of @conninfo over the defaults
 * above, with @application_name as the fallback_application_name. */
G_GNUC_INTERNAL PGconn        *pge_connection_start_params (const char *conninfo,
                                                            const char *application_name);
/* Any thread (close): connecting gives up, now and from now on. */
G_GNUC_INTERNAL void           pge_connection_interrupt  (PgeConnection *conn);

/* For the holder only. */
G_GNUC_INTERNAL gboolean       pge_connection_connect    (PgeConnection *conn, GError **error);
G_GNUC_INTERNAL gboolean       pge_connection_connect_until (PgeConnection *conn,
                                                             gint64         deadline,
                                                             GError       **error);
G_GNUC_INTERNAL void           pge_connection_disconnect (PgeConnection *conn);
G_GNUC_INTERNAL gboolean       pge_connection_is_ok      (PgeConnection *conn);
G_GNUC_INTERNAL gboolean       pge_connection_preflight  (PgeConnection *conn, gint64 now);
G_GNUC_INTERNAL void           pge_connection_make_idle  (PgeConnection *conn, gint64 now);
G_GNUC_INTERNAL gint64         pge_connection_get_idle_since (PgeConnection *conn);
G_GNUC_INTERNAL gint64         pge_connection_get_answered_us (PgeConnection *conn);
G_GNUC_INTERNAL PgeResult     *pge_connection_query_since (PgeConnection *conn,
                                                           const char    *sql,
                                                           PgeParams     *frozen_params,
                                                           gint64         start,
                                                           GError       **error);
/* After a session (session.c), on an idle connection: DISCARD ALL, then
 * what connecting had set again; the statement cache is emptied, since
 * DISCARD ALL deallocated it. A failure drops the connection. */
G_GNUC_INTERNAL void           pge_connection_reset_session (PgeConnection *conn);
G_GNUC_INTERNAL gboolean       pge_connection_is_fast    (PgeConnection *conn,
                                                          const char    *sql,
                                                          PgeParams     *params,
                                                          guint          key_hash);

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
G_GNUC_INTERNAL gboolean       pge_connection_has_result    (PgeConnection *conn);
G_GNUC_INTERNAL gboolean       pge_connection_wait_result_until (PgeConnection *conn,
                                                                 gint64         deadline);
G_GNUC_INTERNAL void           pge_connection_set_corked    (PgeConnection *conn, gboolean corked);
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
G_GNUC_INTERNAL gboolean       pge_connection_settle_cancel (PgeConnection *conn);

/* Metrics, any thread: adds the statement cache's hits and misses. */
G_GNUC_INTERNAL void           pge_connection_add_cache_counts (PgeConnection *conn,
                                                                guint64       *hits,
                                                                guint64       *misses);
/* For the holder, around a call with its own statement timeout: the
 * client-side deadline to use; returns the previous one. */
G_GNUC_INTERNAL guint          pge_connection_swap_statement_timeout (PgeConnection *conn,
                                                                      guint          timeout_ms);

G_END_DECLS
