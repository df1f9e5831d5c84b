/* test-rows.c — rows for the GLib world: PgeRow, PgeResultModel,
 * PgeBatchModel (filled chunk by chunk on the main context), the GVariant
 * forms of rows and results, and PgeStats as a boxed type.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (rows, .init = pge_test_engine_up, .fini = pge_test_engine_down);

static PgeResult *
query (const char *sql)
{
  g_autoptr(GError) error = NULL;
  PgeResult *result = pge_engine_query_sync (test_engine, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  cr_assert_not_null (result);
  return result;
}

static PgeBatch *
open_batch (const char *sql, guint size)
{
  g_autoptr(GError) error = NULL;
  PgeBatch *batch = pge_engine_batch (test_engine, sql, NULL, size, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  return batch;
}

#define TYPED_ROW_SQL \
  "SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 1.5::float4 AS d, 2.25::float8 AS e, " \
  "true AS f, 'h\xc3\xa9llo'::text AS g, '\\x00ff41'::bytea AS h, NULL::int4 AS i, 12.34::numeric AS j, " \
  "42::oid AS k"

/* ------------------------------------------------------------------ rows */

Test (rows, row_reads_cells_by_index_and_name)
{
  g_autoptr(PgeResult) result = query ("SELECT 7 AS n, 'x' AS s, NULL::text AS z UNION ALL SELECT 8, 'y', 'w'");
  g_autoptr(PgeRow) row = pge_row_new (result, 1);
  guint index = 99;
  g_autoptr(PgeResult) held = NULL;

  cr_assert_not_null (row);
  cr_assert_eq (pge_row_get_index (row), 1);
  cr_assert_eq (pge_row_get_result (row), result);
  cr_assert_eq (pge_row_get_n_columns (row), 3);
  cr_assert_str_eq (pge_row_get_value (row, 0), "8");
  cr_assert_str_eq (pge_row_get_value_by_name (row, "s"), "y");
  cr_assert_null (pge_row_get_value_by_name (row, "no_such_column"));
  cr_assert_not (pge_row_is_null (row, 2));
  g_object_get (row, "index", &index, "result", &held, NULL);
  cr_assert_eq (index, 1);
  cr_assert_eq (held, result);
}

Test (rows, row_keeps_its_result_alive)
{
  PgeResult *result = query ("SELECT 'kept' AS v");
  g_autoptr(PgeRow) row = pge_row_new (result, 0);

  pge_result_unref (result);
  cr_assert_str_eq (pge_row_get_value (row, 0), "kept");
}

Test (rows, row_bad_input_gives_null_not_a_crash)
{
  /* Programmer errors: each emits a critical and returns NULL / TRUE. */
  g_autoptr(PgeResult) result = query ("SELECT 1 AS a");
  g_autoptr(PgeRow) row = pge_row_new (result, 0);

  cr_assert_null (pge_row_new (result, 1));
  cr_assert_null (pge_row_new (NULL, 0));
  cr_assert_null (pge_row_get_value (row, 1));
  cr_assert (pge_row_is_null (row, 5));
  cr_assert_null (pge_row_get_value_by_name (row, NULL));
  cr_assert_null (pge_row_get_value (NULL, 0));
  cr_assert_str_eq (pge_row_get_value (row, 0), "1");
}

/* ---------------------------------------------------------- result model */

Test (rows, result_model_lists_every_row_as_the_same_object)
{
  g_autoptr(PgeResult) result = query ("SELECT g, 'v' || g FROM generate_series(1, 5) g");
  g_autoptr(PgeResultModel) model = pge_result_model_new (result);
  GListModel *list = G_LIST_MODEL (model);
  g_autoptr(PgeRow) first = NULL;
  g_autoptr(PgeRow) again = NULL;
  g_autoptr(PgeRow) last = NULL;

  cr_assert_eq (g_list_model_get_item_type (list), PGE_TYPE_ROW);
  cr_assert_eq (g_list_model_get_n_items (list), 5);
  cr_assert_eq (pge_result_model_get_result (model), result);
  first = g_list_model_get_item (list, 0);
  again = g_list_model_get_item (list, 0);
  last = g_list_model_get_item (list, 4);
  cr_assert_eq (first, again, "a position always gives the same row object");
  cr_assert_str_eq (pge_row_get_value (last, 1), "v5");
  cr_assert_null (g_list_model_get_item (list, 5));
  cr_assert_null (g_list_model_get_item (list, G_MAXUINT));
}

