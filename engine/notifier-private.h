/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

/* An engine's LISTEN connection and its listeners (notifier.c). */
typedef struct _PgeNotifier PgeNotifier;

G_GNUC_INTERNAL PgeNotifier *pge_notifier_new      (const char *conninfo, guint timeout_ms);
G_GNUC_INTERNAL PgeNotifier *pge_notifier_ref      (PgeNotifier *notifier);
G_GNUC_INTERNAL void         pge_notifier_unref    (PgeNotifier *notifier);
/* Stops the thread, closes the connection, drops every listener (their
 * destroy notifies run here). Blocks briefly; idempotent; any thread. */
G_GNUC_INTERNAL void         pge_notifier_shutdown (PgeNotifier *notifier);

/* Adds a listener and blocks until its channel is listened to on the
 * server (or fails: PGE_ERROR_CONNECTION, PGE_ERROR_TIMEOUT,
 * PGE_ERROR_CLOSED; then the listener is gone and @destroy has run).
 * @channel must be valid (checked by the caller). Returns its id. */
G_GNUC_INTERNAL guint        pge_notifier_add      (PgeNotifier   *notifier,
                                                    const char    *channel,
                                                    GMainContext  *context,
                                                    PgeNotifyFunc  callback,
                                                    gpointer       user_data,
                                                    GDestroyNotify destroy,
                                                    GError       **error);
/* Removes a listener: no call of its callback starts after this returns.
 * FALSE for an unknown id. Never blocks for long. */
G_GNUC_INTERNAL gboolean     pge_notifier_remove   (PgeNotifier *notifier, guint id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeNotifier, pge_notifier_unref)

G_END_DECLS
