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

#include "alloc-private.h"
#include "result-private.h"
#include "values-private.h"

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
  PgeResult *result = PGE_RC_BOX_NEW0 (PgeResult);

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
 * Returns: (type guint): the column's type OID (23 for
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
 * Lax: it cannot tell 0 from NULL or from a value that is not an integer.
 * pge_result_read_int64() and its siblings report those as errors; both
 * read the text with the same parser, on a column of any type here.
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

  if (text == NULL || !pge_value_parse_int (text, G_MININT64, G_MAXINT64, &value, NULL))
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
 * Lax: it cannot tell 0 from NULL or from a value that is not a number.
 * It reads the text with the parser of pge_result_read_double() (which
 * reports those as errors) but on a column of any type: a cell the strict
 * reader would refuse for its text is 0 here, never a part of it.
 *
 * Returns: the value; 0 for NULL, out of range, or text that is not a
 *   number as a whole
 *
 * Since: 1.0
 */
static gboolean parse_double (const char *text, Oid type, double *value, GError **error);

double
pge_result_get_double (PgeResult *result, guint row, guint column)
{
  const char *text = pge_result_get_value (result, row, column);
  double value;
  Oid type;

  if (text == NULL)
    return 0.0;
  /* The strict reader's parser for the types it reads; float text for
   * any other column (text holding "1.5"). */
  type = PQftype (result->res, (int) column);
  if (type != PGE_OID_NUMERIC && type != PGE_OID_INT2 && type != PGE_OID_INT4 && type != PGE_OID_INT8)
    type = PGE_OID_FLOAT8;
  if (!parse_double (text, type, &value, NULL))
    return 0.0;
  return value;
}

/**
 * pge_result_get_boolean:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 *
 * Lax: it cannot tell false from NULL or from a value that is not a
 * boolean. pge_result_read_boolean() reports those as errors; both read
 * the text the same way (the server's "t" and "f"), on a column of any
 * type here.
 *
 * Returns: %TRUE if the cell is a true boolean ("t"); %FALSE for false,
 *   NULL, out of range, or anything else
 *
 * Since: 1.0
 */
