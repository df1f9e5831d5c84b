/* errors.c — the PGE_ERROR domain and the SQLSTATE it carries.
 *
 * The domain is a GLib "extended" error domain: every GError in it owns a
 * small private struct holding the server's SQLSTATE, which g_error_copy()
 * duplicates. So the code survives g_propagate_error(), GTask and
 * pge_future_wait()'s copies without parsing messages.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "errors-private.h"

typedef struct {
  char sqlstate[6];
} PgeErrorPrivate;

static void
pge_error_private_init (PgeErrorPrivate *priv)
{
  priv->sqlstate[0] = '\0';
}

static void
pge_error_private_copy (const PgeErrorPrivate *src, PgeErrorPrivate *dest)
{
  memcpy (dest->sqlstate, src->sqlstate, sizeof dest->sqlstate);
}

static void
pge_error_private_clear (PgeErrorPrivate *priv)
{
}

/**
 * pge_error_quark:
 *
 * The quark of the %PGE_ERROR domain. Thread-safe.
 *
 * Returns: the %PGE_ERROR quark
 *
 * Since: 1.0
 */
G_DEFINE_EXTENDED_ERROR (PgeError, pge_error)

/**
 * pge_error_get_sqlstate:
 * @error: (nullable): any #GError, or %NULL
 *
 * The five-character SQLSTATE the server attached to @error ("42P01",
 * "40001", "57014" ...). Never blocks; thread-safe.
 *
 * Returns: (nullable): the SQLSTATE, owned by @error, or %NULL when @error
 *   is %NULL, not in the %PGE_ERROR domain, or did not come from the server
 *
 * Since: 1.0
 */
const char *
pge_error_get_sqlstate (const GError *error)
{
  PgeErrorPrivate *priv;

  if (error == NULL || error->domain != PGE_ERROR)
    return NULL;
  priv = pge_error_get_private (error);
  if (priv == NULL || priv->sqlstate[0] == '\0')
    return NULL;
  return priv->sqlstate;
}

/* A SQLSTATE alone decides the code, except 57014 (query_canceled), which
 * the server sends both for our cancel request and for statement_timeout:
 * only the worker knows whether it asked. */
gint
pge_error_code_for_sqlstate (const char *sqlstate, gboolean cancel_requested)
{
  if (sqlstate == NULL)
    return PGE_ERROR_QUERY;
  if (strcmp (sqlstate, "57014") == 0)
    return cancel_requested ? PGE_ERROR_CANCELLED : PGE_ERROR_TIMEOUT;
  /* connection_exception, admin/crash shutdown, cannot_connect_now, and the
   * idle-session timeouts all end the session. */
  if (g_str_has_prefix (sqlstate, "08") || strcmp (sqlstate, "57P01") == 0 ||
      strcmp (sqlstate, "57P02") == 0 || strcmp (sqlstate, "57P03") == 0 ||
      strcmp (sqlstate, "25P03") == 0 || strcmp (sqlstate, "57P05") == 0)
    return PGE_ERROR_CONNECTION;
  return PGE_ERROR_QUERY;
}

GError *
pge_error_new_sqlstate (gint code, const char *sqlstate, const char *format, ...)
{
  va_list args;
  GError *error;

  va_start (args, format);
  error = g_error_new_valist (PGE_ERROR, code, format, args);
  va_end (args);
  if (sqlstate != NULL && strlen (sqlstate) == 5)
    memcpy (pge_error_get_private (error)->sqlstate, sqlstate, 6);
  return error;
}

GError *
pge_error_new_from_result (const PGresult *res, gboolean cancel_requested)
{
  const char *sqlstate = PQresultErrorField (res, PG_DIAG_SQLSTATE);
  const char *primary = PQresultErrorField (res, PG_DIAG_MESSAGE_PRIMARY);
  const char *detail = PQresultErrorField (res, PG_DIAG_MESSAGE_DETAIL);
  const char *severity = PQresultErrorField (res, PG_DIAG_SEVERITY_NONLOCALIZED);
  gint code = pge_error_code_for_sqlstate (sqlstate, cancel_requested);
  g_autofree char *fallback = NULL;

  /* The session survives an ERROR; only FATAL or PANIC end it (a lost
   * connection is caught by the worker from the connection status). So a
   * Bind with the wrong number of parameters (08P01, ERROR) is a query
   * error, while an admin shutdown (57P01, FATAL) is a connection error. */
  if (code == PGE_ERROR_CONNECTION && severity != NULL && strcmp (severity, "ERROR") == 0)
    code = PGE_ERROR_QUERY;

  if (primary == NULL)
    primary = fallback = g_strchomp (g_strdup (PQresultErrorMessage (res)));
  if (primary == NULL || *primary == '\0')
    primary = "unknown server error";
  return pge_error_new_sqlstate (code, sqlstate, "%s%s%s%s%s%s%s", primary,
                                 detail ? " (" : "", detail ? detail : "", detail ? ")" : "",
                                 sqlstate ? " [SQLSTATE " : "",
                                 sqlstate ? sqlstate : "", sqlstate ? "]" : "");
}

GError *
pge_error_new_from_conn (PGconn *conn, gint code, const char *what)
{
  g_autofree char *message = g_strchomp (g_strdup (conn ? PQerrorMessage (conn) : ""));
  g_autofree char *clean = pge_error_scrub (message, conn ? PQpass (conn) : NULL);

  if (*clean == '\0')
    return g_error_new (PGE_ERROR, code, "%s", what);
  return g_error_new (PGE_ERROR, code, "%s: %s", what, clean);
}

/* libpq never prints a password on purpose; this is the belt to those
 * braces, for messages that echo a conninfo fragment back. */
char *
pge_error_scrub (const char *message, const char *secret)
{
  g_auto(GStrv) parts = NULL;

  if (message == NULL)
    return g_strdup ("");
  if (secret == NULL || *secret == '\0' || strstr (message, secret) == NULL)
    return g_strdup (message);
  parts = g_strsplit (message, secret, -1);
  return g_strjoinv ("********", parts);
}

/* Serialization failure and deadlock: the transaction may succeed if run
 * again from the start. */
gboolean
pge_error_is_retryable (const GError *error)
{
  const char *sqlstate = pge_error_get_sqlstate (error);

  return sqlstate != NULL && (strcmp (sqlstate, "40001") == 0 || strcmp (sqlstate, "40P01") == 0);
}
