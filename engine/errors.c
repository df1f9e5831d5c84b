/* errors.c — the PGE_ERROR domain and the SQLSTATE it carries.
 *
 * The domain is a GLib "extended" error domain: every GError in it owns a
 * small private struct holding the server's SQLSTATE, which g_error_copy()
 * duplicates. So the code survives g_propagate_error(), GTask and
 * pge_future_wait()'s copies without parsing messages.
 *
 * Bindings lose that struct: PyGObject turns a GError into a Python
 * GLib.Error (domain, code, message) and, when Python hands it back to C,
 * rebuilds a plain GError from those three. So the SQLSTATE also lives in
 * the message, in one documented form: every PGE_ERROR that carries a
 * SQLSTATE has a message ending in " [SQLSTATE XXXXX]" (XXXXX five ASCII
 * digits or capital letters) — pge_error_new_sqlstate() guarantees it —
 * and pge_error_get_sqlstate() reads that suffix when the private struct
 * is empty. We chose the message over a registry of live errors (keyed by
 * message, say) because the message is what every binding already copies
 * and keeps, it needs no lifetime rules or locking, and it shows the
 * SQLSTATE to a human reading a log too. The parsed SQLSTATE is returned
 * as an interned string (g_intern_string()), so the const error is never
 * written to and the string outlives it; interning is bounded by the
 * 36^5 possible codes, in practice by the few hundred PostgreSQL defines.
 * The common classes of SQLSTATE (unique violation, serialization
 * failure, ...) are told apart by pge_error_get_class(), which reads the
 * SQLSTATE the same way, so it works on a binding's copy too. They are not
 * error codes of their own: the API contract makes every server-reported
 * statement error PGE_ERROR_QUERY, and callers match that code.
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

#define SQLSTATE_SUFFIX_PREFIX " [SQLSTATE "
#define SQLSTATE_SUFFIX_LEN (sizeof SQLSTATE_SUFFIX_PREFIX - 1 + 5 + 1)

static gboolean
sqlstate_is_valid (const char *s)
{
  for (int i = 0; i < 5; i++)
    if (!g_ascii_isdigit (s[i]) && !g_ascii_isupper (s[i]))
      return FALSE;
  return TRUE;
}

/* Whether @message ends in " [SQLSTATE XXXXX]"; the XXXXX into @code. */
static gboolean
sqlstate_in_message (const char *message, char code[6])
{
  gsize len = message != NULL ? strlen (message) : 0;
  const char *suffix;

  if (len < SQLSTATE_SUFFIX_LEN)
    return FALSE;
  suffix = message + len - SQLSTATE_SUFFIX_LEN;
  if (strncmp (suffix, SQLSTATE_SUFFIX_PREFIX, sizeof SQLSTATE_SUFFIX_PREFIX - 1) != 0 ||
      message[len - 1] != ']')
    return FALSE;
  memcpy (code, suffix + sizeof SQLSTATE_SUFFIX_PREFIX - 1, 5);
  code[5] = '\0';
  return sqlstate_is_valid (code);
}

/* Interned, so it outlives the error (only pge_error_get_sqlstate(), on a
 * binding's copy, needs that: making an error never interns). */
static const char *
sqlstate_from_message (const char *message)
{
  char code[6];

  return sqlstate_in_message (message, code) ? g_intern_string (code) : NULL;
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
 * An error made by pgengine keeps it beside the message. A copy that a
 * language binding rebuilt from the domain, code and message alone (a
 * `GLib.Error` that Python passes back) has only the message: every
 * %PGE_ERROR carrying a SQLSTATE has a message ending in
 * `" [SQLSTATE XXXXX]"`, and that suffix is read instead. So
 * `Pge.error_get_sqlstate(e)` works in Python on a caught `GLib.Error`.
 *
 * Returns: (nullable): the SQLSTATE, owned by @error or (when read from
 *   the message) interned and valid forever, or %NULL when @error is
 *   %NULL, not in the %PGE_ERROR domain, or did not come from the server
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
  if (priv != NULL && priv->sqlstate[0] != '\0')
    return priv->sqlstate;
  return sqlstate_from_message (error->message);
}

