/* variant.c — a result's rows as GVariants, typed from the
 * columns' type OIDs.
 *
 * The type of a row depends on the columns alone, never on the data, so
 * every row of a result has the same type and a whole result is an array
 * of them:
 *
 *   bool -> b, int2 -> n, int4 -> i, int8 -> x, oid -> u,
 *   float4 and float8 -> d, bytea -> ay, anything else -> s (the
 *   server's text form: text, varchar, numeric, date, json ...).
 *
 * SQL NULL: in the tuple form every member is a maybe (`(mims)`), nothing
 * for NULL — the only way a fixed tuple type can hold one. In the `a{sv}`
 * form a value is stored without the maybe, and a NULL column maps to an
 * empty maybe of its type (`@mi nothing`): every column name is present.
 *
 * Results are immutable, so all of this is safe from any thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "pgengine.h"
#include "values-private.h"   /* the type OIDs */

static const GVariantType *
column_variant_type (PgeResult *result, guint column)
{
  switch (pge_result_get_column_type (result, column))
    {
    case PGE_OID_BOOL:   return G_VARIANT_TYPE_BOOLEAN;
    case PGE_OID_BYTEA:  return G_VARIANT_TYPE_BYTESTRING;
    case PGE_OID_INT2:   return G_VARIANT_TYPE_INT16;
    case PGE_OID_INT4:   return G_VARIANT_TYPE_INT32;
    case PGE_OID_INT8:   return G_VARIANT_TYPE_INT64;
    case PGE_OID_OID:    return G_VARIANT_TYPE_UINT32;
    case PGE_OID_FLOAT4:
    case PGE_OID_FLOAT8: return G_VARIANT_TYPE_DOUBLE;
    default:             return G_VARIANT_TYPE_STRING;
    }
}

static GVariant *
integer_value (const GVariantType *type, const char *text)
{
  gint64 value = 0;
  guint64 uvalue = 0;

  /* The server's text form of these types always parses; 0 is the
   * fallback of pge_result_get_int64() too. */
  if (g_variant_type_equal (type, G_VARIANT_TYPE_UINT32))
    {
      g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32, &uvalue, NULL);
      return g_variant_new_uint32 ((guint32) uvalue);
    }
  g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &value, NULL);
  if (g_variant_type_equal (type, G_VARIANT_TYPE_INT16))
    return g_variant_new_int16 ((gint16) value);
  if (g_variant_type_equal (type, G_VARIANT_TYPE_INT32))
    return g_variant_new_int32 ((gint32) value);
  return g_variant_new_int64 (value);
}

static GVariant *
bytea_value (const char *text)
{
  size_t length = 0;
  unsigned char *data = PQunescapeBytea ((const unsigned char *) text, &length);
  GVariant *value;

  if (data == NULL)
    return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, NULL, 0, 1);
  value = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, length, 1);
  PQfreemem (data);
  return value;
}

static GVariant *
string_value (const char *text)
{
  g_autofree char *valid = NULL;

  /* A SQL_ASCII database can send any bytes; a GVariant string must be
   * UTF-8. */
  if (!g_utf8_validate (text, -1, NULL))
    text = valid = g_utf8_make_valid (text, -1);
  return g_variant_new_string (text);
}

/* The cell's value (floating), not wrapped in a maybe; NULL for SQL NULL. */
static GVariant *
cell_value (PgeResult *result, guint row, guint column)
{
  const GVariantType *type = column_variant_type (result, column);
  const char *text = pge_result_get_value (result, row, column);

  if (text == NULL)
    return NULL;
  if (g_variant_type_equal (type, G_VARIANT_TYPE_BOOLEAN))
    return g_variant_new_boolean (strcmp (text, "t") == 0 || strcmp (text, "true") == 0);
  if (g_variant_type_equal (type, G_VARIANT_TYPE_DOUBLE))
    return g_variant_new_double (g_ascii_strtod (text, NULL));
  if (g_variant_type_equal (type, G_VARIANT_TYPE_BYTESTRING))
    return bytea_value (text);
  if (g_variant_type_equal (type, G_VARIANT_TYPE_STRING))
    return string_value (text);
  return integer_value (type, text);
}

/**
 * pge_result_get_row_variant_type:
 * @result: a #PgeResult
 *
 * The type of pge_result_row_to_variant()'s tuples: one maybe member per
 * column, typed from its OID (bool `mb`, int2 `mn`, int4 `mi`, int8 `mx`,
 * oid `mu`, float4/float8 `md`, bytea `may`, anything else `ms` holding
 * the server's text form). Never blocks; thread-safe.
 *
 * Returns: (transfer full): a new #GVariantType, such as `(mims)`
 *
 * Since: 1.0
 */