gboolean
pge_result_get_boolean (PgeResult *result, guint row, guint column)
{
  const char *text = pge_result_get_value (result, row, column);
  gboolean value;

  return text != NULL && pge_value_parse_boolean (text, &value, NULL) && value;
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

/* ------------------------------------------------------------ strict getters
 *
 * pge_result_read_*: each checks the cell exists, that its column has a
 * type it can read, that it is not NULL, and that the text parses and
 * fits, and says which of these failed in a GError. The type check comes
 * first, so a getter used on the wrong column fails on every row, NULL or
 * not, rather than only once data shows up.
 */

static const Oid int_types[] = { PGE_OID_INT2, PGE_OID_INT4, PGE_OID_INT8, 0 };
static const Oid float_types[] = { PGE_OID_FLOAT4, PGE_OID_INT2, 0 };
static const Oid double_types[] = { PGE_OID_FLOAT8, PGE_OID_FLOAT4, PGE_OID_NUMERIC, PGE_OID_INT2,
                                    PGE_OID_INT4, PGE_OID_INT8, 0 };
static const Oid numeric_types[] = { PGE_OID_NUMERIC, PGE_OID_INT2, PGE_OID_INT4, PGE_OID_INT8, 0 };
static const Oid bool_types[] = { PGE_OID_BOOL, 0 };
static const Oid bytea_types[] = { PGE_OID_BYTEA, 0 };
static const Oid date_types[] = { PGE_OID_DATE, 0 };
static const Oid timestamp_types[] = { PGE_OID_TIMESTAMP, 0 };
static const Oid timestamptz_types[] = { PGE_OID_TIMESTAMPTZ, 0 };
static const Oid interval_types[] = { PGE_OID_INTERVAL, 0 };
static const Oid uuid_types[] = { PGE_OID_UUID, 0 };
static const Oid json_types[] = { PGE_OID_JSON, PGE_OID_JSONB, 0 };
static const Oid int_array_types[] = { PGE_OID_INT2_ARRAY, PGE_OID_INT4_ARRAY, PGE_OID_INT8_ARRAY, 0 };
static const Oid double_array_types[] = { PGE_OID_FLOAT8_ARRAY, PGE_OID_FLOAT4_ARRAY, PGE_OID_NUMERIC_ARRAY,
                                          PGE_OID_INT2_ARRAY, PGE_OID_INT4_ARRAY, PGE_OID_INT8_ARRAY, 0 };
static const Oid bool_array_types[] = { PGE_OID_BOOL_ARRAY, 0 };
static const Oid datetime_array_types[] = { PGE_OID_DATE_ARRAY, PGE_OID_TIMESTAMP_ARRAY,
                                            PGE_OID_TIMESTAMPTZ_ARRAY, 0 };
static const Oid bytea_array_types[] = { PGE_OID_BYTEA_ARRAY, 0 };
/* Every built-in array type whose elements have a useful text form. */
static const Oid text_array_types[] = {
  PGE_OID_TEXT_ARRAY, PGE_OID_VARCHAR_ARRAY, PGE_OID_BPCHAR_ARRAY, PGE_OID_NAME_ARRAY,
  PGE_OID_INT2_ARRAY, PGE_OID_INT4_ARRAY, PGE_OID_INT8_ARRAY, PGE_OID_FLOAT4_ARRAY,
  PGE_OID_FLOAT8_ARRAY, PGE_OID_NUMERIC_ARRAY, PGE_OID_BOOL_ARRAY, PGE_OID_DATE_ARRAY,
  PGE_OID_TIMESTAMP_ARRAY, PGE_OID_TIMESTAMPTZ_ARRAY, PGE_OID_INTERVAL_ARRAY, PGE_OID_UUID_ARRAY,
  PGE_OID_JSON_ARRAY, PGE_OID_JSONB_ARRAY, 0
};

static const char *
type_name (Oid type)
{
  static const struct { Oid oid; const char *name; } names[] = {
    { PGE_OID_BOOL, "bool" }, { PGE_OID_BYTEA, "bytea" }, { PGE_OID_CHAR, "char" },
    { PGE_OID_NAME, "name" }, { PGE_OID_INT8, "int8" }, { PGE_OID_INT2, "int2" },
    { PGE_OID_INT4, "int4" }, { PGE_OID_TEXT, "text" }, { PGE_OID_OID, "oid" },
    { PGE_OID_JSON, "json" }, { PGE_OID_FLOAT4, "float4" }, { PGE_OID_FLOAT8, "float8" },
    { PGE_OID_UNKNOWN, "unknown" }, { PGE_OID_BPCHAR, "bpchar" }, { PGE_OID_VARCHAR, "varchar" },
    { PGE_OID_DATE, "date" }, { PGE_OID_TIMESTAMP, "timestamp" }, { PGE_OID_TIMESTAMPTZ, "timestamptz" },
    { PGE_OID_INTERVAL, "interval" }, { PGE_OID_NUMERIC, "numeric" }, { PGE_OID_UUID, "uuid" },
    { PGE_OID_JSONB, "jsonb" }, { PGE_OID_TEXT_ARRAY, "text[]" }, { PGE_OID_INT4_ARRAY, "int4[]" },
    { PGE_OID_INT8_ARRAY, "int8[]" }, { PGE_OID_INT2_ARRAY, "int2[]" }, { PGE_OID_BOOL_ARRAY, "bool[]" },
    { PGE_OID_FLOAT8_ARRAY, "float8[]" }, { PGE_OID_BYTEA_ARRAY, "bytea[]" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (names[i].oid == type)
      return names[i].name;
  return NULL;
}

static gboolean
type_accepted (const Oid *accepted, Oid type)
{
  for (; *accepted != 0; accepted++)
    if (*accepted == type)
      return TRUE;
  return FALSE;
}

static gboolean
cell_misses (PgeResult *result, guint row, guint column, GError **error)
{
  g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
               "row %u, column %u is out of range: the result has %u rows and %u columns",
               row, column, pge_result_get_n_rows (result), pge_result_get_n_columns (result));
  return FALSE;
}

static gboolean
column_mistyped (PgeResult *result, guint column, Oid type, const char *wanted, GError **error)
{
  const char *name = type_name (type);

  if (name != NULL)
    g_set_error (error, PGE_ERROR, PGE_ERROR_CONVERSION, "column %u (\"%s\") is %s, not %s", column,
                 PQfname (result->res, (int) column), name, wanted);
  else
    g_set_error (error, PGE_ERROR, PGE_ERROR_CONVERSION, "column %u (\"%s\") has type OID %u, not %s",
                 column, PQfname (result->res, (int) column), type, wanted);
  return FALSE;
}

/* The text of a cell a strict getter may read: in range, of a type in
 * @accepted (NULL: any but bytea), in text format, not NULL. @wanted
 * names the accepted types for the message. */
static const char *
cell_text (PgeResult *result, guint row, guint column, const Oid *accepted, const char *wanted,
           Oid *type, GError **error)
{
  Oid column_type;

  if (!cell_in_range (result, row, column))
    return cell_misses (result, row, column, error), NULL;
  column_type = PQftype (result->res, (int) column);
  if (accepted != NULL ? !type_accepted (accepted, column_type) : column_type == PGE_OID_BYTEA)
    return column_mistyped (result, column, column_type, wanted, error), NULL;
  if (PQfformat (result->res, (int) column) != 0)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_CONVERSION,
                   "column %u (\"%s\") is in binary format; the strict getters read text",
                   column, PQfname (result->res, (int) column));
      return NULL;
    }
  if (PQgetisnull (result->res, (int) row, (int) column))
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_NULL_VALUE, "row %u, column %u (\"%s\") is NULL",
                   row, column, PQfname (result->res, (int) column));
      return NULL;
    }
  if (type != NULL)
    *type = column_type;
  return PQgetvalue (result->res, (int) row, (int) column);
}

/* Says where a value that would not parse came from. */
static void
prefix_cell (PgeResult *result, guint row, guint column, GError **error)
{
  g_prefix_error (error, "row %u, column %u (\"%s\"): ", row, column,
                  PQfname (result->res, (int) column));
}

static gboolean
column_named (PgeResult *result, const char *name, guint *column, GError **error)
{
  int index;

  if (name == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "column name is NULL");
      return FALSE;
    }
  index = pge_result_get_column_index (result, name);
  if (index < 0)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "the result has no column called \"%s\" (names are case-sensitive)", name);
      return FALSE;
    }
  *column = (guint) index;
  return TRUE;
}

/* The _by_name twins of the strict getters: the column called @name,
 * then the getter (their doc comments are above each use). */
