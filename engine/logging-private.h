/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

/* One record of @sql (secrets masked), its duration and outcome. */
G_GNUC_INTERNAL void pge_log_query (const char     *worker_label,
                                    const char     *sql,
                                    gint64          duration_us,
                                    const PGresult *res,
                                    const GError   *error,
                                    gboolean        with_response);

G_END_DECLS
