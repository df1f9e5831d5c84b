/* pge-viewer — a small GTK 4 table viewer on pgengine that never blocks
 * its main loop.
 *
 *   pge-viewer [--conninfo=STR] [--table=NAME] [--page-size=N]
 *              [--screenshot=FILE.png]
 *
 * The engine is started with pge_engine_new_async() (the connections are
 * made on another thread); the first page of rows comes from
 * pge_engine_query_async(); the rest of the table is paged through a
 * server-side cursor, opened with pge_engine_batch_async() and read with
 * pge_batch_next_async() each time "Load more" is pressed. Every callback
 * runs in the main loop (GTK's thread), so it may touch widgets.
 *
 * --screenshot (or PGE_VIEWER_SCREENSHOT=FILE) is for tests: the viewer
 * loads every page, prints "rows: N" on stdout, saves a PNG of its window
 * and quits; it exits 1 if anything failed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>

#include <gtk/gtk.h>
#include <pgengine.h>

typedef struct {
  /* Options. */
  char         *conninfo;
  char         *table;
  int           page_size;
  char         *screenshot;

  GtkApplication *app;        /* borrowed */
  GtkWidget    *window;
  GtkWidget    *column_view;
  GtkWidget    *status;
  GtkWidget    *more_button;
  GtkStringList *model;       /* one item per row: its index into `rows` */
  GPtrArray    *rows;         /* of GStrv: the values of each loaded row */
  guint         n_columns;

  GCancellable *cancellable;  /* cancelled at shutdown: stops what is pending */
  PgeEngine    *engine;
  PgeBatch     *batch;        /* the cursor over the rows after the first page */
  gboolean      batch_done;   /* the cursor is exhausted */
  gboolean      fetching;     /* a pge_batch_next_async() is pending */
  gboolean      want_more;    /* "Load more" before the batch was open */
  gboolean      failed;
} Viewer;

static void viewer_load_more (Viewer *viewer);

/* A SQL identifier, quoted: the table name comes from the command line. */
static char *
quote_identifier (const char *name)
{
  g_auto(GStrv) parts = g_strsplit (name, "\"", -1);
  g_autofree char *doubled = g_strjoinv ("\"\"", parts);

  return g_strdup_printf ("\"%s\"", doubled);
}

static void
viewer_set_status (Viewer *viewer, const char *text)
{
  gtk_label_set_text (GTK_LABEL (viewer->status), text);
}

static void
viewer_fail (Viewer *viewer, const char *what, const GError *error)
{
  g_autofree char *text = g_strdup_printf ("%s: %s", what, error->message);

  viewer->failed = TRUE;
  viewer_set_status (viewer, text);
  g_printerr ("pge-viewer: %s\n", text);
  if (viewer->screenshot != NULL)
    g_application_quit (G_APPLICATION (viewer->app));
}

static void
viewer_update_status (Viewer *viewer)
{
  g_autofree char *text = g_strdup_printf ("%u rows%s", viewer->rows->len,
                                           viewer->batch_done ? "" : " (more to load)");

  viewer_set_status (viewer, text);
  gtk_widget_set_sensitive (viewer->more_button, !viewer->batch_done && !viewer->fetching);
}

/* ------------------------------------------------------------- columns */

static void
cell_setup (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_list_item_set_child (item, label);
}

static void
cell_bind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  Viewer *viewer = user_data;
  guint column = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (factory), "column"));
  GtkStringObject *object = gtk_list_item_get_item (item);
  guint row = (guint) g_ascii_strtoull (gtk_string_object_get_string (object), NULL, 10);
  char **values = g_ptr_array_index (viewer->rows, row);
  const char *value = values[column];

  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), value ? value : "NULL");
  if (value == NULL)
    gtk_widget_add_css_class (gtk_list_item_get_child (item), "dim-label");
  else
    gtk_widget_remove_css_class (gtk_list_item_get_child (item), "dim-label");
}

