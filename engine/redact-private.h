/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What every masked secret becomes. */
#define PGE_REDACT_MASK "********"

/* A copy of @sql with the secrets masked (see redact.c), or NULL for a
 * NULL @sql. Never blocks; safe from any thread. */
G_GNUC_INTERNAL char *pge_log_redact_sql      (const char *sql);

/* The same; with @secrets non-NULL, *@secrets becomes a new array (char*,
 * owned, longest first) of the text between the quotes of every literal
 * it masked, as spelt in @sql, so that a server message quoting @sql back
 * ("unterminated quoted string at or near ...") can be scrubbed too. */
G_GNUC_INTERNAL char *pge_log_redact_sql_full (const char  *sql,
                                               GPtrArray  **secrets);

G_END_DECLS
