/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL GError *pge_error_new_sqlstate     (gint        code,
                                                    const char *sqlstate,
                                                    const char *format,
                                                    ...) G_GNUC_PRINTF (3, 4);
G_GNUC_INTERNAL GError *pge_error_new_from_result  (const PGresult *res,
                                                    gboolean        cancel_requested);
G_GNUC_INTERNAL GError *pge_error_new_from_conn    (PGconn     *conn,
                                                    gint        code,
                                                    const char *what);
G_GNUC_INTERNAL gint    pge_error_code_for_sqlstate (const char *sqlstate,
                                                     gboolean    cancel_requested);
G_GNUC_INTERNAL char   *pge_error_scrub            (const char *message,
                                                    const char *secret);
G_GNUC_INTERNAL gboolean pge_error_is_retryable    (const GError *error);

G_END_DECLS
