/* batchmodel.c — PgeBatchModel, a GListModel of a batch's rows that is
 * filled chunk by chunk as a view scrolls.
 *
 * The model starts fetching the first chunk when made. Afterwards a chunk
 * is fetched when someone asks for one of the last rows loaded (within a
 * quarter of the batch size of the end, at least the last one), or past
 * them (a GtkListView / GtkColumnView asks for the rows it
 * is about to show), or calls pge_batch_model_load_more(). Fetching never
 * blocks: pge_batch_fetch() gives a future whose completion is delivered
 * on the model's main context (the thread-default context of the thread
 * that made it), where the rows are appended and items-changed emitted.
 * A request from get_item() starts the fetch from an idle callback, not
 * inside get_item(): GTK calls get_item() while laying out, and the
 * notifications a fetch emits must not reach widgets then.
 *
 * Threading: like any GListModel the model belongs to one thread — the one
 * running its main context; every field below is touched only there. The
 * chunks are immutable PgeResults, the rows immutable PgeRows.
 *
 * Ownership: the model holds a reference to the batch and never closes
 * it (pge_batch_close() blocks); dropping the last reference to a batch
 * never blocks either. A fetch in flight and a pending idle each hold a
 * reference to the model, so it lives until they have run.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pgengine.h"

struct _PgeBatchModel {
  GObject       parent_instance;
  PgeBatch     *batch;       /* owned */
  GMainContext *context;     /* owned: where completions are delivered */
  GPtrArray    *chunks;      /* of PgeResult, in order */
  GArray       *starts;      /* of guint: position of each chunk's first row */
  GPtrArray    *rows;        /* of PgeRow or NULL, one per loaded row: made on request */
  guint         n_loaded;
  guint         idle_id;     /* a pending load requested by get_item(), or 0 */
  gboolean      loading;     /* a fetch is in flight */
  gboolean      complete;    /* the batch is exhausted */
  GError       *error;       /* the fetch that failed, or NULL */
};

static void pge_batch_model_list_model_init (GListModelInterface *iface);

/**
 * PgeBatchModel:
 *
 * A #GListModel of the rows (#PgeRow) of a #PgeBatch, fetched chunk by
 * chunk as a view asks for rows near the end of what is loaded. Use it
 * from the thread that made it, which must run that thread's default
 * #GMainContext; it never blocks.
 *
 * Since: 1.0
 */
G_DEFINE_FINAL_TYPE_WITH_CODE (PgeBatchModel, pge_batch_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      pge_batch_model_list_model_init))

enum {
  PROP_0,
  PROP_BATCH,
  PROP_ITEM_TYPE,
  PROP_N_ITEMS,
  PROP_LOADING,
  PROP_COMPLETE,
  PROP_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
set_loading (PgeBatchModel *model, gboolean loading)
{
  if (model->loading == loading)
    return;
  model->loading = loading;
  g_object_notify_by_pspec (G_OBJECT (model), properties[PROP_LOADING]);
}

/* Appends @chunk's rows; returns how many. Emits nothing. */
static guint
append_chunk (PgeBatchModel *model, PgeResult *chunk)
{
  guint position = model->n_loaded;
  guint added = pge_result_get_n_rows (chunk);

  g_ptr_array_add (model->chunks, pge_result_ref (chunk));
  g_array_append_val (model->starts, position);
  g_ptr_array_set_size (model->rows, (int) (position + added));
  model->n_loaded += added;
  /* A short chunk is the cursor's last: FETCH returns fewer rows only at
   * the end. */
  if (added < pge_batch_get_batch_size (model->batch))
    model->complete = TRUE;
  return added;
}

/* Runs on the model's context: the future is done, so waiting returns at
 * once. The state is all updated before any signal, so a handler (of
 * items-changed, say) sees a model that is no longer loading and may ask
 * for the next chunk. */
static void
chunk_done (PgeFuture *future, gpointer user_data)
{
  PgeBatchModel *model = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) chunk = pge_future_wait (future, &error);
  gboolean was_complete = model->complete;
  guint position = model->n_loaded;
  guint added = 0;

  if (error != NULL)
    model->error = g_steal_pointer (&error);
  else if (chunk == NULL || pge_result_get_n_rows (chunk) == 0)
    model->complete = TRUE;
  else
    added = append_chunk (model, chunk);
  model->loading = FALSE;

  g_object_freeze_notify (G_OBJECT (model));
  if (added > 0)
    {
      g_list_model_items_changed (G_LIST_MODEL (model), position, 0, added);
      g_object_notify_by_pspec (G_OBJECT (model), properties[PROP_N_ITEMS]);
    }
  if (model->error != NULL)
    g_object_notify_by_pspec (G_OBJECT (model), properties[PROP_ERROR]);
  if (model->complete != was_complete)
    g_object_notify_by_pspec (G_OBJECT (model), properties[PROP_COMPLETE]);
  g_object_notify_by_pspec (G_OBJECT (model), properties[PROP_LOADING]);
  g_object_thaw_notify (G_OBJECT (model));
}