#define READ_BY_NAME(type, what)                                                         \
  type                                                                                   \
  pge_result_read_##what##_by_name (PgeResult *result, guint row, const char *name,     \
                                    GError **error)                                      \
  {                                                                                      \
    guint column = 0;                                                                    \
                                                                                         \
    g_return_val_if_fail (result != NULL, NULL);                                         \
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);                        \
    if (!column_named (result, name, &column, error))                                    \
      return NULL;                                                                       \
    return pge_result_read_##what (result, row, column, error);                          \
  }

#define READ_BY_NAME_VALUE(type, what)                                                   \
  gboolean                                                                               \
  pge_result_read_##what##_by_name (PgeResult *result, guint row, const char *name,     \
                                    type *value, GError **error)                         \
  {                                                                                      \
    guint column = 0;                                                                    \
                                                                                         \
    g_return_val_if_fail (result != NULL, FALSE);                                        \
    g_return_val_if_fail (value != NULL, FALSE);                                         \
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);                       \
    if (!column_named (result, name, &column, error))                                    \
      {                                                                                  \
        *value = (type) { 0 };                                                           \
        return FALSE;                                                                    \
      }                                                                                  \
    return pge_result_read_##what (result, row, column, value, error);                   \
  }


/**
 * pge_result_read_text:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * The text form of a value of any type but `bytea` (whose text form is
 * an escape: use pge_result_read_bytes()). Never blocks; thread-safe.
 *
 * Returns: (transfer none) (nullable): the text, owned by @result; %NULL
 *   with %PGE_ERROR_NULL_VALUE for SQL NULL, %PGE_ERROR_CONVERSION for a
 *   `bytea` column, %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
const char *
pge_result_read_text (PgeResult *result, guint row, guint column, GError **error)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return cell_text (result, row, column, NULL, "readable as text (use pge_result_read_bytes())",
                    NULL, error);
}

/**
 * pge_result_read_bytes:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A `bytea` value, decoded (either `bytea_output` setting). Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (nullable): the bytes; %NULL with
 *   %PGE_ERROR_NULL_VALUE for SQL NULL, %PGE_ERROR_CONVERSION for another
 *   type, %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
GBytes *
pge_result_read_bytes (PgeResult *result, guint row, guint column, GError **error)
{
  const char *text;
  GBytes *bytes;

  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  text = cell_text (result, row, column, bytea_types, "bytea", NULL, error);
  if (text == NULL)
    return NULL;
  bytes = pge_value_parse_bytea (text, error);
  if (bytes == NULL)
    prefix_cell (result, row, column, error);
  return bytes;
}

/* An integer cell within [@min, @max]. */
static gboolean
read_int (PgeResult *result, guint row, guint column, gint64 min, gint64 max, gint64 *value,
          GError **error)
{
  const char *text = cell_text (result, row, column, int_types, "an integer (int2, int4, int8)",
                                NULL, error);

  *value = 0;
  if (text == NULL)
    return FALSE;
  if (!pge_value_parse_int (text, min, max, value, error))
    {
      prefix_cell (result, row, column, error);
      return FALSE;
    }
  return TRUE;
}

/**
 * pge_result_read_int16:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @value: (out): where the value goes; 0 on failure
 * @error: return location for a #GError
 *
 * An `int2`, `int4` or `int8` value that fits a #gint16. Never blocks;
 * thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %PGE_ERROR_NULL_VALUE for SQL NULL,
 *   %PGE_ERROR_CONVERSION for another type or a value out of range,
 *   %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
gboolean
pge_result_read_int16 (PgeResult *result, guint row, guint column, gint16 *value, GError **error)
{
  gint64 wide;
  gboolean ok;

  g_return_val_if_fail (result != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  ok = read_int (result, row, column, G_MININT16, G_MAXINT16, &wide, error);
  *value = (gint16) wide;
  return ok;
}

/**
 * pge_result_read_int32:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @value: (out): where the value goes; 0 on failure
 * @error: return location for a #GError
 *
 * An `int2`, `int4` or `int8` value that fits a #gint32 (an `int8` too
 * large is an error, not a truncated number). Never blocks; thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %PGE_ERROR_NULL_VALUE for SQL NULL,
 *   %PGE_ERROR_CONVERSION for another type or a value out of range,
 *   %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
gboolean
pge_result_read_int32 (PgeResult *result, guint row, guint column, gint32 *value, GError **error)
{
  gint64 wide;
  gboolean ok;

  g_return_val_if_fail (result != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  ok = read_int (result, row, column, G_MININT32, G_MAXINT32, &wide, error);
  *value = (gint32) wide;
  return ok;
}

/**
 * pge_result_read_int64:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @value: (out): where the value goes; 0 on failure
 * @error: return location for a #GError
 *
 * An `int2`, `int4` or `int8` value: the strict pge_result_get_int64().
 * Never blocks; thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %PGE_ERROR_NULL_VALUE for SQL NULL,
 *   %PGE_ERROR_CONVERSION for another type, %PGE_ERROR_INVALID_ARGUMENT
 *   for a cell out of range
 *
 * Since: 1.0
 */
