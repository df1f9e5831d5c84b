/* result.c — PgeResult, an immutable view of one PGresult.
 *
 * A result never changes after the worker creates it, so every getter may
 * run on any thread without a lock; only the reference count is atomic.
 * Values are in PostgreSQL's text form; the typed getters parse that text.
 * The PGresult is cleared by the last unref.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "result-private.h"

struct _PgeResult {
  PGresult *res;   /* owned, immutable */
};

/**
 * PgeResult:
 *
 * The rows and command tag of one statement.
 *
 * Immutable once made: every getter is safe from any thread.
 *
 * Since: 1.0
 */
/**
 * pge_result_get_type:
 *
 * Returns: the boxed #GType of #PgeResult
 *
 * Since: 1.0
 */
G_DEFINE_BOXED_TYPE (PgeResult, pge_result, pge_result_ref, pge_result_unref)

PgeResult *
pge_result_new_take (PGresult *res)
{
  PgeResult *result = g_atomic_rc_box_new0 (PgeResult);

  result->res = res;
  return result;
}

/**
 * pge_result_ref:
 * @result: a #PgeResult
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @result
 *
 * Since: 1.0
 */
PgeResult *
pge_result_ref (PgeResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);
  return g_atomic_rc_box_acquire (result);
}

static void
pge_result_free (PgeResult *result)
{
  g_clear_pointer (&result->res, PQclear);
}

/**
 * pge_result_unref:
 * @result: (transfer full): a #PgeResult
 *
 * Drops a reference; the last one frees the rows. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_result_unref (PgeResult *result)
{
  g_return_if_fail (result != NULL);
  g_atomic_rc_box_release_full (result, (GDestroyNotify) pge_result_free);
}

/**
 * pge_result_get_n_rows:
 * @result: a #PgeResult
 *
 * Returns: the number of rows (0 for a command that returns none)
 *
 * Since: 1.0
 */
guint
pge_result_get_n_rows (PgeResult *result)
{
  g_return_val_if_fail (result != NULL, 0);
  return result->res ? (guint) PQntuples (result->res) : 0;
}

/**
 * pge_result_get_n_columns:
 * @result: a #PgeResult
 *
 * Returns: the number of columns
 *
 * Since: 1.0
 */
guint
pge_result_get_n_columns (PgeResult *result)
{
  g_return_val_if_fail (result != NULL, 0);
  return result->res ? (guint) PQnfields (result->res) : 0;
}

/**
 * pge_result_get_column_name:
 * @result: a #PgeResult
 * @column: a column index, from 0
 *
 * Returns: (nullable): the column's name, owned by @result; %NULL (and a
 *   critical) when @column is out of range
 *
 * Since: 1.0
 */
const char *
pge_result_get_column_name (PgeResult *result, guint column)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (column < pge_result_get_n_columns (result), NULL);
  return PQfname (result->res, (int) column);
}

/**
 * pge_result_get_column_index:
 * @result: a #PgeResult
 * @name: a column name, matched exactly (case-sensitive)
 *
 * Returns: the index of the first column called @name, or -1 if absent
 *
 * Since: 1.0
 */
int
pge_result_get_column_index (PgeResult *result, const char *name)
{
  guint n;

  g_return_val_if_fail (result != NULL, -1);
  g_return_val_if_fail (name != NULL, -1);
  /* Not PQfnumber: it folds case and strips quotes, so "Foo" would miss. */
  n = pge_result_get_n_columns (result);
  for (guint i = 0; i < n; i++)
    if (strcmp (PQfname (result->res, (int) i), name) == 0)
      return (int) i;
  return -1;
}

/**
 * pge_result_get_column_type:
 * @result: a #PgeResult
 * @column: a column index, from 0
 *
 * Returns: (type guint) (transfer none): the column's type OID (23 for
 *   int4 ...), or 0 (with a critical) when @column is out of range
 *
 * Since: 1.0
 */
Oid
pge_result_get_column_type (PgeResult *result, guint column)
{
  g_return_val_if_fail (result != NULL, 0);
  g_return_val_if_fail (column < pge_result_get_n_columns (result), 0);
  return PQftype (result->res, (int) column);
}