GVariantType *
pge_result_get_row_variant_type (PgeResult *result)
{
  guint n_columns;
  g_autoptr(GPtrArray) members = NULL;

  g_return_val_if_fail (result != NULL, NULL);
  n_columns = pge_result_get_n_columns (result);
  members = g_ptr_array_new_full (n_columns, (GDestroyNotify) g_variant_type_free);
  for (guint c = 0; c < n_columns; c++)
    g_ptr_array_add (members, g_variant_type_new_maybe (column_variant_type (result, c)));
  return g_variant_type_new_tuple ((const GVariantType * const *) members->pdata, (int) members->len);
}

static GVariant *
row_tuple (PgeResult *result, guint row)
{
  guint n_columns = pge_result_get_n_columns (result);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_TUPLE);
  for (guint c = 0; c < n_columns; c++)
    g_variant_builder_add_value (&builder, g_variant_new_maybe (column_variant_type (result, c),
                                                                cell_value (result, row, c)));
  return g_variant_builder_end (&builder);
}

static GVariant *
row_vardict (PgeResult *result, guint row)
{
  guint n_columns = pge_result_get_n_columns (result);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (guint c = 0; c < n_columns; c++)
    {
      GVariant *value = cell_value (result, row, c);

      if (value == NULL)
        value = g_variant_new_maybe (column_variant_type (result, c), NULL);
      g_variant_builder_add (&builder, "{sv}", pge_result_get_column_name (result, c), value);
    }
  return g_variant_builder_end (&builder);
}

/**
 * pge_result_row_to_variant:
 * @result: a #PgeResult
 * @row: a row index, from 0
 *
 * Row @row as a tuple of maybes typed from the columns (see
 * pge_result_get_row_variant_type()): nothing for SQL NULL. In Python,
 * `unpack()` gives native values: int, float, bool, str, None (and a
 * list of ints for bytea). Never blocks; thread-safe.
 *
 * Returns: (transfer full) (nullable): a new, non-floating #GVariant, or
 *   %NULL (with a critical) when @row is out of range
 *
 * Since: 1.0
 */
GVariant *
pge_result_row_to_variant (PgeResult *result, guint row)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (row < pge_result_get_n_rows (result), NULL);
  return g_variant_ref_sink (row_tuple (result, row));
}

/**
 * pge_result_row_to_vardict:
 * @result: a #PgeResult
 * @row: a row index, from 0
 *
 * Row @row as an `a{sv}` dictionary: column name to value, typed as in
 * pge_result_row_to_variant() but not wrapped in a maybe; a SQL NULL is
 * an empty maybe of the column's type (`@mi nothing`), so every column
 * is there. If two columns share a name, both entries are there and
 * g_variant_lookup() finds the first. Never blocks; thread-safe.
 *
 * Returns: (transfer full) (nullable): a new, non-floating #GVariant, or
 *   %NULL (with a critical) when @row is out of range
 *
 * Since: 1.0
 */
GVariant *
pge_result_row_to_vardict (PgeResult *result, guint row)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (row < pge_result_get_n_rows (result), NULL);
  return g_variant_ref_sink (row_vardict (result, row));
}

/**
 * pge_result_to_variant:
 * @result: a #PgeResult
 *
 * Every row as an array of pge_result_row_to_variant()'s tuples (type
 * `a(mims)` ...); an empty array for no rows. Never blocks; thread-safe.
 *
 * Returns: (transfer full): a new, non-floating #GVariant
 *
 * Since: 1.0
 */
GVariant *
pge_result_to_variant (PgeResult *result)
{
  g_autoptr(GVariantType) row_type = NULL;
  g_autoptr(GVariantType) array_type = NULL;
  GVariantBuilder builder;
  guint n_rows;

  g_return_val_if_fail (result != NULL, NULL);
  row_type = pge_result_get_row_variant_type (result);
  array_type = g_variant_type_new_array (row_type);
  n_rows = pge_result_get_n_rows (result);
  g_variant_builder_init (&builder, array_type);
  for (guint r = 0; r < n_rows; r++)
    g_variant_builder_add_value (&builder, row_tuple (result, r));
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

/**
 * pge_result_to_vardicts:
 * @result: a #PgeResult
 *
 * Every row as an array of pge_result_row_to_vardict()'s dictionaries
 * (type `aa{sv}`). Never blocks; thread-safe.
 *
 * Returns: (transfer full): a new, non-floating #GVariant
 *
 * Since: 1.0
 */
GVariant *
pge_result_to_vardicts (PgeResult *result)
{
  GVariantBuilder builder;
  guint n_rows;

  g_return_val_if_fail (result != NULL, NULL);
  n_rows = pge_result_get_n_rows (result);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint r = 0; r < n_rows; r++)
    g_variant_builder_add_value (&builder, row_vardict (result, r));
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}