static void
viewer_add_columns (Viewer *viewer, PgeResult *result)
{
  viewer->n_columns = pge_result_get_n_columns (result);
  for (guint i = 0; i < viewer->n_columns; i++)
    {
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      GtkColumnViewColumn *column;

      g_object_set_data (G_OBJECT (factory), "column", GUINT_TO_POINTER (i));
      g_signal_connect (factory, "setup", G_CALLBACK (cell_setup), viewer);
      g_signal_connect (factory, "bind", G_CALLBACK (cell_bind), viewer);
      column = gtk_column_view_column_new (pge_result_get_column_name (result, i), factory);
      gtk_column_view_column_set_resizable (column, TRUE);
      gtk_column_view_column_set_expand (column, TRUE);
      gtk_column_view_append_column (GTK_COLUMN_VIEW (viewer->column_view), column);
      g_object_unref (column);
    }
}

static void
viewer_append_rows (Viewer *viewer, PgeResult *result)
{
  guint n_rows = pge_result_get_n_rows (result);
  g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);

  if (viewer->n_columns == 0)
    viewer_add_columns (viewer, result);
  for (guint r = 0; r < n_rows; r++)
    {
      char **values = g_new0 (char *, viewer->n_columns + 1);

      for (guint c = 0; c < viewer->n_columns; c++)
        values[c] = g_strdup (pge_result_get_value (result, r, c));
      g_ptr_array_add (labels, g_strdup_printf ("%u", viewer->rows->len));
      g_ptr_array_add (viewer->rows, values);
    }
  g_ptr_array_add (labels, NULL);
  /* One splice per page: the view updates once, not once per row. */
  gtk_string_list_splice (viewer->model, g_list_model_get_n_items (G_LIST_MODEL (viewer->model)), 0,
                          (const char * const *) labels->pdata);
}

/* ----------------------------------------------------------- screenshot */

static void
viewer_save_screenshot (Viewer *viewer)
{
  GtkWidget *widget = viewer->window;
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL || renderer == NULL)
    {
      g_printerr ("pge-viewer: nothing to take a screenshot of\n");
      viewer->failed = TRUE;
      return;
    }
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, viewer->screenshot))
    {
      g_printerr ("pge-viewer: cannot write %s\n", viewer->screenshot);
      viewer->failed = TRUE;
    }
}

/* Waits for a few frames, so the rows are laid out and drawn, then saves
 * the screenshot and quits. */
static gboolean
screenshot_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  Viewer *viewer = user_data;
  guint n = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (widget), "pge-ticks")) + 1;

  g_object_set_data (G_OBJECT (widget), "pge-ticks", GUINT_TO_POINTER (n));
  if (n < 3)
    return G_SOURCE_CONTINUE;
  viewer_save_screenshot (viewer);
  g_application_quit (G_APPLICATION (viewer->app));
  return G_SOURCE_REMOVE;
}

static void
viewer_all_loaded (Viewer *viewer)
{
  if (viewer->screenshot == NULL)
    return;
  printf ("rows: %u\n", viewer->rows->len);
  fflush (stdout);
  gtk_widget_add_tick_callback (viewer->window, screenshot_tick, viewer, NULL);
}

/* ---------------------------------------------------------------- paging */

static void
chunk_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Viewer *viewer = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) chunk = pge_batch_next_finish (viewer->batch, res, &error);

  viewer->fetching = FALSE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    {
      viewer->batch_done = TRUE;
      viewer_fail (viewer, "cannot read the next page", error);
      return;
    }
  if (chunk == NULL)
    viewer->batch_done = TRUE;
  else
    viewer_append_rows (viewer, chunk);
  viewer_update_status (viewer);
  if (viewer->batch_done)
    viewer_all_loaded (viewer);
  else if (viewer->screenshot != NULL)
    viewer_load_more (viewer);
}