Test (rows, result_model_of_command_result_is_empty)
{
  g_autoptr(PgeResult) result = query ("CREATE TABLE empty_model (id int)");
  g_autoptr(PgeResultModel) model = pge_result_model_new (result);

  cr_assert_eq (g_list_model_get_n_items (G_LIST_MODEL (model)), 0);
  cr_assert_null (g_list_model_get_item (G_LIST_MODEL (model), 0));
  cr_assert_null (pge_result_model_new (NULL));   /* a critical */
}

/* -------------------------------------------------------------- variants */

/* Member @i of a tuple of maybes, unwrapped; NULL for nothing. */
static GVariant *
member (GVariant *row, gsize i)
{
  g_autoptr(GVariant) maybe = g_variant_get_child_value (row, i);

  return g_variant_get_maybe (maybe);
}

Test (rows, row_variant_is_a_tuple_of_maybes_typed_from_the_oids)
{
  g_autoptr(PgeResult) result = query (TYPED_ROW_SQL);
  g_autoptr(GVariantType) type = pge_result_get_row_variant_type (result);
  g_autoptr(GVariant) row = pge_result_row_to_variant (result, 0);
  g_autoptr(GVariant) a = NULL, b = NULL, c = NULL, d = NULL, e = NULL, f = NULL;
  g_autoptr(GVariant) g = NULL, h = NULL, i = NULL, j = NULL, k = NULL;
  gconstpointer bytes;
  gsize n_bytes = 0;
  g_autofree char *type_string = g_variant_type_dup_string (type);   /* peek is not NUL-terminated */

  cr_assert_str_eq (type_string, "(mnmimxmdmdmbmsmaymimsmu)");
  cr_assert_not (g_variant_is_floating (row));
  cr_assert (g_variant_is_of_type (row, type));
  a = member (row, 0); b = member (row, 1); c = member (row, 2); d = member (row, 3);
  e = member (row, 4); f = member (row, 5); g = member (row, 6); h = member (row, 7);
  i = member (row, 8); j = member (row, 9); k = member (row, 10);
  cr_assert_eq (g_variant_get_int16 (a), 1);
  cr_assert_eq (g_variant_get_int32 (b), 2);
  cr_assert_eq (g_variant_get_int64 (c), 3);
  cr_assert_float_eq (g_variant_get_double (d), 1.5, 1e-9);
  cr_assert_float_eq (g_variant_get_double (e), 2.25, 1e-12);
  cr_assert (g_variant_get_boolean (f));
  cr_assert_str_eq (g_variant_get_string (g, NULL), "h\xc3\xa9llo");
  bytes = g_variant_get_fixed_array (h, &n_bytes, 1);
  cr_assert_eq (n_bytes, 3);
  cr_assert_eq (memcmp (bytes, "\x00\xff\x41", 3), 0);
  cr_assert_null (i, "SQL NULL is nothing");
  cr_assert_str_eq (g_variant_get_string (j, NULL), "12.34", "numeric keeps its exact text form");
  cr_assert_eq (g_variant_get_uint32 (k), 42);
}

Test (rows, row_vardict_maps_names_to_values_and_null_to_nothing)
{
  g_autoptr(PgeResult) result = query (TYPED_ROW_SQL);
  g_autoptr(PgeRow) row = pge_row_new (result, 0);
  g_autoptr(GVariant) dict = pge_row_to_vardict (row);
  g_autoptr(GVariant) null_value = NULL;
  gint64 c = 0;
  const char *g = NULL;
  gboolean f = FALSE;

  cr_assert (g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT));
  cr_assert_eq (g_variant_n_children (dict), 11);
  cr_assert (g_variant_lookup (dict, "c", "x", &c));
  cr_assert_eq (c, 3);
  cr_assert (g_variant_lookup (dict, "g", "&s", &g));
  cr_assert_str_eq (g, "h\xc3\xa9llo");
  cr_assert (g_variant_lookup (dict, "f", "b", &f));
  cr_assert (f);
  null_value = g_variant_lookup_value (dict, "i", NULL);
  cr_assert_not_null (null_value, "a NULL column is still there");
  cr_assert_str_eq (g_variant_get_type_string (null_value), "mi");
  cr_assert_eq (g_variant_n_children (null_value), 0);
}

