/* logging.c — query and response logging through GLib structured logging.
 *
 * Every record goes to the "pgengine" domain at G_LOG_LEVEL_MESSAGE with
 * fields PGE_SQL, PGE_WORKER and PGE_DURATION_US (and PGE_ROWS,
 * PGE_COMMAND with log_responses), so a journald or custom writer can
 * filter on them. Parameters are never logged: they are where secrets
 * travel. Password literals inside SQL (ALTER ROLE ... PASSWORD '...') are
 * masked before the SQL reaches any log.
 *
 * Stateless: safe from any thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "logging-private.h"

/* Masks the string literal after every PASSWORD keyword (any case),
 * including E'' and dollar-free doubled-quote forms. */
char *
pge_log_redact_sql (const char *sql)
{
  GString *out;
  const char *p = sql;

  if (sql == NULL)
    return NULL;
  out = g_string_sized_new (strlen (sql));
  while (*p != '\0')
    {
      const char *q;

      if (g_ascii_strncasecmp (p, "password", 8) != 0 ||
          (p > sql && (g_ascii_isalnum (p[-1]) || p[-1] == '_')))
        {
          g_string_append_c (out, *p++);
          continue;
        }
      g_string_append_len (out, p, 8);
      p += 8;
      for (q = p; g_ascii_isspace (*q); q++)
        ;
      if (*q == 'E' || *q == 'e')
        q++;
      if (*q != '\'')
        continue;
      g_string_append_len (out, p, q - p);
      for (q++; *q != '\0'; q++)
        {
          if (*q == '\'' && q[1] == '\'')
            q++;
          else if (*q == '\'')
            break;
        }
      g_string_append (out, "'********'");
      p = (*q == '\'') ? q + 1 : q;
    }
  return g_string_free (out, FALSE);
}

void
pge_log_query (const char     *worker_label,
               const char     *sql,
               gint64          duration_us,
               const PGresult *res,
               const GError   *error,
               gboolean        with_response)
{
  g_autofree char *safe_sql = pge_log_redact_sql (sql);
  g_autofree char *duration = g_strdup_printf ("%" G_GINT64_FORMAT, duration_us);
  g_autofree char *message = NULL;
  g_autofree char *rows = NULL;
  const char *command = "";

  if (with_response && res != NULL)
    {
      rows = g_strdup_printf ("%d", PQntuples (res));
      command = PQcmdStatus ((PGresult *) res);
    }
  if (error != NULL)
    message = g_strdup_printf ("[%s] %.3f ms: %s -- failed: %s", worker_label,
                               duration_us / 1000.0, safe_sql, error->message);
  else if (rows != NULL)
    message = g_strdup_printf ("[%s] %.3f ms: %s -- %s, %s rows", worker_label,
                               duration_us / 1000.0, safe_sql, command, rows);
  else
    message = g_strdup_printf ("[%s] %.3f ms: %s", worker_label, duration_us / 1000.0, safe_sql);

  {
    const GLogField fields[] = {
      { "GLIB_DOMAIN", "pgengine", -1 },
      { "PRIORITY", "5", -1 },
      { "MESSAGE", message, -1 },
      { "PGE_SQL", safe_sql, -1 },
      { "PGE_WORKER", worker_label, -1 },
      { "PGE_DURATION_US", duration, -1 },
      { "PGE_ROWS", rows ? rows : "", -1 },
      { "PGE_COMMAND", command, -1 },
    };
    g_log_structured_array (G_LOG_LEVEL_MESSAGE, fields, G_N_ELEMENTS (fields));
  }
}
