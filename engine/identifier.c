/* identifier.c — the names the engine puts between double quotes in SQL
 * it writes itself (savepoint names), checked before anything is sent.
 *
 * A name is `[A-Za-z0-9_]+` and at most PGE_NAME_MAX bytes, PostgreSQL's
 * NAMEDATALEN - 1 (notify.c's channel names share the limit): the server
 * silently truncates a longer one, so two long names could become one.
 *
 * Pure functions of their arguments: no state, any thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "identifier-private.h"

gboolean
pge_identifier_is_valid (const char *name)
{
  gsize length;

  if (name == NULL)
    return FALSE;
  length = strlen (name);
  /* Longer names are truncated silently, so two long names could become
   * the same savepoint. */
  if (length == 0 || length > PGE_NAME_MAX)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_')
      return FALSE;
  return TRUE;
}

gboolean
pge_savepoint_name_check (const char *name, GError **error)
{
  if (pge_identifier_is_valid (name))
    return TRUE;
  if (name == NULL)
    g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the savepoint name is NULL");
  else
    {
      g_autofree char *shown = g_strescape (name, NULL);

      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "invalid savepoint name \"%s\": it must match [A-Za-z0-9_]+ "
                   "and be at most %d bytes; nothing was sent", shown, PGE_NAME_MAX);
    }
  return FALSE;
}
