/* hello — the smallest real pgengine program: connect, query with a
 * parameter through a future, print the rows.
 *
 *   cc hello.c $(pkg-config --cflags --libs pgengine-1) -o hello
 *   ./hello "host=localhost dbname=postgres"
 */
#include <pgengine.h>
#include <stdio.h>

int
main (int argc, char **argv)
{
  g_autoptr(PgeConfig) config = pge_config_new (argc > 1 ? argv[1] : NULL);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  engine = pge_engine_new (config, &error);
  if (engine == NULL)
    {
      fprintf (stderr, "hello: %s\n", error->message);
      return 1;
    }
  pge_params_add_int32 (params, 3);
  future = pge_engine_query (engine, "SELECT g, 'row ' || g FROM generate_series(1, $1) g", params);
  result = pge_future_wait (future, &error);   /* run_sync: blocks until done */
  if (result == NULL)
    {
      fprintf (stderr, "hello: %s\n", error->message);
      return 1;
    }
  for (guint row = 0; row < pge_result_get_n_rows (result); row++)
    printf ("%" G_GINT64_FORMAT ": %s\n", pge_result_get_int64 (result, row, 0),
            pge_result_get_value (result, row, 1));
  return 0;
}
