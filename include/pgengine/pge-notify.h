/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>
#include <pgengine/pge-engine.h>

G_BEGIN_DECLS

/**
 * PgeNotifyFunc:
 * @channel: the channel, as given to pge_engine_listen()
 * @payload: (nullable): the payload (`""` when NOTIFY had none); %NULL
 *   when @missed
 * @sender_pid: the PID of the server process that sent it; 0 when @missed
 * @missed: %TRUE for a call that carries no notification but says that
 *   the listening connection was lost and is back: notifications sent
 *   meanwhile were not received (the server does not keep them)
 * @user_data: the user data given to pge_engine_listen()
 *
 * Called on the #GMainContext given to pge_engine_listen(), once per
 * notification, in the order the server sent them.
 *
 * Since: 1.0
 */
typedef void (*PgeNotifyFunc) (const char *channel,
                               const char *payload,
                               gint        sender_pid,
                               gboolean    missed,
                               gpointer    user_data);

PGE_AVAILABLE_IN_1_0 guint    pge_engine_listen      (PgeEngine     *engine,
                                               const char    *channel,
                                               GMainContext  *context,
                                               PgeNotifyFunc  callback,
                                               gpointer       user_data,
                                               GDestroyNotify destroy,
                                               GError       **error);
PGE_AVAILABLE_IN_1_0 guint    pge_engine_listen_signal (PgeEngine  *engine,
                                                 const char *channel,
                                                 GError    **error);
PGE_AVAILABLE_IN_1_0 gboolean pge_engine_unlisten    (PgeEngine     *engine,
                                               guint          listener_id,
                                               GError       **error);
PGE_AVAILABLE_IN_1_0 gboolean pge_engine_notify_sync (PgeEngine     *engine,
                                               const char    *channel,
                                               const char    *payload,
                                               GError       **error);

G_END_DECLS
