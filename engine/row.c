/* row.c — PgeRow, one row of a PgeResult as a GObject, the item type of
 * PgeResultModel and PgeBatchModel (GListModel wants GObject items; a
 * GTK list item binds its widgets to one).
 *
 * A row holds a reference to its immutable result and an index into it,
 * nothing else: it is immutable too, so every getter is safe from any
 * thread; only GObject's reference count changes. Its properties are
 * construct-only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pgengine.h"

struct _PgeRow {
  GObject    parent_instance;
  PgeResult *result;   /* owned, immutable */
  guint      index;
};

/**
 * PgeRow:
 *
 * One row of a #PgeResult: the item of #PgeResultModel and
 * #PgeBatchModel. Immutable: every getter is safe from any thread.
 *
 * Since: 1.0
 */
G_DEFINE_FINAL_TYPE (PgeRow, pge_row, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_RESULT,
  PROP_INDEX,
  PROP_N_COLUMNS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pge_row_finalize (GObject *object)
{
  PgeRow *row = PGE_ROW (object);

  g_clear_pointer (&row->result, pge_result_unref);
  G_OBJECT_CLASS (pge_row_parent_class)->finalize (object);
}

static void
pge_row_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PgeRow *row = PGE_ROW (object);

  switch (prop_id)
    {
    case PROP_RESULT:
      g_value_set_boxed (value, row->result);
      break;
    case PROP_INDEX:
      g_value_set_uint (value, row->index);
      break;
    case PROP_N_COLUMNS:
      g_value_set_uint (value, pge_row_get_n_columns (row));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pge_row_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PgeRow *row = PGE_ROW (object);

  switch (prop_id)
    {
    case PROP_RESULT:
      row->result = g_value_dup_boxed (value);
      break;
    case PROP_INDEX:
      row->index = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pge_row_class_init (PgeRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pge_row_finalize;
  object_class->get_property = pge_row_get_property;
  object_class->set_property = pge_row_set_property;

  /**
   * PgeRow:result:
   *
   * The result the row belongs to.
   *
   * Since: 1.0
   */
  properties[PROP_RESULT] =
    g_param_spec_boxed ("result", NULL, NULL, PGE_TYPE_RESULT,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PgeRow:index:
   *
   * The row's index in #PgeRow:result, from 0.
   *
   * Since: 1.0
   */
  properties[PROP_INDEX] =
    g_param_spec_uint ("index", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PgeRow:n-columns:
   *
   * The number of columns.
   *
   * Since: 1.0
   */
  properties[PROP_N_COLUMNS] =
    g_param_spec_uint ("n-columns", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pge_row_init (PgeRow *row)
{
}

/**
 * pge_row_new:
 * @result: a #PgeResult
 * @index: a row of @result, from 0
 *
 * Makes the row object for row @index of @result. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full) (nullable): a new #PgeRow holding a reference
 *   to @result, or %NULL (with a critical) when @index is out of range
 *
 * Since: 1.0
 */
PgeRow *
pge_row_new (PgeResult *result, guint index)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (index < pge_result_get_n_rows (result), NULL);
  return g_object_new (PGE_TYPE_ROW, "result", result, "index", index, NULL);
}

/**
 * pge_row_get_result:
 * @row: a #PgeRow
 *
 * Returns: (transfer none): the result @row belongs to (its column names
 *   and types)
 *
 * Since: 1.0
 */
PgeResult *
pge_row_get_result (PgeRow *row)
{
  g_return_val_if_fail (PGE_IS_ROW (row), NULL);
  return row->result;
}

/**
 * pge_row_get_index:
 * @row: a #PgeRow
 *
 * Returns: the row's index in its result, from 0
 *
 * Since: 1.0
 */
guint
pge_row_get_index (PgeRow *row)
{
  g_return_val_if_fail (PGE_IS_ROW (row), 0);
  return row->index;
}

/**
 * pge_row_get_n_columns:
 * @row: a #PgeRow
 *
 * Returns: the number of columns
 *
 * Since: 1.0
 */
guint
pge_row_get_n_columns (PgeRow *row)
{
  g_return_val_if_fail (PGE_IS_ROW (row), 0);
  return pge_result_get_n_columns (row->result);
}

/**
 * pge_row_get_value:
 * @row: a #PgeRow
 * @column: a column index, from 0
 *
 * Returns: (nullable): the value's text form, owned by the row's result;
 *   %NULL for SQL NULL, and (with a critical) for a column out of range
 *
 * Since: 1.0
 */
const char *
pge_row_get_value (PgeRow *row, guint column)
{
  g_return_val_if_fail (PGE_IS_ROW (row), NULL);
  return pge_result_get_value (row->result, row->index, column);
}

/**
 * pge_row_get_value_by_name:
 * @row: a #PgeRow
 * @name: a column name
 *
 * The value of the first column called @name.
 *
 * Returns: (nullable): the value's text form, owned by the row's result;
 *   %NULL for SQL NULL or when there is no such column
 *
 * Since: 1.0
 */
const char *
pge_row_get_value_by_name (PgeRow *row, const char *name)
{
  int column;

  g_return_val_if_fail (PGE_IS_ROW (row), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  column = pge_result_get_column_index (row->result, name);
  if (column < 0)
    return NULL;
  return pge_result_get_value (row->result, row->index, (guint) column);
}

/**
 * pge_row_is_null:
 * @row: a #PgeRow
 * @column: a column index, from 0
 *
 * Returns: whether the value is SQL NULL; %TRUE (with a critical) for a
 *   column out of range
 *
 * Since: 1.0
 */
gboolean
pge_row_is_null (PgeRow *row, guint column)
{
  g_return_val_if_fail (PGE_IS_ROW (row), TRUE);
  return pge_result_is_null (row->result, row->index, column);
}

/**
 * pge_row_to_variant:
 * @row: a #PgeRow
 *
 * The row as a tuple typed from its columns; see
 * pge_result_row_to_variant().
 *
 * Returns: (transfer full): a new, non-floating #GVariant
 *
 * Since: 1.0
 */
GVariant *
pge_row_to_variant (PgeRow *row)
{
  g_return_val_if_fail (PGE_IS_ROW (row), NULL);
  return pge_result_row_to_variant (row->result, row->index);
}

/**
 * pge_row_to_vardict:
 * @row: a #PgeRow
 *
 * The row as an `a{sv}` dictionary; see pge_result_row_to_vardict().
 *
 * Returns: (transfer full): a new, non-floating #GVariant
 *
 * Since: 1.0
 */
GVariant *
pge_row_to_vardict (PgeRow *row)
{
  g_return_val_if_fail (PGE_IS_ROW (row), NULL);
  return pge_result_row_to_vardict (row->result, row->index);
}
