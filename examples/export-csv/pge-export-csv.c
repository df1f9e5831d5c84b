/* pge-export-csv — streams a table (or a query) to a CSV file through a
 * cursor batch, fetching the next page while it writes the current one.
 * Memory stays bounded by the batch size, whatever the table's size. On a
 * terminal it shows a progress bar with rows/s and the time left.
 *
 *   pge-export-csv [--batch-size N] [--query SQL] CONNINFO [TABLE] OUTPUT
 *
 * OUTPUT "-" is stdout. The CSV follows RFC 4180: a header line with the
 * column names, fields quoted when they hold a comma, a quote, CR or LF
 * (quotes doubled), SQL NULL as an empty unquoted field, an empty string
 * as "". A summary line goes to stderr at the end.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct {
  gboolean enabled;
  gint64   total;      /* estimate, 0 = unknown */
  gint64   start;
  gint64   last_draw;
} Progress;

static void
progress_draw (Progress *p, guint64 rows, gboolean final)
{
  gint64 now = g_get_monotonic_time ();
  double seconds = MAX ((now - p->start) / 1e6, 1e-6);
  double rate = rows / seconds;
  char bar[31];
  double fraction;
  guint filled;

  if (!p->enabled || (!final && now - p->last_draw < 100000))
    return;
  p->last_draw = now;
  if (p->total <= 0)
    {
      fprintf (stderr, "\r  %" G_GUINT64_FORMAT " rows  %.0f rows/s   ", rows, rate);
    }
  else
    {
      fraction = MIN ((double) rows / p->total, 1.0);
      filled = (guint) (fraction * 30);
      memset (bar, '#', filled);
      memset (bar + filled, ' ', 30 - filled);
      bar[30] = '\0';
      fprintf (stderr, "\r  %5.1f%% [%s] %" G_GUINT64_FORMAT "/%" G_GINT64_FORMAT " rows  %.0f rows/s  ETA %.0f s   ",
               fraction * 100, bar, rows, p->total, rate,
               rate > 0 ? MAX (p->total - (gint64) rows, 0) / rate : 0.0);
    }
  if (final)
    fputc ('\n', stderr);
  fflush (stderr);
}

/* RFC 4180: quote only when needed, double the quotes. */
static void
write_field (FILE *out, const char *value, gboolean is_null)
{
  if (is_null)
    return;
  if (*value != '\0' && strpbrk (value, ",\"\r\n") == NULL)
    {
      fputs (value, out);
      return;
    }
  fputc ('"', out);
  for (const char *c = value; *c; c++)
    {
      if (*c == '"')
        fputc ('"', out);
      fputc (*c, out);
    }
  fputc ('"', out);
}

static void
write_rows (FILE *out, PgeResult *page)
{
  guint n_columns = pge_result_get_n_columns (page);

  for (guint row = 0; row < pge_result_get_n_rows (page); row++)
    {
      for (guint col = 0; col < n_columns; col++)
        {
          if (col > 0)
            fputc (',', out);
          write_field (out, pge_result_get_value (page, row, col), pge_result_is_null (page, row, col));
        }
      fputs ("\r\n", out);
    }
}

static void
write_header (FILE *out, PgeResult *shape)
{
  for (guint col = 0; col < pge_result_get_n_columns (shape); col++)
    {
      if (col > 0)
        fputc (',', out);
      write_field (out, pge_result_get_column_name (shape, col), FALSE);
    }
  fputs ("\r\n", out);
}

/* "SELECT * FROM <table>" with the name quoted by the server (an unknown
 * table fails here, with the server's message), and a row estimate from
 * the statistics, or an exact count when there are none yet. */
static char *
table_query (PgeEngine *engine, const char *table, gint64 *total, GError **error)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_text (params, table);
  result = pge_engine_query_sync (engine,
                                  "SELECT $1::regclass::text, c.reltuples::bigint FROM pg_class c "
                                  "WHERE c.oid = $1::regclass", params, error);
  if (result == NULL)
    return NULL;
  *total = pge_result_get_int64 (result, 0, 1);
  if (*total <= 0)
    {
      g_autofree char *count_sql = g_strdup_printf ("SELECT count(*) FROM %s", pge_result_get_value (result, 0, 0));
      g_autoptr(PgeResult) count = pge_engine_query_sync (engine, count_sql, NULL, error);

      if (count == NULL)
        return NULL;
      *total = pge_result_get_int64 (count, 0, 0);
    }
  return g_strdup_printf ("SELECT * FROM %s", pge_result_get_value (result, 0, 0));
}