gboolean
pge_result_read_int64 (PgeResult *result, guint row, guint column, gint64 *value, GError **error)
{
  g_return_val_if_fail (result != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return read_int (result, row, column, G_MININT64, G_MAXINT64, value, error);
}

/* An int8 beyond 2^53 would silently become another number as a double. */
#define DOUBLE_EXACT_LIMIT (G_GINT64_CONSTANT (1) << 53)

/* The text of a float4, float8, numeric or integer cell, as a double. */
static gboolean
parse_double (const char *text, Oid type, double *value, GError **error)
{
  gint64 integer;

  if (type == PGE_OID_NUMERIC)
    return pge_value_parse_numeric (text, value, error);
  if (type == PGE_OID_FLOAT4 || type == PGE_OID_FLOAT8)
    return pge_value_parse_float (text, value, error);
  if (!pge_value_parse_int (text, -DOUBLE_EXACT_LIMIT, DOUBLE_EXACT_LIMIT, &integer, error))
    {
      g_prefix_error (error, "a double holds integers exactly only up to 2^53: ");
      return FALSE;
    }
  *value = (double) integer;
  return TRUE;
}

/**
 * pge_result_read_double:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @value: (out): where the value goes; 0 on failure
 * @error: return location for a #GError
 *
 * A `float8`, `float4`, `numeric` or integer value as a double: the
 * strict pge_result_get_double(). `NaN`, `Infinity` and `-Infinity` are
 * values (of the float types and of numeric) and read as such. A numeric
 * beyond the range of a double, or below its normal range (where it would
 * lose its precision or read as 0), and an `int8` beyond 2^53, are
 * errors; other numerics are rounded to the nearest double (read them
 * with pge_result_read_numeric() to keep every digit). Never blocks;
 * thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %PGE_ERROR_NULL_VALUE for SQL NULL,
 *   %PGE_ERROR_CONVERSION for another type or a value that does not fit,
 *   %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
gboolean
pge_result_read_double (PgeResult *result, guint row, guint column, double *value, GError **error)
{
  const char *text;
  Oid type = 0;

  g_return_val_if_fail (result != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  *value = 0.0;
  text = cell_text (result, row, column, double_types,
                    "a number (float4, float8, numeric, int2, int4, int8)", &type, error);
  if (text == NULL)
    return FALSE;
  if (!parse_double (text, type, value, error))
    {
      *value = 0.0;
      prefix_cell (result, row, column, error);
      return FALSE;
    }
  return TRUE;
}

/**
 * pge_result_read_float:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @value: (out): where the value goes; 0 on failure
 * @error: return location for a #GError
 *
 * A `float4` (or `int2`) value, exactly. Read a `float8` with
 * pge_result_read_double(). Never blocks; thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %PGE_ERROR_NULL_VALUE for SQL NULL,
 *   %PGE_ERROR_CONVERSION for another type, %PGE_ERROR_INVALID_ARGUMENT
 *   for a cell out of range
 *
 * Since: 1.0
 */
gboolean
pge_result_read_float (PgeResult *result, guint row, guint column, float *value, GError **error)
{
  double wide = 0.0;
  gboolean ok;

  g_return_val_if_fail (result != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  ok = cell_text (result, row, column, float_types, "float4 (or int2)", NULL, error) != NULL &&
       pge_result_read_double (result, row, column, &wide, error);
  *value = (float) wide;
  return ok;
}

/**
 * pge_result_read_numeric:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A `numeric` (or integer) value as text, every digit kept: "-12.3400",
 * "NaN", "Infinity". Never blocks; thread-safe.
 *
 * Returns: (transfer none) (nullable): the text, owned by @result; %NULL
 *   with %PGE_ERROR_NULL_VALUE for SQL NULL, %PGE_ERROR_CONVERSION for
 *   another type, %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
const char *
pge_result_read_numeric (PgeResult *result, guint row, guint column, GError **error)
{
  const char *text;

  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  text = cell_text (result, row, column, numeric_types, "numeric (or an integer)", NULL, error);
  if (text != NULL && !pge_value_check_numeric (text, error))
    {
      prefix_cell (result, row, column, error);
      return NULL;
    }
  return text;
}

/**
 * pge_result_read_boolean:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @value: (out): where the value goes; %FALSE on failure
 * @error: return location for a #GError
 *
 * A `bool` value: the strict pge_result_get_boolean(). Never blocks;
 * thread-safe.
 *
 * Returns: %TRUE if @value was read, or %FALSE with
 *   %PGE_ERROR_NULL_VALUE for SQL NULL, %PGE_ERROR_CONVERSION for another
 *   type, %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
gboolean
pge_result_read_boolean (PgeResult *result, guint row, guint column, gboolean *value, GError **error)
{
  const char *text;

  g_return_val_if_fail (result != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  *value = FALSE;
  text = cell_text (result, row, column, bool_types, "bool", NULL, error);
  if (text == NULL)
    return FALSE;
  if (!pge_value_parse_boolean (text, value, error))
    {
      prefix_cell (result, row, column, error);
      return FALSE;
    }
  return TRUE;
}

static GDateTime *
read_date_time (PgeResult *result, guint row, guint column, Oid type, GError **error)
{
  const Oid *types = type == PGE_OID_DATE ? date_types
                     : type == PGE_OID_TIMESTAMP ? timestamp_types : timestamptz_types;
  const char *text = cell_text (result, row, column, types, type_name (type), NULL, error);
  GDateTime *value;

  if (text == NULL)
    return NULL;
  value = type == PGE_OID_DATE ? pge_value_parse_date (text, error)
                               : pge_value_parse_timestamp (text, type == PGE_OID_TIMESTAMPTZ, error);
  if (value == NULL)
    prefix_cell (result, row, column, error);
  return value;
}

/**
 * pge_result_read_date:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A `date` value, as midnight UTC of that day. `infinity`, `-infinity`,
 * dates before year 1 and after 9999 have no #GDateTime and are errors.
 * Assumes `DateStyle` ISO, the server's default. Never blocks; thread-safe.
 *
 * Returns: (transfer full) (nullable): the date; %NULL with
 *   %PGE_ERROR_NULL_VALUE for SQL NULL, %PGE_ERROR_CONVERSION for another
 *   type or a date a #GDateTime cannot hold, %PGE_ERROR_INVALID_ARGUMENT
 *   for a cell out of range
 *
 * Since: 1.0
 */
GDateTime *
pge_result_read_date (PgeResult *result, guint row, guint column, GError **error)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return read_date_time (result, row, column, PGE_OID_DATE, error);
}

/**
 * pge_result_read_timestamp:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A `timestamp` (without time zone) value. It names a wall-clock time in
 * no particular zone; the #GDateTime has those same fields in UTC (no
 * conversion from the session's or the machine's zone happens, so what
 * pge_params_add_timestamp() wrote comes back field for field). The
 * errors and the `DateStyle` as for pge_result_read_date(). Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (nullable): the time; %NULL with
 *   %PGE_ERROR_NULL_VALUE for SQL NULL, %PGE_ERROR_CONVERSION for another
 *   type (a `timestamptz` included) or a time a #GDateTime cannot hold,
 *   %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
GDateTime *
pge_result_read_timestamp (PgeResult *result, guint row, guint column, GError **error)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return read_date_time (result, row, column, PGE_OID_TIMESTAMP, error);
}

/**
 * pge_result_read_timestamptz:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A `timestamptz` value: the instant, whatever the session's `TimeZone`.
 * The server writes it in that zone with its offset; the #GDateTime keeps
 * that offset (call g_date_time_to_local() or g_date_time_to_utc() for
 * another). The errors and the `DateStyle` as for pge_result_read_date().
 * Never blocks; thread-safe.
 *
 * Returns: (transfer full) (nullable): the instant; %NULL with
 *   %PGE_ERROR_NULL_VALUE for SQL NULL, %PGE_ERROR_CONVERSION for another
 *   type or a time a #GDateTime cannot hold, %PGE_ERROR_INVALID_ARGUMENT
 *   for a cell out of range
 *
 * Since: 1.0
 */
GDateTime *
pge_result_read_timestamptz (PgeResult *result, guint row, guint column, GError **error)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return read_date_time (result, row, column, PGE_OID_TIMESTAMPTZ, error);
}