static void
viewer_load_more (Viewer *viewer)
{
  if (viewer->batch == NULL)
    {
      viewer->want_more = TRUE;   /* done once the batch is open */
      return;
    }
  if (viewer->fetching || viewer->batch_done)
    return;
  viewer->fetching = TRUE;
  gtk_widget_set_sensitive (viewer->more_button, FALSE);
  pge_batch_next_async (viewer->batch, viewer->cancellable, chunk_ready, viewer);
}

static void
batch_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Viewer *viewer = user_data;
  g_autoptr(GError) error = NULL;

  viewer->batch = pge_engine_batch_finish (viewer->engine, res, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    {
      viewer_fail (viewer, "cannot open a cursor", error);
      return;
    }
  if (viewer->want_more)
    viewer_load_more (viewer);
}

static void
first_page_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Viewer *viewer = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_finish (viewer->engine, res, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    {
      viewer_fail (viewer, "cannot read the table", error);
      return;
    }
  viewer_append_rows (viewer, result);
  viewer->batch_done = pge_result_get_n_rows (result) < (guint) viewer->page_size;
  viewer_update_status (viewer);
  if (viewer->batch_done)
    viewer_all_loaded (viewer);
  else if (viewer->screenshot != NULL)
    viewer_load_more (viewer);
}

static void
engine_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Viewer *viewer = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *table = NULL;
  g_autofree char *first_sql = NULL;
  g_autofree char *rest_sql = NULL;

  viewer->engine = pge_engine_new_finish (res, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    {
      viewer_fail (viewer, "cannot connect", error);
      return;
    }
  viewer_set_status (viewer, "Loading…");
  table = quote_identifier (viewer->table);
  /* The first page at once with a plain query; the rest through a cursor,
   * opened meanwhile, in the same order (by the first column). */
  first_sql = g_strdup_printf ("SELECT * FROM %s ORDER BY 1 LIMIT %d", table, viewer->page_size);
  rest_sql = g_strdup_printf ("SELECT * FROM %s ORDER BY 1 OFFSET %d", table, viewer->page_size);
  pge_engine_query_async (viewer->engine, first_sql, NULL, viewer->cancellable, first_page_ready, viewer);
  pge_engine_batch_async (viewer->engine, rest_sql, NULL, (guint) viewer->page_size,
                          viewer->cancellable, batch_ready, viewer);
}

/* ------------------------------------------------------------------ app */

static void
more_clicked (GtkButton *button, gpointer user_data)
{
  viewer_load_more (user_data);
}

static void
activate (GtkApplication *app, gpointer user_data)
{
  Viewer *viewer = user_data;
  g_autoptr(PgeConfig) config = NULL;
  g_autofree char *title = NULL;
  GtkWidget *box, *scrolled, *bar;
  GtkNoSelection *selection;

  if (viewer->window != NULL)
    {
      gtk_window_present (GTK_WINDOW (viewer->window));
      return;
    }
  viewer->window = gtk_application_window_new (app);
  title = g_strdup_printf ("%s — pgengine viewer", viewer->table);
  gtk_window_set_title (GTK_WINDOW (viewer->window), title);
  gtk_window_set_default_size (GTK_WINDOW (viewer->window), 640, 480);

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  viewer->model = gtk_string_list_new (NULL);
  selection = gtk_no_selection_new (G_LIST_MODEL (g_object_ref (viewer->model)));
  viewer->column_view = gtk_column_view_new (GTK_SELECTION_MODEL (selection));
  gtk_column_view_set_show_row_separators (GTK_COLUMN_VIEW (viewer->column_view), TRUE);
  gtk_column_view_set_show_column_separators (GTK_COLUMN_VIEW (viewer->column_view), TRUE);
  scrolled = gtk_scrolled_window_new ();
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), viewer->column_view);
  gtk_box_append (GTK_BOX (box), scrolled);

  bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_margin_start (bar, 6);
  gtk_widget_set_margin_end (bar, 6);
  gtk_widget_set_margin_top (bar, 6);
  gtk_widget_set_margin_bottom (bar, 6);
  viewer->status = gtk_label_new ("Connecting…");
  gtk_label_set_xalign (GTK_LABEL (viewer->status), 0.0f);
  gtk_widget_set_hexpand (viewer->status, TRUE);
  gtk_box_append (GTK_BOX (bar), viewer->status);
  viewer->more_button = gtk_button_new_with_label ("Load more");
  gtk_widget_set_sensitive (viewer->more_button, FALSE);
  g_signal_connect (viewer->more_button, "clicked", G_CALLBACK (more_clicked), viewer);
  gtk_box_append (GTK_BOX (bar), viewer->more_button);
  gtk_box_append (GTK_BOX (box), bar);

  gtk_window_set_child (GTK_WINDOW (viewer->window), box);
  gtk_window_present (GTK_WINDOW (viewer->window));

  /* Connecting blocks, so it happens on another thread; engine_ready()
   * runs back here, in the main loop. */
  config = pge_config_new (viewer->conninfo);
  pge_config_set_workers (config, 2);
  pge_engine_new_async (config, viewer->cancellable, engine_ready, viewer);
}