static gboolean
load_idle (gpointer user_data)
{
  PgeBatchModel *model = user_data;

  model->idle_id = 0;
  pge_batch_model_load_more (model);
  return G_SOURCE_REMOVE;
}

static void
request_load (PgeBatchModel *model)
{
  GSource *source;

  if (model->idle_id != 0 || model->loading || model->complete || model->error != NULL)
    return;
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[pgengine] batch model load");
  g_source_set_callback (source, load_idle, g_object_ref (model), g_object_unref);
  model->idle_id = g_source_attach (source, model->context);
  g_source_unref (source);
}

static GType
pge_batch_model_get_item_type (GListModel *list)
{
  return PGE_TYPE_ROW;
}

static guint
pge_batch_model_get_n_items (GListModel *list)
{
  return PGE_BATCH_MODEL (list)->n_loaded;
}

/* The chunk holding @position: the last whose start is <= @position. */
static guint
chunk_index (PgeBatchModel *model, guint position)
{
  guint lo = 0, hi = model->starts->len;

  while (hi - lo > 1)
    {
      guint mid = lo + (hi - lo) / 2;

      if (g_array_index (model->starts, guint, mid) <= position)
        lo = mid;
      else
        hi = mid;
    }
  return lo;
}

static gpointer
pge_batch_model_get_item (GListModel *list, guint position)
{
  PgeBatchModel *model = PGE_BATCH_MODEL (list);
  guint margin = MAX (1, pge_batch_get_batch_size (model->batch) / 4);
  PgeRow *row;

  if (position >= model->n_loaded || model->n_loaded - position <= margin)
    request_load (model);
  if (position >= model->n_loaded)
    return NULL;
  row = g_ptr_array_index (model->rows, position);
  if (row == NULL)
    {
      guint chunk = chunk_index (model, position);

      row = pge_row_new (g_ptr_array_index (model->chunks, chunk),
                         position - g_array_index (model->starts, guint, chunk));
      g_ptr_array_index (model->rows, position) = row;
    }
  return g_object_ref (row);
}

static void
pge_batch_model_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = pge_batch_model_get_item_type;
  iface->get_n_items = pge_batch_model_get_n_items;
  iface->get_item = pge_batch_model_get_item;
}

static void
pge_batch_model_finalize (GObject *object)
{
  PgeBatchModel *model = PGE_BATCH_MODEL (object);

  g_clear_pointer (&model->rows, g_ptr_array_unref);
  g_clear_pointer (&model->chunks, g_ptr_array_unref);
  g_clear_pointer (&model->starts, g_array_unref);
  g_clear_pointer (&model->batch, pge_batch_unref);
  g_clear_pointer (&model->context, g_main_context_unref);
  g_clear_error (&model->error);
  G_OBJECT_CLASS (pge_batch_model_parent_class)->finalize (object);
}