/**
 * pge_result_read_interval:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @value: (out caller-allocates): where the interval goes; all 0 on failure
 * @error: return location for a #GError
 *
 * An `interval` value, as months, days and microseconds. Assumes
 * `IntervalStyle` postgres, the server's default. Never blocks;
 * thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %PGE_ERROR_NULL_VALUE for SQL NULL,
 *   %PGE_ERROR_CONVERSION for another type or another `IntervalStyle`,
 *   %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
gboolean
pge_result_read_interval (PgeResult *result, guint row, guint column, PgeInterval *value,
                          GError **error)
{
  const char *text;

  g_return_val_if_fail (result != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  *value = (PgeInterval) { 0 };
  text = cell_text (result, row, column, interval_types, "interval", NULL, error);
  if (text == NULL)
    return FALSE;
  if (!pge_value_parse_interval (text, value, error))
    {
      prefix_cell (result, row, column, error);
      return FALSE;
    }
  return TRUE;
}

/**
 * pge_result_read_uuid:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A `uuid` value, as the server writes it: 36 characters, lower-case
 * hexadecimal in groups of 8-4-4-4-12. Never blocks; thread-safe.
 *
 * Returns: (transfer none) (nullable): the text, owned by @result; %NULL
 *   with %PGE_ERROR_NULL_VALUE for SQL NULL, %PGE_ERROR_CONVERSION for
 *   another type, %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
const char *
pge_result_read_uuid (PgeResult *result, guint row, guint column, GError **error)
{
  const char *text;

  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  text = cell_text (result, row, column, uuid_types, "uuid", NULL, error);
  if (text != NULL && !pge_value_check_uuid (text, error))
    {
      prefix_cell (result, row, column, error);
      return NULL;
    }
  return text;
}

/**
 * pge_result_read_json:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A `json` or `jsonb` value as JSON text, for the JSON parser of your
 * choice. A JSON `null` is the text "null"; SQL NULL is an error. Never
 * blocks; thread-safe.
 *
 * Returns: (transfer none) (nullable): the text, owned by @result; %NULL
 *   with %PGE_ERROR_NULL_VALUE for SQL NULL, %PGE_ERROR_CONVERSION for
 *   another type, %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
const char *
pge_result_read_json (PgeResult *result, guint row, guint column, GError **error)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return cell_text (result, row, column, json_types, "json or jsonb", NULL, error);
}

/* ------------------------------------------------------------------ arrays */

/* The elements of a one-dimensional array cell of a type in @accepted. */
static GPtrArray *
read_elements (PgeResult *result, guint row, guint column, const Oid *accepted, const char *wanted,
               Oid *type, GError **error)
{
  const char *text = cell_text (result, row, column, accepted, wanted, type, error);
  GPtrArray *elements;

  if (text == NULL)
    return NULL;
  elements = pge_value_parse_array (text, error);
  if (elements == NULL)
    prefix_cell (result, row, column, error);
  return elements;
}

/* Free functions for arrays whose NULL elements are NULL pointers:
 * GPtrArray calls them on every element. */