static void
shutdown (GApplication *app, gpointer user_data)
{
  Viewer *viewer = user_data;

  /* The main loop is over: blocking here is fine. Pending callbacks never
   * run, so cancelling just stops their work early. */
  g_cancellable_cancel (viewer->cancellable);
  g_clear_pointer (&viewer->batch, pge_batch_unref);
  g_clear_pointer (&viewer->engine, pge_engine_unref);
}

int
main (int argc, char **argv)
{
  Viewer viewer = { 0 };
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  GOptionEntry entries[] = {
    { "conninfo", 'c', 0, G_OPTION_ARG_STRING, &viewer.conninfo,
      "libpq connection string (default: PGE_CONNINFO, then libpq's PG* variables)", "STR" },
    { "table", 't', 0, G_OPTION_ARG_STRING, &viewer.table, "table to show (default: pge_demo)", "NAME" },
    { "page-size", 'n', 0, G_OPTION_ARG_INT, &viewer.page_size, "rows per page (default: 100)", "N" },
    { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, &viewer.screenshot,
      "load every page, print \"rows: N\", save a PNG of the window and quit", "FILE" },
    { NULL }
  };
  int status;

  options = g_option_context_new ("— browse a PostgreSQL table");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("pge-viewer: %s\n", error->message);
      return 2;
    }
  if (viewer.conninfo == NULL)
    viewer.conninfo = g_strdup (g_getenv ("PGE_CONNINFO"));
  if (viewer.table == NULL)
    viewer.table = g_strdup ("pge_demo");
  if (viewer.page_size <= 0)
    viewer.page_size = 100;
  if (viewer.screenshot == NULL && g_getenv ("PGE_VIEWER_SCREENSHOT") != NULL)
    viewer.screenshot = g_strdup (g_getenv ("PGE_VIEWER_SCREENSHOT"));

  viewer.rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  viewer.cancellable = g_cancellable_new ();
  viewer.app = gtk_application_new ("org.pgengine.Viewer", G_APPLICATION_NON_UNIQUE);
  g_signal_connect (viewer.app, "activate", G_CALLBACK (activate), &viewer);
  g_signal_connect (viewer.app, "shutdown", G_CALLBACK (shutdown), &viewer);
  /* The options are parsed above: GApplication gets none. */
  status = g_application_run (G_APPLICATION (viewer.app), 1, argv);

  g_clear_object (&viewer.app);
  g_clear_object (&viewer.model);
  g_clear_object (&viewer.cancellable);
  g_clear_pointer (&viewer.rows, g_ptr_array_unref);
  g_free (viewer.conninfo);
  g_free (viewer.table);
  g_free (viewer.screenshot);
  if (status == 0 && viewer.failed)
    status = 1;
  return status;
}
