/* pge-viewer — a small GTK 4 table viewer on pgengine that never blocks
 * its main loop.
 *
 *   pge-viewer [--conninfo=STR] [--table=NAME] [--page-size=N]
 *              [--screenshot=FILE.png]
 *
 * The engine is started with pge_engine_new_async() (the connections are
 * made on another thread); the table is read through a server-side
 * cursor, opened with pge_engine_batch_async(), and shown through a
 * PgeBatchModel — a GListModel of PgeRow items that the GtkColumnView
 * displays directly. The model fetches its first chunk at once and the
 * next one whenever the view asks for rows near the end of what is
 * loaded (scrolling down) or "Load more" is pressed; chunks arrive in the
 * main loop without ever blocking it. Every callback runs in the main
 * loop (GTK's thread), so it may touch widgets.
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
  GtkNoSelection *selection;  /* wraps `model` for the column view */
  PgeBatchModel *model;       /* the rows: PgeRow items, filled chunk by chunk */
  guint         n_columns;

  GCancellable *cancellable;  /* cancelled at shutdown: stops what is pending */
  PgeEngine    *engine;
  PgeBatch     *batch;        /* the cursor over the table */
  gboolean      failed;
  gboolean      reported;     /* "rows: N" printed */
} Viewer;

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
  gboolean complete = pge_batch_model_is_complete (viewer->model);
  g_autofree char *text = g_strdup_printf ("%u rows%s",
                                           g_list_model_get_n_items (G_LIST_MODEL (viewer->model)),
                                           complete ? "" : " (more to load)");

  viewer_set_status (viewer, text);
  gtk_widget_set_sensitive (viewer->more_button,
                            !complete && !pge_batch_model_is_loading (viewer->model));
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
  guint column = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (factory), "column"));
  PgeRow *row = gtk_list_item_get_item (item);
  const char *value = pge_row_get_value (row, column);

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
  if (viewer->screenshot == NULL || viewer->reported)
    return;
  viewer->reported = TRUE;
  printf ("rows: %u\n", g_list_model_get_n_items (G_LIST_MODEL (viewer->model)));
  fflush (stdout);
  gtk_widget_add_tick_callback (viewer->window, screenshot_tick, viewer, NULL);
}

/* ---------------------------------------------------------------- paging */

/* The model changed (rows arrived, a fetch started or ended, the cursor is
 * exhausted or failed): runs in the main loop. */
static void
model_changed (Viewer *viewer)
{
  const GError *error = pge_batch_model_get_error (viewer->model);

  if (error != NULL)
    {
      if (!viewer->failed)
        viewer_fail (viewer, "cannot read the next rows", error);
      return;
    }
  viewer_update_status (viewer);
  if (pge_batch_model_is_complete (viewer->model))
    viewer_all_loaded (viewer);
  else if (viewer->screenshot != NULL)
    pge_batch_model_load_more (viewer->model);   /* no-op while one is on its way */
}

static void
rows_added (GListModel *model, guint position, guint removed, guint added, gpointer user_data)
{
  Viewer *viewer = user_data;

  /* The columns come from the first row's result. */
  if (viewer->n_columns == 0 && added > 0)
    {
      g_autoptr(PgeRow) first = g_list_model_get_item (model, 0);

      viewer_add_columns (viewer, pge_row_get_result (first));
    }
}

static void
model_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  model_changed (user_data);
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
  /* Fetches the first chunk at once; the rest as the view scrolls. */
  viewer->model = pge_batch_model_new (viewer->batch);
  g_signal_connect (viewer->model, "items-changed", G_CALLBACK (rows_added), viewer);
  g_signal_connect (viewer->model, "notify::loading", G_CALLBACK (model_notify), viewer);
  g_signal_connect (viewer->model, "notify::error", G_CALLBACK (model_notify), viewer);
  gtk_no_selection_set_model (viewer->selection, G_LIST_MODEL (viewer->model));
  viewer_set_status (viewer, "Loading…");
}

static void
engine_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Viewer *viewer = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *table = NULL;
  g_autofree char *sql = NULL;

  viewer->engine = pge_engine_new_finish (res, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    {
      viewer_fail (viewer, "cannot connect", error);
      return;
    }
  viewer_set_status (viewer, "Opening a cursor…");
  table = quote_identifier (viewer->table);
  sql = g_strdup_printf ("SELECT * FROM %s ORDER BY 1", table);
  pge_engine_batch_async (viewer->engine, sql, NULL, (guint) viewer->page_size,
                          viewer->cancellable, batch_ready, viewer);
}

/* ------------------------------------------------------------------ app */

static void
more_clicked (GtkButton *button, gpointer user_data)
{
  Viewer *viewer = user_data;

  if (viewer->model != NULL)
    pge_batch_model_load_more (viewer->model);
}

static void
activate (GtkApplication *app, gpointer user_data)
{
  Viewer *viewer = user_data;
  g_autoptr(PgeConfig) config = NULL;
  g_autofree char *title = NULL;
  GtkWidget *box, *scrolled, *bar;

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
  /* Empty until the cursor is open; then the PgeBatchModel. */
  viewer->selection = gtk_no_selection_new (NULL);
  viewer->column_view = gtk_column_view_new (GTK_SELECTION_MODEL (g_object_ref (viewer->selection)));
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
  if (viewer->model != NULL)
    g_signal_handlers_disconnect_by_data (viewer->model, viewer);
  if (viewer->selection != NULL)
    gtk_no_selection_set_model (viewer->selection, NULL);
  g_clear_object (&viewer->model);
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

  viewer.cancellable = g_cancellable_new ();
  viewer.app = gtk_application_new ("org.pgengine.Viewer", G_APPLICATION_NON_UNIQUE);
  g_signal_connect (viewer.app, "activate", G_CALLBACK (activate), &viewer);
  g_signal_connect (viewer.app, "shutdown", G_CALLBACK (shutdown), &viewer);
  /* The options are parsed above: GApplication gets none. */
  status = g_application_run (G_APPLICATION (viewer.app), 1, argv);

  g_clear_object (&viewer.app);
  g_clear_object (&viewer.selection);
  g_clear_object (&viewer.cancellable);
  g_free (viewer.conninfo);
  g_free (viewer.table);
  g_free (viewer.screenshot);
  if (status == 0 && viewer.failed)
    status = 1;
  return status;
}
