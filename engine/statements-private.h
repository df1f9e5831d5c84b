/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "job-private.h"

G_BEGIN_DECLS

typedef struct _PgeStatements PgeStatements;

G_GNUC_INTERNAL PgeStatements *pge_statements_new        (guint max);
G_GNUC_INTERNAL void           pge_statements_free       (PgeStatements *statements);
G_GNUC_INTERNAL void           pge_statements_forget_all (PgeStatements *statements);
G_GNUC_INTERNAL gboolean       pge_statements_run        (PgeStatements *statements,
                                                          PgeJob        *job,
                                                          PGconn        *conn,
                                                          PgeResult    **result,
                                                          GError       **error);

G_END_DECLS