static void
date_time_unref0 (gpointer value)
{
  if (value != NULL)
    g_date_time_unref (value);
}

static gboolean
element_failed (PgeResult *result, guint row, guint column, guint index, GError **error)
{
  g_prefix_error (error, "element %u: ", index);
  prefix_cell (result, row, column, error);
  return FALSE;
}

static gboolean
element_is_null (PgeResult *result, guint row, guint column, guint index, GError **error)
{
  g_set_error (error, PGE_ERROR, PGE_ERROR_NULL_VALUE,
               "row %u, column %u (\"%s\"): element %u is NULL (pge_result_read_text_array() "
               "shows NULL elements)", row, column, PQfname (result->res, (int) column), index);
  return FALSE;
}

/**
 * pge_result_read_text_array:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A one-dimensional array of any built-in type but `bytea` (`text[]`,
 * `int4[]`, `uuid[]`, `numeric[]`, `jsonb[]`, `interval[]` ...) or of a
 * user-defined type (an enum ...), as the text forms of its elements;
 * an SQL NULL element is a %NULL pointer. Quoting and escaping are
 * undone. Multi-dimensional arrays are an error. Never blocks;
 * thread-safe.
 *
 * The array owns its elements: g_ptr_array_unref() frees them too (a
 * binding copies them, hence `transfer container`).
 *
 * Returns: (transfer container) (element-type utf8) (nullable): the elements;
 *   %NULL with %PGE_ERROR_NULL_VALUE when the array itself is NULL,
 *   %PGE_ERROR_CONVERSION for another type or a multi-dimensional array,
 *   %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
GPtrArray *
pge_result_read_text_array (PgeResult *result, guint row, guint column, GError **error)
{
  Oid type;

  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (!cell_in_range (result, row, column))
    return cell_misses (result, row, column, error), NULL;
  /* A user-defined type could be an array or not: its text decides. */
  type = PQftype (result->res, (int) column);
  return read_elements (result, row, column, type >= PGE_OID_FIRST_USER ? NULL : text_array_types,
                        "a one-dimensional array", NULL, error);
}

/* An integer array as a GArray of gint32 (@width 4) or gint64 (8). */
static GArray *
read_int_array (PgeResult *result, guint row, guint column, guint width, GError **error)
{
  g_autoptr(GPtrArray) elements = read_elements (result, row, column, int_array_types,
                                                 "an integer array (int2[], int4[], int8[])", NULL, error);
  g_autoptr(GArray) values = NULL;

  if (elements == NULL)
    return NULL;
  values = g_array_sized_new (FALSE, FALSE, width, elements->len);
  for (guint i = 0; i < elements->len; i++)
    {
      const char *text = g_ptr_array_index (elements, i);
      gint64 value;
      gint32 narrow;

      if (text == NULL)
        return element_is_null (result, row, column, i, error), NULL;
      if (!pge_value_parse_int (text, width == 4 ? G_MININT32 : G_MININT64,
                                width == 4 ? G_MAXINT32 : G_MAXINT64, &value, error))
        return element_failed (result, row, column, i, error), NULL;
      narrow = (gint32) value;
      g_array_append_vals (values, width == 4 ? (gpointer) &narrow : (gpointer) &value, 1);
    }
  return g_steal_pointer (&values);
}

/**
 * pge_result_read_int32_array:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A one-dimensional `int2[]`, `int4[]` or `int8[]` whose elements fit a
 * #gint32. A NULL element is an error (pge_result_read_text_array() shows
 * them). Never blocks; thread-safe.
 *
 * Returns: (transfer full) (element-type gint32) (nullable): the values;
 *   %NULL with %PGE_ERROR_NULL_VALUE for a NULL array or element,
 *   %PGE_ERROR_CONVERSION for another type, a value out of range or a
 *   multi-dimensional array, %PGE_ERROR_INVALID_ARGUMENT for a cell out
 *   of range
 *
 * Since: 1.0
 */
GArray *
pge_result_read_int32_array (PgeResult *result, guint row, guint column, GError **error)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return read_int_array (result, row, column, sizeof (gint32), error);
}

/**
 * pge_result_read_int64_array:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A one-dimensional `int2[]`, `int4[]` or `int8[]`. A NULL element is an
 * error (pge_result_read_text_array() shows them). Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (element-type gint64) (nullable): the values;
 *   %NULL with %PGE_ERROR_NULL_VALUE for a NULL array or element,
 *   %PGE_ERROR_CONVERSION for another type or a multi-dimensional array,
 *   %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
GArray *
pge_result_read_int64_array (PgeResult *result, guint row, guint column, GError **error)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return read_int_array (result, row, column, sizeof (gint64), error);
}

/**
 * pge_result_read_double_array:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A one-dimensional `float8[]`, `float4[]`, `numeric[]` or integer array,
 * each element read as by pge_result_read_double(). A NULL element is an
 * error (pge_result_read_text_array() shows them). Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (element-type gdouble) (nullable): the values;
 *   %NULL with %PGE_ERROR_NULL_VALUE for a NULL array or element,
 *   %PGE_ERROR_CONVERSION for another type, a value that does not fit or
 *   a multi-dimensional array, %PGE_ERROR_INVALID_ARGUMENT for a cell out
 *   of range
 *
 * Since: 1.0
 */