/* The export proper: one page written while the next is fetched. */
static gboolean
export (PgeEngine *engine, const char *sql, guint batch_size, FILE *out, Progress *progress,
        guint64 *n_rows, GError **error)
{
  g_autofree char *shape_sql = g_strdup_printf ("SELECT * FROM (%s) q LIMIT 0", sql);
  g_autoptr(PgeResult) shape = pge_engine_query_sync (engine, shape_sql, NULL, error);
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeFuture) next = NULL;

  if (shape == NULL)
    return FALSE;
  write_header (out, shape);
  batch = pge_engine_batch (engine, sql, NULL, batch_size, error);
  if (batch == NULL)
    return FALSE;
  next = pge_batch_fetch (batch);
  for (;;)
    {
      g_autoptr(PgeResult) page = pge_future_wait (next, error);

      g_clear_pointer (&next, pge_future_unref);
      if (page == NULL)
        break;
      next = pge_batch_fetch (batch);   /* prefetch: the server works while we write */
      write_rows (out, page);
      *n_rows += pge_result_get_n_rows (page);
      progress_draw (progress, *n_rows, FALSE);
    }
  if (error != NULL && *error != NULL)
    return FALSE;
  progress_draw (progress, *n_rows, TRUE);
  return pge_batch_close (batch, error);
}

int
main (int argc, char **argv)
{
  gint batch_size = 1000;
  g_autofree char *query = NULL;
  GOptionEntry entries[] = {
    { "batch-size", 'b', 0, G_OPTION_ARG_INT, &batch_size, "Rows per fetch (default 1000)", "N" },
    { "query", 'q', 0, G_OPTION_ARG_STRING, &query, "Export this SELECT instead of a table", "SQL" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("CONNINFO [TABLE] OUTPUT");
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeConfig) config = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autofree char *sql = NULL;
  Progress progress = { 0 };
  const char *output;
  FILE *out;
  guint64 n_rows = 0;
  struct rusage usage;
  gboolean ok;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "pge-export-csv: %s\n", error->message);
      return 2;
    }
  if (argc != (query ? 3 : 4) || batch_size <= 0)
    {
      fprintf (stderr, "usage: pge-export-csv [--batch-size N] [--query SQL] CONNINFO [TABLE] OUTPUT\n");
      return 2;
    }
  output = argv[argc - 1];
  config = pge_config_new (argv[1]);
  pge_config_set_workers (config, 2);
  engine = pge_engine_new (config, &error);
  if (engine != NULL)
    sql = query ? g_strdup (query) : table_query (engine, argv[2], &progress.total, &error);
  if (sql == NULL)
    {
      fprintf (stderr, "pge-export-csv: %s\n", error->message);
      return 1;
    }
  out = strcmp (output, "-") == 0 ? stdout : fopen (output, "w");
  if (out == NULL)
    {
      fprintf (stderr, "pge-export-csv: %s: %s\n", output, g_strerror (errno));
      return 1;
    }
  setvbuf (out, NULL, _IOFBF, 1 << 16);
  progress.enabled = isatty (STDERR_FILENO);
  progress.start = g_get_monotonic_time ();
  ok = export (engine, sql, (guint) batch_size, out, &progress, &n_rows, &error);
  /* A full disk shows up at the latest here. */
  if ((fflush (out) != 0 || (out != stdout && fclose (out) != 0)) && ok)
    {
      g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_IO, "%s: %s", output, g_strerror (errno));
      ok = FALSE;
    }
  if (!ok)
    {
      fprintf (stderr, "pge-export-csv: %s\n", error->message);
      return 1;
    }
  getrusage (RUSAGE_SELF, &usage);
  fprintf (stderr, "pge-export-csv: %" G_GUINT64_FORMAT " rows in %.2f s (%.0f rows/s), batch size %d, max RSS %ld kB\n",
           n_rows, (g_get_monotonic_time () - progress.start) / 1e6,
           n_rows / MAX ((g_get_monotonic_time () - progress.start) / 1e6, 1e-6), batch_size, usage.ru_maxrss);
  return 0;
}