/**
 * pge_error_is_server_error:
 * @error: (nullable): any #GError, or %NULL
 *
 * Whether @error is a statement's error reported by the server
 * (%PGE_ERROR_QUERY). Errors the server sends that end the session, cancel
 * or time out a statement have their own codes (%PGE_ERROR_CONNECTION,
 * %PGE_ERROR_CANCELLED, %PGE_ERROR_TIMEOUT) and give %FALSE. Never blocks;
 * thread-safe.
 *
 * Returns: %TRUE for a server-reported statement error
 *
 * Since: 1.0
 */
gboolean
pge_error_is_server_error (const GError *error)
{
  return error != NULL && error->domain == PGE_ERROR && error->code == PGE_ERROR_QUERY;
}

static const struct {
  const char   *sqlstate;
  PgeErrorClass klass;
} classes[] = {
  { "23505", PGE_ERROR_CLASS_UNIQUE_VIOLATION },
  { "23503", PGE_ERROR_CLASS_FOREIGN_KEY_VIOLATION },
  { "23502", PGE_ERROR_CLASS_NOT_NULL_VIOLATION },
  { "23514", PGE_ERROR_CLASS_CHECK_VIOLATION },
  { "40001", PGE_ERROR_CLASS_SERIALIZATION_FAILURE },
  { "40P01", PGE_ERROR_CLASS_DEADLOCK },
  { "42P01", PGE_ERROR_CLASS_UNDEFINED_TABLE },
  { "42703", PGE_ERROR_CLASS_UNDEFINED_COLUMN },
};

/**
 * pge_error_get_class:
 * @error: (nullable): any #GError, or %NULL
 *
 * The class of a server error among the common ones, from its SQLSTATE
 * (see pge_error_get_sqlstate(): it works on a copy a binding rebuilt from
 * domain, code and message, such as a `GLib.Error` caught in Python). Never
 * blocks; thread-safe.
 *
 * Returns: the class, or %PGE_ERROR_CLASS_NONE for %NULL, an error of
 *   another domain, or a SQLSTATE of no listed class
 *
 * Since: 1.0
 */
PgeErrorClass
pge_error_get_class (const GError *error)
{
  const char *sqlstate = pge_error_get_sqlstate (error);

  if (sqlstate == NULL)
    return PGE_ERROR_CLASS_NONE;
  for (gsize i = 0; i < G_N_ELEMENTS (classes); i++)
    if (strcmp (sqlstate, classes[i].sqlstate) == 0)
      return classes[i].klass;
  return PGE_ERROR_CLASS_NONE;
}

/* Registered when the library is loaded, before any GError of the domain
 * can be made: GLib gives a GError its private struct only if the domain
 * was registered when it was created, and pge_error_get_private() cannot
 * tell. (A binding that makes a "pge-error-quark" GError before loading
 * the library at all is the one case left; it cannot then call us.) */
__attribute__ ((constructor)) static void
pge_error_register_domain (void)
{
  (void) pge_error_quark ();
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

/* With a valid @sqlstate, the message is made to end in " [SQLSTATE
 * XXXXX]" (appended unless @format already put it there): the form
 * pge_error_get_sqlstate() reads back from a binding's copy. */
GError *
pge_error_new_sqlstate (gint code, const char *sqlstate, const char *format, ...)
{
  va_list args;
  GError *error;
  char in_message[6];

  va_start (args, format);
  error = g_error_new_valist (PGE_ERROR, code, format, args);
  va_end (args);
  if (sqlstate == NULL || strlen (sqlstate) != 5)
    return error;
  memcpy (pge_error_get_private (error)->sqlstate, sqlstate, 6);
  if (!sqlstate_is_valid (sqlstate))
    return error;   /* not from a server: nothing a reader could parse back */
  if (!sqlstate_in_message (error->message, in_message) || strcmp (in_message, sqlstate) != 0)
    {
      char *message = g_strdup_printf ("%s" SQLSTATE_SUFFIX_PREFIX "%s]", error->message, sqlstate);

      g_free (error->message);
      error->message = message;
    }
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
