/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

/* What runs on every new connection before it serves anyone: the
 * config's SQL script, then its function. Immutable and shared (the
 * config, its snapshots and every connection hold references). */
typedef struct _PgeConnectHook PgeConnectHook;

G_GNUC_INTERNAL PgeConnectHook *pge_connect_hook_new   (PgeConnectFunc  func,
                                                        gpointer        user_data,
                                                        GDestroyNotify  notify,
                                                        const char     *sql);
G_GNUC_INTERNAL PgeConnectHook *pge_connect_hook_ref   (PgeConnectHook *hook);
G_GNUC_INTERNAL void            pge_connect_hook_unref (PgeConnectHook *hook);
G_GNUC_INTERNAL PgeConnectFunc  pge_connect_hook_get_func (PgeConnectHook *hook);
G_GNUC_INTERNAL const char     *pge_connect_hook_get_sql  (PgeConnectHook *hook);
/* A hook with @hook's function and @sql (a copy), or @hook's script and
 * @func: for the config's setters, which replace one part. @hook is
 * nullable; transfer full. */
G_GNUC_INTERNAL PgeConnectHook *pge_connect_hook_with_sql  (PgeConnectHook *hook, const char *sql);
G_GNUC_INTERNAL PgeConnectHook *pge_connect_hook_with_func (PgeConnectHook *hook,
                                                            PgeConnectFunc  func,
                                                            gpointer        user_data,
                                                            GDestroyNotify  notify);
/* For the thread that holds @pg, right after it connected or was reset:
 * runs the script, then the function. %NULL @hook: nothing to do. */
G_GNUC_INTERNAL gboolean        pge_connect_hook_run   (PgeConnectHook *hook,
                                                        PGconn         *pg,
                                                        GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeConnectHook, pge_connect_hook_unref)

G_END_DECLS