GArray *
pge_result_read_double_array (PgeResult *result, guint row, guint column, GError **error)
{
  g_autoptr(GPtrArray) elements = NULL;
  g_autoptr(GArray) values = NULL;
  Oid type = 0;
  Oid element_type;

  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  elements = read_elements (result, row, column, double_array_types, "an array of numbers", &type, error);
  if (elements == NULL)
    return NULL;
  element_type = type == PGE_OID_NUMERIC_ARRAY ? PGE_OID_NUMERIC
                 : type == PGE_OID_FLOAT8_ARRAY || type == PGE_OID_FLOAT4_ARRAY ? PGE_OID_FLOAT8
                 : PGE_OID_INT8;
  values = g_array_sized_new (FALSE, FALSE, sizeof (double), elements->len);
  for (guint i = 0; i < elements->len; i++)
    {
      const char *text = g_ptr_array_index (elements, i);
      double value;

      if (text == NULL)
        return element_is_null (result, row, column, i, error), NULL;
      if (!parse_double (text, element_type, &value, error))
        return element_failed (result, row, column, i, error), NULL;
      g_array_append_val (values, value);
    }
  return g_steal_pointer (&values);
}

/**
 * pge_result_read_boolean_array:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A one-dimensional `bool[]`. A NULL element is an error
 * (pge_result_read_text_array() shows them). Never blocks; thread-safe.
 *
 * Returns: (transfer full) (element-type gboolean) (nullable): the values;
 *   %NULL with %PGE_ERROR_NULL_VALUE for a NULL array or element,
 *   %PGE_ERROR_CONVERSION for another type or a multi-dimensional array,
 *   %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
GArray *
pge_result_read_boolean_array (PgeResult *result, guint row, guint column, GError **error)
{
  g_autoptr(GPtrArray) elements = NULL;
  g_autoptr(GArray) values = NULL;

  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  elements = read_elements (result, row, column, bool_array_types, "bool[]", NULL, error);
  if (elements == NULL)
    return NULL;
  values = g_array_sized_new (FALSE, FALSE, sizeof (gboolean), elements->len);
  for (guint i = 0; i < elements->len; i++)
    {
      const char *text = g_ptr_array_index (elements, i);
      gboolean value;

      if (text == NULL)
        return element_is_null (result, row, column, i, error), NULL;
      if (!pge_value_parse_boolean (text, &value, error))
        return element_failed (result, row, column, i, error), NULL;
      g_array_append_val (values, value);
    }
  return g_steal_pointer (&values);
}

/**
 * pge_result_read_datetime_array:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A one-dimensional `date[]`, `timestamp[]` or `timestamptz[]`, each
 * element as pge_result_read_date(), pge_result_read_timestamp() or
 * pge_result_read_timestamptz() reads it; an SQL NULL element is a %NULL
 * pointer. Never blocks; thread-safe.
 *
 * The array owns its elements: g_ptr_array_unref() frees them too (a
 * binding copies them, hence `transfer container`).
 *
 * Returns: (transfer container) (element-type GDateTime) (nullable): the
 *   values; %NULL with %PGE_ERROR_NULL_VALUE when the array is NULL,
 *   %PGE_ERROR_CONVERSION for another type, an element a #GDateTime
 *   cannot hold or a multi-dimensional array, %PGE_ERROR_INVALID_ARGUMENT
 *   for a cell out of range
 *
 * Since: 1.0
 */
GPtrArray *
pge_result_read_datetime_array (PgeResult *result, guint row, guint column, GError **error)
{
  g_autoptr(GPtrArray) elements = NULL;
  g_autoptr(GPtrArray) values = NULL;
  Oid type = 0;

  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  elements = read_elements (result, row, column, datetime_array_types,
                            "date[], timestamp[] or timestamptz[]", &type, error);
  if (elements == NULL)
    return NULL;
  values = g_ptr_array_new_full (elements->len, date_time_unref0);
  for (guint i = 0; i < elements->len; i++)
    {
      const char *text = g_ptr_array_index (elements, i);
      GDateTime *value = NULL;

      if (text != NULL)
        {
          value = type == PGE_OID_DATE_ARRAY ? pge_value_parse_date (text, error)
                  : pge_value_parse_timestamp (text, type == PGE_OID_TIMESTAMPTZ_ARRAY, error);
          if (value == NULL)
            return element_failed (result, row, column, i, error), NULL;
        }
      g_ptr_array_add (values, value);
    }
  return g_steal_pointer (&values);
}

/**
 * pge_result_read_bytes_array:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @column: a column index, from 0
 * @error: return location for a #GError
 *
 * A one-dimensional `bytea[]`; an SQL NULL element is a %NULL pointer.
 * Never blocks; thread-safe.
 *
 * The array owns its elements: g_ptr_array_unref() frees them too (a
 * binding copies them, hence `transfer container`).
 *
 * Returns: (transfer container) (element-type GBytes) (nullable): the values;
 *   %NULL with %PGE_ERROR_NULL_VALUE when the array is NULL,
 *   %PGE_ERROR_CONVERSION for another type or a multi-dimensional array,
 *   %PGE_ERROR_INVALID_ARGUMENT for a cell out of range
 *
 * Since: 1.0
 */
