/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>
#include <pgengine/pge-engine.h>

G_BEGIN_DECLS

/**
 * PgeSession:
 *
 * One connection of the main node held for a stretch of work, outside
 * any transaction: temp tables, `SET`, advisory locks, `PREPARE` live as
 * long as the session. Reset with `DISCARD ALL` before the connection
 * serves anyone else. Thread-safe.
 *
 * Since: 1.0
 */
typedef struct _PgeSession PgeSession;

#define PGE_TYPE_SESSION (pge_session_get_type ())

PGE_AVAILABLE_IN_1_0 GType       pge_session_get_type   (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_0 PgeSession *pge_engine_session     (PgeEngine *engine, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 void        pge_engine_session_async  (PgeEngine          *engine,
                                                     GCancellable       *cancellable,
                                                     GAsyncReadyCallback callback,
                                                     gpointer            user_data);
PGE_AVAILABLE_IN_1_0 PgeSession *pge_engine_session_finish (PgeEngine    *engine,
                                                     GAsyncResult *result,
                                                     GError      **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 PgeSession *pge_engine_get_current_session (PgeEngine *engine);
PGE_AVAILABLE_IN_1_0 PgeSession *pge_session_ref        (PgeSession *session);
PGE_AVAILABLE_IN_1_0 void        pge_session_unref      (PgeSession *session);
PGE_AVAILABLE_IN_1_0 PgeEngine  *pge_session_get_engine (PgeSession *session);
PGE_AVAILABLE_IN_1_0 gboolean    pge_session_is_ended   (PgeSession *session);
PGE_AVAILABLE_IN_1_0 PgeFuture  *pge_session_query      (PgeSession *session,
                                                  const char *sql,
                                                  PgeParams  *params) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 PgeResult  *pge_session_query_sync (PgeSession *session,
                                                  const char *sql,
                                                  PgeParams  *params,
                                                  GError    **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 gboolean    pge_session_exec_sync  (PgeSession *session,
                                                  const char *script,
                                                  GError    **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_session_end        (PgeSession *session, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeSession, pge_session_unref)

G_END_DECLS