static void
pge_batch_model_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PgeBatchModel *model = PGE_BATCH_MODEL (object);

  switch (prop_id)
    {
    case PROP_BATCH:
      g_value_set_boxed (value, model->batch);
      break;
    case PROP_ITEM_TYPE:
      g_value_set_gtype (value, PGE_TYPE_ROW);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, model->n_loaded);
      break;
    case PROP_LOADING:
      g_value_set_boolean (value, model->loading);
      break;
    case PROP_COMPLETE:
      g_value_set_boolean (value, model->complete);
      break;
    case PROP_ERROR:
      g_value_set_boxed (value, model->error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pge_batch_model_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PgeBatchModel *model = PGE_BATCH_MODEL (object);

  switch (prop_id)
    {
    case PROP_BATCH:
      model->batch = g_value_dup_boxed (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pge_batch_model_constructed (GObject *object)
{
  PgeBatchModel *model = PGE_BATCH_MODEL (object);

  G_OBJECT_CLASS (pge_batch_model_parent_class)->constructed (object);
  if (model->batch == NULL)
    {
      /* Made without a batch (g_object_new): an empty, complete model. */
      model->complete = TRUE;
      return;
    }
  pge_batch_model_load_more (model);
}

static void
pge_batch_model_class_init (PgeBatchModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pge_batch_model_finalize;
  object_class->get_property = pge_batch_model_get_property;
  object_class->set_property = pge_batch_model_set_property;
  object_class->constructed = pge_batch_model_constructed;

  /**
   * PgeBatchModel:batch:
   *
   * The batch whose rows the model lists.
   *
   * Since: 1.0
   */
  properties[PROP_BATCH] =
    g_param_spec_boxed ("batch", NULL, NULL, PGE_TYPE_BATCH,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PgeBatchModel:item-type:
   *
   * Always #PgeRow.
   *
   * Since: 1.0
   */
  properties[PROP_ITEM_TYPE] =
    g_param_spec_gtype ("item-type", NULL, NULL, G_TYPE_OBJECT,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * PgeBatchModel:n-items:
   *
   * The number of rows loaded so far.
   *
   * Since: 1.0
   */
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PgeBatchModel:loading:
   *
   * Whether a chunk is being fetched.
   *
   * Since: 1.0
   */
  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PgeBatchModel:complete:
   *
   * Whether every row of the batch is loaded.
   *
   * Since: 1.0
   */
  properties[PROP_COMPLETE] =
    g_param_spec_boolean ("complete", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * PgeBatchModel:error:
   *
   * The error of the fetch that failed, or %NULL. Once set, nothing more
   * is fetched.
   *
   * Since: 1.0
   */
  properties[PROP_ERROR] =
    g_param_spec_boxed ("error", NULL, NULL, G_TYPE_ERROR,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

/* The rows array holds NULL for rows nobody asked for yet. */
static void
row_clear (gpointer row)
{
  if (row != NULL)
    g_object_unref (row);
}

static void
pge_batch_model_init (PgeBatchModel *model)
{
  model->context = g_main_context_ref_thread_default ();
  model->chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_result_unref);
  model->starts = g_array_new (FALSE, FALSE, sizeof (guint));
  model->rows = g_ptr_array_new_with_free_func (row_clear);
}

/**
 * pge_batch_model_new:
 * @batch: an open #PgeBatch, not read from elsewhere while the model is
 *   in use (the model would miss the chunks taken elsewhere)
 *
 * A list model of @batch's rows, starting with none and fetching the
 * first chunk at once. Completions are delivered on the calling thread's
 * default #GMainContext, which must run for the model to fill. Never
 * blocks.
 *
 * Returns: (transfer full): a new #PgeBatchModel holding a reference to
 *   @batch (it does not close it)
 *
 * Since: 1.0
 */
PgeBatchModel *
pge_batch_model_new (PgeBatch *batch)
{
  g_return_val_if_fail (batch != NULL, NULL);
  return g_object_new (PGE_TYPE_BATCH_MODEL, "batch", batch, NULL);
}

/**
 * pge_batch_model_get_batch:
 * @model: a #PgeBatchModel
 *
 * Returns: (transfer none) (nullable): the batch @model lists
 *
 * Since: 1.0
 */
PgeBatch *
pge_batch_model_get_batch (PgeBatchModel *model)
{
  g_return_val_if_fail (PGE_IS_BATCH_MODEL (model), NULL);
  return model->batch;
}

/**
 * pge_batch_model_load_more:
 * @model: a #PgeBatchModel
 *
 * Starts fetching the next chunk unless one is on its way, the batch is
 * exhausted or a fetch failed. When it arrives (on the model's main
 * context) its rows are appended and #GListModel::items-changed is
 * emitted. Never blocks.
 *
 * Returns: %TRUE if a fetch was started
 *
 * Since: 1.0
 */
gboolean
pge_batch_model_load_more (PgeBatchModel *model)
{
  g_autoptr(PgeFuture) future = NULL;

  g_return_val_if_fail (PGE_IS_BATCH_MODEL (model), FALSE);
  if (model->loading || model->complete || model->error != NULL)
    return FALSE;
  set_loading (model, TRUE);
  future = pge_batch_fetch (model->batch);
  pge_future_on_done (future, model->context, chunk_done, g_object_ref (model), g_object_unref);
  return TRUE;
}

/**
 * pge_batch_model_is_loading:
 * @model: a #PgeBatchModel
 *
 * Returns: whether a chunk is being fetched
 *
 * Since: 1.0
 */
gboolean
pge_batch_model_is_loading (PgeBatchModel *model)
{
  g_return_val_if_fail (PGE_IS_BATCH_MODEL (model), FALSE);
  return model->loading;
}

/**
 * pge_batch_model_is_complete:
 * @model: a #PgeBatchModel
 *
 * Returns: whether every row of the batch is loaded
 *
 * Since: 1.0
 */
gboolean
pge_batch_model_is_complete (PgeBatchModel *model)
{
  g_return_val_if_fail (PGE_IS_BATCH_MODEL (model), FALSE);
  return model->complete;
}

/**
 * pge_batch_model_get_error:
 * @model: a #PgeBatchModel
 *
 * Returns: (transfer none) (nullable): the error of the fetch that failed
 *   (after which nothing more is fetched), or %NULL
 *
 * Since: 1.0
 */
const GError *
pge_batch_model_get_error (PgeBatchModel *model)
{
  g_return_val_if_fail (PGE_IS_BATCH_MODEL (model), NULL);
  return model->error;
}

/**
 * pge_batch_model_get_n_chunks:
 * @model: a #PgeBatchModel
 *
 * Returns: how many chunks (of up to the batch size rows) are loaded
 *
 * Since: 1.0
 */
guint
pge_batch_model_get_n_chunks (PgeBatchModel *model)
{
  g_return_val_if_fail (PGE_IS_BATCH_MODEL (model), 0);
  return model->chunks->len;
}
