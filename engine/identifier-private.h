/* identifier-private.h — names checked before they are quoted into SQL.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

/* PostgreSQL's NAMEDATALEN - 1: the longest identifier (savepoint,
 * channel) the server keeps whole. */
#define PGE_NAME_MAX 63

/* `[A-Za-z0-9_]+`, at most PGE_NAME_MAX bytes: safe to put between double
 * quotes. */
G_GNUC_INTERNAL gboolean pge_identifier_is_valid (const char *name);
/* The same, with PGE_ERROR_INVALID_ARGUMENT naming the bad name. */
G_GNUC_INTERNAL gboolean pge_savepoint_name_check    (const char *name,
                                                  GError    **error);

G_END_DECLS