GPtrArray *
pge_result_read_bytes_array (PgeResult *result, guint row, guint column, GError **error)
{
  g_autoptr(GPtrArray) elements = NULL;
  g_autoptr(GPtrArray) values = NULL;

  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  elements = read_elements (result, row, column, bytea_array_types, "bytea[]", NULL, error);
  if (elements == NULL)
    return NULL;
  /* g_bytes_unref() takes NULL. */
  values = g_ptr_array_new_full (elements->len, (GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < elements->len; i++)
    {
      const char *text = g_ptr_array_index (elements, i);
      GBytes *value = NULL;

      if (text != NULL && (value = pge_value_parse_bytea (text, error)) == NULL)
        return element_failed (result, row, column, i, error), NULL;
      g_ptr_array_add (values, value);
    }
  return g_steal_pointer (&values);
}

/* ------------------------------------------------------------------ by name */

/**
 * pge_result_read_text_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_text() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer none) (nullable): as
 *   pge_result_read_text(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (const char *, text)

/**
 * pge_result_read_bytes_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_bytes() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (nullable): as
 *   pge_result_read_bytes(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GBytes *, bytes)

/**
 * pge_result_read_int16_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @value: (out): where the value goes; zeroed on failure
 * @error: return location for a #GError
 *
 * pge_result_read_int16() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: as pge_result_read_int16(); also %FALSE with
 *   %PGE_ERROR_INVALID_ARGUMENT when no column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME_VALUE (gint16, int16)

/**
 * pge_result_read_int32_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @value: (out): where the value goes; zeroed on failure
 * @error: return location for a #GError
 *
 * pge_result_read_int32() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: as pge_result_read_int32(); also %FALSE with
 *   %PGE_ERROR_INVALID_ARGUMENT when no column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME_VALUE (gint32, int32)

/**
 * pge_result_read_int64_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @value: (out): where the value goes; zeroed on failure
 * @error: return location for a #GError
 *
 * pge_result_read_int64() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: as pge_result_read_int64(); also %FALSE with
 *   %PGE_ERROR_INVALID_ARGUMENT when no column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME_VALUE (gint64, int64)

/**
 * pge_result_read_float_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @value: (out): where the value goes; zeroed on failure
 * @error: return location for a #GError
 *
 * pge_result_read_float() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: as pge_result_read_float(); also %FALSE with
 *   %PGE_ERROR_INVALID_ARGUMENT when no column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME_VALUE (float, float)

/**
 * pge_result_read_double_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @value: (out): where the value goes; zeroed on failure
 * @error: return location for a #GError
 *
 * pge_result_read_double() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: as pge_result_read_double(); also %FALSE with
 *   %PGE_ERROR_INVALID_ARGUMENT when no column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME_VALUE (double, double)

/**
 * pge_result_read_numeric_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_numeric() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer none) (nullable): as
 *   pge_result_read_numeric(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (const char *, numeric)

/**
 * pge_result_read_boolean_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @value: (out): where the value goes; zeroed on failure
 * @error: return location for a #GError
 *
 * pge_result_read_boolean() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: as pge_result_read_boolean(); also %FALSE with
 *   %PGE_ERROR_INVALID_ARGUMENT when no column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME_VALUE (gboolean, boolean)

/**
 * pge_result_read_date_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_date() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (nullable): as
 *   pge_result_read_date(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GDateTime *, date)

/**
 * pge_result_read_timestamp_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_timestamp() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (nullable): as
 *   pge_result_read_timestamp(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GDateTime *, timestamp)

/**
 * pge_result_read_timestamptz_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_timestamptz() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (nullable): as
 *   pge_result_read_timestamptz(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GDateTime *, timestamptz)

/**
 * pge_result_read_interval_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @value: (out caller-allocates): where the value goes; zeroed on failure
 * @error: return location for a #GError
 *
 * pge_result_read_interval() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: as pge_result_read_interval(); also %FALSE with
 *   %PGE_ERROR_INVALID_ARGUMENT when no column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME_VALUE (PgeInterval, interval)

/**
 * pge_result_read_uuid_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_uuid() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer none) (nullable): as
 *   pge_result_read_uuid(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (const char *, uuid)

/**
 * pge_result_read_json_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_json() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer none) (nullable): as
 *   pge_result_read_json(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (const char *, json)

/**
 * pge_result_read_text_array_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_text_array() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer container) (element-type utf8) (nullable): as
 *   pge_result_read_text_array(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GPtrArray *, text_array)

/**
 * pge_result_read_int32_array_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_int32_array() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (element-type gint32) (nullable): as
 *   pge_result_read_int32_array(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GArray *, int32_array)

/**
 * pge_result_read_int64_array_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_int64_array() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (element-type gint64) (nullable): as
 *   pge_result_read_int64_array(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GArray *, int64_array)

/**
 * pge_result_read_double_array_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_double_array() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (element-type gdouble) (nullable): as
 *   pge_result_read_double_array(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GArray *, double_array)

/**
 * pge_result_read_boolean_array_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_boolean_array() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (element-type gboolean) (nullable): as
 *   pge_result_read_boolean_array(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GArray *, boolean_array)

/**
 * pge_result_read_datetime_array_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_datetime_array() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer container) (element-type GDateTime) (nullable): as
 *   pge_result_read_datetime_array(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GPtrArray *, datetime_array)

/**
 * pge_result_read_bytes_array_by_name:
 * @result: a #PgeResult
 * @row: a row index, from 0
 * @name: a column name, matched exactly (case-sensitive; the first of
 *   that name)
 * @error: return location for a #GError
 *
 * pge_result_read_bytes_array() of the column called @name. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer container) (element-type GBytes) (nullable): as
 *   pge_result_read_bytes_array(); also %NULL with %PGE_ERROR_INVALID_ARGUMENT when no
 *   column has that name
 *
 * Since: 1.0
 */
READ_BY_NAME (GPtrArray *, bytes_array)
