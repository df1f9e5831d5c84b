/* logging.c — query and response logging through GLib structured logging.
 *
 * Every record goes to the "pgengine" domain at G_LOG_LEVEL_MESSAGE with
 * fields PGE_SQL, PGE_WORKER and PGE_DURATION_US (and PGE_ROWS,
 * PGE_COMMAND with log_responses), so a journald or custom writer can
 * filter on them. Parameters are never logged: they are where secrets
 * travel. Secrets inside the SQL text (ALTER ROLE ... PASSWORD '...', the
 * password of a connection string) are masked before it reaches any log,
 * by redact.c, and whatever was masked is scrubbed from the server's
 * error message too, since some messages quote the SQL back.
 *
 * Stateless: safe from any thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "errors-private.h"
#include "logging-private.h"
#include "redact-private.h"

/* The server quotes SQL back in some of its messages ("unterminated
 * quoted string at or near ..."): what was masked in the SQL is scrubbed
 * from the error too. */
static char *
scrub_secrets (const char *message, GPtrArray *secrets)
{
  char *clean = g_strdup (message);

  for (guint i = 0; i < secrets->len; i++)
    {
      char *next = pge_error_scrub (clean, secrets->pdata[i]);

      g_free (clean);
      clean = next;
    }
  return clean;
}

void
pge_log_query (const char     *worker_label,
               const char     *sql,
               gint64          duration_us,
               const PGresult *res,
               const GError   *error,
               gboolean        with_response)
{
  g_autoptr(GPtrArray) secrets = NULL;
  g_autofree char *safe_sql = pge_log_redact_sql_full (sql, &secrets);
  g_autofree char *safe_error = error ? scrub_secrets (error->message, secrets) : NULL;
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
                               duration_us / 1000.0, safe_sql, safe_error);
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
