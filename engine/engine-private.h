/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "current-private.h"
#include "notifier-private.h"
#include "pool-private.h"
#include "routing-private.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL PgePool        *pge_engine_get_primary   (PgeEngine *engine);
G_GNUC_INTERNAL PgePool        *pge_engine_get_node      (PgeEngine *engine, const char *name);
G_GNUC_INTERNAL PgeRouter      *pge_engine_get_router    (PgeEngine *engine);
/* Every node's pool, [0] the primary; fixed after init. Transfer none. */
G_GNUC_INTERNAL GPtrArray      *pge_engine_get_pools     (PgeEngine *engine);
G_GNUC_INTERNAL gboolean        pge_engine_check_open    (PgeEngine *engine, GError **error);

/* The engine's registry of per-thread current transactions; transfer none. */
G_GNUC_INTERNAL PgeCurrent     *pge_engine_get_transaction_registry   (PgeEngine *engine);
/* The same for per-thread current sessions (session.c). */
G_GNUC_INTERNAL PgeCurrent     *pge_engine_get_session_registry  (PgeEngine *engine);
/* The engine's LISTEN connection, made on first use (notify.c). */
G_GNUC_INTERNAL PgeNotifier    *pge_engine_dup_notifier  (PgeEngine *engine, GError **error);

/* TRUE on a worker thread of @engine, where blocking on @engine deadlocks. */
G_GNUC_INTERNAL gboolean        pge_engine_is_worker_thread (PgeEngine *engine);
G_GNUC_INTERNAL gboolean        pge_engine_check_may_block  (PgeEngine  *engine,
                                                             const char *what,
                                                             GError    **error);

G_GNUC_INTERNAL void          pge_engine_emit_notification (PgeEngine  *engine,
                                                            const char *channel,
                                                            const char *payload,
                                                            gint        sender_pid,
                                                            gboolean    missed);
G_GNUC_INTERNAL GMainContext *pge_engine_get_main_context  (PgeEngine  *engine);

G_END_DECLS