Test (rows, whole_result_as_array_of_tuples_and_of_vardicts)
{
  g_autoptr(PgeResult) result = query ("SELECT g AS n, CASE WHEN g = 2 THEN NULL ELSE 'r' || g END AS s "
                                       "FROM generate_series(1, 3) g");
  g_autoptr(PgeResult) none = query ("SELECT 1::int8 AS n WHERE false");
  g_autoptr(GVariant) all = pge_result_to_variant (result);
  g_autoptr(GVariant) dicts = pge_result_to_vardicts (result);
  g_autoptr(GVariant) empty = pge_result_to_variant (none);
  g_autofree char *printed = g_variant_print (all, FALSE);

  cr_assert_str_eq (g_variant_get_type_string (all), "a(mims)");
  cr_assert_str_eq (printed, "[(1, 'r1'), (2, nothing), (3, 'r3')]");
  cr_assert_str_eq (g_variant_get_type_string (dicts), "aa{sv}");
  cr_assert_eq (g_variant_n_children (dicts), 3);
  cr_assert_str_eq (g_variant_get_type_string (empty), "a(mx)");
  cr_assert_eq (g_variant_n_children (empty), 0);
}

Test (rows, variant_bad_input_gives_null)
{
  g_autoptr(PgeResult) result = query ("SELECT 1 AS a");

  /* Criticals, not crashes. */
  cr_assert_null (pge_result_row_to_variant (result, 1));
  cr_assert_null (pge_result_row_to_vardict (result, G_MAXUINT));
  cr_assert_null (pge_result_to_variant (NULL));
  cr_assert_null (pge_result_get_row_variant_type (NULL));
  cr_assert_null (pge_row_to_variant (NULL));
}

/* ----------------------------------------------------------- batch model */

typedef struct {
  guint n_signals;
  guint last_position;
  guint last_added;
} Changes;

static void
items_changed (GListModel *list, guint position, guint removed, guint added, gpointer data)
{
  Changes *changes = data;

  cr_assert_eq (removed, 0);
  changes->n_signals++;
  changes->last_position = position;
  changes->last_added = added;
}

/* Runs the default main context until @model is not loading (and has no
 * pending load). The fixture's alarm() guards against a hang. */
static void
wait_idle (PgeBatchModel *model)
{
  while (pge_batch_model_is_loading (model) || g_main_context_pending (NULL))
    g_main_context_iteration (NULL, TRUE);
}

Test (rows, batch_model_fills_chunk_by_chunk_on_the_main_context)
{
  g_autoptr(PgeBatch) batch = open_batch ("SELECT g FROM generate_series(1, 250) g", 100);
  g_autoptr(PgeBatchModel) model = pge_batch_model_new (batch);
  GListModel *list = G_LIST_MODEL (model);
  Changes changes = { 0 };

  g_signal_connect (model, "items-changed", G_CALLBACK (items_changed), &changes);
  cr_assert_eq (g_list_model_get_n_items (list), 0, "nothing before the main loop runs");
  cr_assert (pge_batch_model_is_loading (model), "the first chunk is on its way");
  wait_idle (model);
  cr_assert_eq (g_list_model_get_n_items (list), 100);
  cr_assert_eq (changes.n_signals, 1);
  cr_assert_not (pge_batch_model_is_complete (model));

  while (!pge_batch_model_is_complete (model))
    {
      cr_assert (pge_batch_model_load_more (model));
      cr_assert_not (pge_batch_model_load_more (model), "one fetch at a time");
      wait_idle (model);
    }
  cr_assert_eq (g_list_model_get_n_items (list), 250);
  cr_assert_eq (changes.n_signals, 3);
  cr_assert_eq (changes.last_position, 200);
  cr_assert_eq (changes.last_added, 50);
  cr_assert_eq (pge_batch_model_get_n_chunks (model), 3);
  cr_assert_null (pge_batch_model_get_error (model));
  cr_assert_not (pge_batch_model_load_more (model), "nothing left to load");
  for (guint i = 0; i < 250; i += 37)
    {
      g_autoptr(PgeRow) row = g_list_model_get_item (list, i);
      g_autofree char *want = g_strdup_printf ("%u", i + 1);

      cr_assert_str_eq (pge_row_get_value (row, 0), want);
    }
  cr_assert (pge_batch_close (batch, NULL));
}

