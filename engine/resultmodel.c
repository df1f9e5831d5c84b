/* resultmodel.c — PgeResultModel, a GListModel of one result's rows
 * (PgeRow items), for GtkListView / GtkColumnView and anything else that
 * takes a GListModel.
 *
 * The result is immutable, so the model never changes and never emits
 * items-changed. Each row object is made on first request and kept, so
 * asking twice for a position gives the same object (GTK relies on
 * stable items for selection and focus). The cache is the model's only
 * mutable state: like any GListModel, use the model from one thread (the
 * one running its main context).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pgengine.h"

struct _PgeResultModel {
  GObject    parent_instance;
  PgeResult *result;   /* owned, immutable */
  PgeRow   **rows;     /* n_rows slots, each NULL until requested */
  guint      n_rows;
};

static void pge_result_model_list_model_init (GListModelInterface *iface);

/**
 * PgeResultModel:
 *
 * A #GListModel of the rows (#PgeRow) of one #PgeResult, e.g. for a
 * #GtkColumnView. It never changes. Use it from one thread.
 *
 * Since: 1.0
 */
G_DEFINE_FINAL_TYPE_WITH_CODE (PgeResultModel, pge_result_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      pge_result_model_list_model_init))

enum {
  PROP_0,
  PROP_RESULT,
  PROP_ITEM_TYPE,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
pge_result_model_get_item_type (GListModel *list)
{
  return PGE_TYPE_ROW;
}

static guint
pge_result_model_get_n_items (GListModel *list)
{
  return PGE_RESULT_MODEL (list)->n_rows;
}

static gpointer
pge_result_model_get_item (GListModel *list, guint position)
{
  PgeResultModel *model = PGE_RESULT_MODEL (list);

  if (position >= model->n_rows)
    return NULL;
  if (model->rows[position] == NULL)
    model->rows[position] = pge_row_new (model->result, position);
  return g_object_ref (model->rows[position]);
}

static void
pge_result_model_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = pge_result_model_get_item_type;
  iface->get_n_items = pge_result_model_get_n_items;
  iface->get_item = pge_result_model_get_item;
}

static void
pge_result_model_finalize (GObject *object)
{
  PgeResultModel *model = PGE_RESULT_MODEL (object);

  for (guint i = 0; i < model->n_rows; i++)
    g_clear_object (&model->rows[i]);
  g_free (model->rows);
  g_clear_pointer (&model->result, pge_result_unref);
  G_OBJECT_CLASS (pge_result_model_parent_class)->finalize (object);
}

static void
pge_result_model_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PgeResultModel *model = PGE_RESULT_MODEL (object);

  switch (prop_id)
    {
    case PROP_RESULT:
      g_value_set_boxed (value, model->result);
      break;
    case PROP_ITEM_TYPE:
      g_value_set_gtype (value, PGE_TYPE_ROW);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, model->n_rows);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pge_result_model_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PgeResultModel *model = PGE_RESULT_MODEL (object);

  switch (prop_id)
    {
    case PROP_RESULT:
      model->result = g_value_dup_boxed (value);
      model->n_rows = model->result ? pge_result_get_n_rows (model->result) : 0;
      model->rows = g_new0 (PgeRow *, model->n_rows);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pge_result_model_class_init (PgeResultModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pge_result_model_finalize;
  object_class->get_property = pge_result_model_get_property;
  object_class->set_property = pge_result_model_set_property;

  /**
   * PgeResultModel:result:
   *
   * The result whose rows the model lists.
   *
   * Since: 1.0
   */
  properties[PROP_RESULT] =
    g_param_spec_boxed ("result", NULL, NULL, PGE_TYPE_RESULT,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PgeResultModel:item-type:
   *
   * Always #PgeRow.
   *
   * Since: 1.0
   */
  properties[PROP_ITEM_TYPE] =
    g_param_spec_gtype ("item-type", NULL, NULL, G_TYPE_OBJECT,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * PgeResultModel:n-items:
   *
   * The number of rows.
   *
   * Since: 1.0
   */
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pge_result_model_init (PgeResultModel *model)
{
}

/**
 * pge_result_model_new:
 * @result: a #PgeResult
 *
 * A list model of @result's rows. Never blocks.
 *
 * Returns: (transfer full): a new #PgeResultModel holding a reference to
 *   @result
 *
 * Since: 1.0
 */
PgeResultModel *
pge_result_model_new (PgeResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);
  return g_object_new (PGE_TYPE_RESULT_MODEL, "result", result, NULL);
}

/**
 * pge_result_model_get_result:
 * @model: a #PgeResultModel
 *
 * Returns: (transfer none): the result whose rows @model lists
 *
 * Since: 1.0
 */
PgeResult *
pge_result_model_get_result (PgeResultModel *model)
{
  g_return_val_if_fail (PGE_IS_RESULT_MODEL (model), NULL);
  return model->result;
}