static gboolean
cell_in_range (PgeResult *result, guint row, guint column)
{
  return result->res != NULL && row < (guint) PQntuples (result->res) &&
         column < (guint) PQnfields (result->res);
}

/**
 * pge_result_get_value:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 *
 * Returns: (nullable): the value's text form, owned by @result; %NULL for
 *   SQL NULL, and (with a critical) for a cell out of range
 *
 * Since: 1.0
 */
const char *
pge_result_get_value (PgeResult *result, guint row, guint column)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (cell_in_range (result, row, column), NULL);
  if (PQgetisnull (result->res, (int) row, (int) column))
    return NULL;
  return PQgetvalue (result->res, (int) row, (int) column);
}

/**
 * pge_result_is_null:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 *
 * Returns: whether the cell is SQL NULL; %TRUE (with a critical) for a cell
 *   out of range, since there is no value there either
 *
 * Since: 1.0
 */
gboolean
pge_result_is_null (PgeResult *result, guint row, guint column)
{
  g_return_val_if_fail (result != NULL, TRUE);
  g_return_val_if_fail (cell_in_range (result, row, column), TRUE);
  return PQgetisnull (result->res, (int) row, (int) column);
}

/**
 * pge_result_get_int64:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 *
 * Parses the cell as a decimal integer (int2, int4, int8, oid ...).
 *
 * Returns: the value; 0 for NULL, out of range, or text that is not an
 *   integer
 *
 * Since: 1.0
 */
gint64
pge_result_get_int64 (PgeResult *result, guint row, guint column)
{
  const char *text = pge_result_get_value (result, row, column);
  gint64 value;

  if (text == NULL || !g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &value, NULL))
    return 0;
  return value;
}

/**
 * pge_result_get_double:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 *
 * Parses the cell as a floating-point number (float4, float8, numeric,
 * integers; "Infinity", "-Infinity" and "NaN" too).
 *
 * Returns: the value; 0 for NULL or out of range
 *
 * Since: 1.0
 */
double
pge_result_get_double (PgeResult *result, guint row, guint column)
{
  const char *text = pge_result_get_value (result, row, column);

  return text ? g_ascii_strtod (text, NULL) : 0.0;
}

/**
 * pge_result_get_boolean:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 *
 * Returns: %TRUE if the cell is a true boolean ("t"); %FALSE for false,
 *   NULL or out of range
 *
 * Since: 1.0
 */
gboolean
pge_result_get_boolean (PgeResult *result, guint row, guint column)
{
  const char *text = pge_result_get_value (result, row, column);

  return text != NULL && (strcmp (text, "t") == 0 || strcmp (text, "true") == 0);
}

/**
 * pge_result_get_command_tag:
 * @result: a #PgeResult
 *
 * Returns: the command tag, such as "INSERT 0 1" or "SELECT 3", owned by
 *   @result; "" if there is none
 *
 * Since: 1.0
 */
const char *
pge_result_get_command_tag (PgeResult *result)
{
  g_return_val_if_fail (result != NULL, "");
  return result->res ? PQcmdStatus (result->res) : "";
}

/**
 * pge_result_get_rows_affected:
 * @result: a #PgeResult
 *
 * Returns: the rows inserted, updated, deleted, selected, moved, fetched or
 *   copied by the command; 0 for other commands
 *
 * Since: 1.0
 */
guint64
pge_result_get_rows_affected (PgeResult *result)
{
  const char *text;

  g_return_val_if_fail (result != NULL, 0);
  text = result->res ? PQcmdTuples (result->res) : "";
  return *text ? g_ascii_strtoull (text, NULL, 10) : 0;
}

/**
 * pge_result_get_pgresult: (skip)
 * @result: a #PgeResult
 *
 * The underlying libpq result, for what this API does not wrap (binary
 * columns, PQfmod ...). Do not PQclear() it.
 *
 * Returns: (transfer none) (nullable): the PGresult, owned by @result
 *
 * Since: 1.0
 */
const PGresult *
pge_result_get_pgresult (PgeResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);
  return result->res;
}