Test (rows, batch_model_asking_past_the_loaded_rows_fetches_the_next_chunk)
{
  g_autoptr(PgeBatch) batch = open_batch ("SELECT g FROM generate_series(1, 1000) g", 100);
  g_autoptr(PgeBatchModel) model = pge_batch_model_new (batch);
  GListModel *list = G_LIST_MODEL (model);
  g_autoptr(PgeRow) early = NULL;
  g_autoptr(PgeRow) near_end = NULL;

  wait_idle (model);
  cr_assert_eq (g_list_model_get_n_items (list), 100);
  /* A row far from the end: no fetch. */
  early = g_list_model_get_item (list, 10);
  wait_idle (model);
  cr_assert_eq (g_list_model_get_n_items (list), 100);
  /* Past the end: NULL now, and the next chunk is fetched — not inside
   * get_item(), but from the main loop. */
  cr_assert_null (g_list_model_get_item (list, 100));
  cr_assert_not (pge_batch_model_is_loading (model));
  wait_idle (model);
  cr_assert_eq (g_list_model_get_n_items (list), 200);
  /* In the last quarter (as a view scrolling down asks): prefetch. */
  near_end = g_list_model_get_item (list, 190);
  cr_assert_str_eq (pge_row_get_value (near_end, 0), "191");
  wait_idle (model);
  cr_assert_eq (g_list_model_get_n_items (list), 300);
  cr_assert_not (pge_batch_model_is_complete (model));
}

Test (rows, batch_model_keeps_the_error_of_a_failed_chunk)
{
  /* The second chunk divides by zero at g = 150. */
  g_autoptr(PgeBatch) batch = open_batch ("SELECT 1 / (g - 150) FROM generate_series(1, 250) g", 100);
  g_autoptr(PgeBatchModel) model = pge_batch_model_new (batch);
  GError *error = NULL;

  wait_idle (model);
  cr_assert_eq (g_list_model_get_n_items (G_LIST_MODEL (model)), 100);
  cr_assert (pge_batch_model_load_more (model));
  wait_idle (model);
  g_object_get (model, "error", &error, NULL);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "22012");
  g_error_free (error);
  cr_assert_not_null (pge_batch_model_get_error (model));
  cr_assert_eq (g_list_model_get_n_items (G_LIST_MODEL (model)), 100, "the rows before stay");
  cr_assert_not (pge_batch_model_is_complete (model));
  cr_assert_not (pge_batch_model_load_more (model), "nothing more after an error");
}

Test (rows, batch_model_on_a_closed_batch_reports_the_error)
{
  g_autoptr(PgeBatch) batch = open_batch ("SELECT g FROM generate_series(1, 10) g", 5);
  g_autoptr(PgeBatchModel) model = NULL;

  cr_assert (pge_batch_close (batch, NULL));
  model = pge_batch_model_new (batch);
  wait_idle (model);
  pge_assert_error (pge_batch_model_get_error (model), PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_eq (g_list_model_get_n_items (G_LIST_MODEL (model)), 0);
  cr_assert_null (pge_batch_model_new (NULL));   /* a critical */
}

/* ----------------------------------------------------------------- stats */

Test (rows, stats_is_a_boxed_type_that_copies)
{
  PgeStats stats = { 0 };
  g_autoptr(PgeStats) copy = NULL;

  pge_engine_get_stats (test_engine, &stats);
  copy = pge_stats_copy (&stats);
  cr_assert (G_TYPE_IS_BOXED (PGE_TYPE_STATS));
  cr_assert_eq (copy->n_workers, stats.n_workers);
  cr_assert_gt (copy->n_workers, 0);
  cr_assert_null (pge_stats_copy (NULL));   /* a critical */
  pge_stats_free (NULL);
}
