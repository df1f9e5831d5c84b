/* test-logging.c — query and response logging through GLib structured
 * logging; passwords and parameters never logged.
 *
 * Criterion runs each test in a process of its own, so each test may
 * install its own log writer (g_log_set_writer_func() works once per
 * process).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include "fixture.h"

TestSuite (logging, .init = pge_test_engine_up, .fini = pge_test_engine_down, .timeout = 60);

/* One record of domain "pgengine", with the fields the tests look at. */
typedef struct {
  GLogLevelFlags level;
  char          *message;
  char          *sql;
  char          *worker;
  char          *duration_us;
  char          *rows;
  char          *command;
  char          *all;       /* every field value, joined, for leak checks */
} Record;

static GMutex records_lock;
static GPtrArray *records;   /* of Record*, guarded by records_lock */

static void
record_free (Record *record)
{
  g_free (record->message);
  g_free (record->sql);
  g_free (record->worker);
  g_free (record->duration_us);
  g_free (record->rows);
  g_free (record->command);
  g_free (record->all);
  g_free (record);
}

static char *
field_dup (const GLogField *field)
{
  return field->length < 0 ? g_strdup (field->value) : g_strndup (field->value, field->length);
}

static GLogWriterOutput
collect_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *domain = NULL;
  Record *record;
  GString *all = g_string_new (NULL);

  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
  if (g_strcmp0 (domain, "pgengine") != 0)
    {
      g_string_free (all, TRUE);
      return g_log_writer_default (level, fields, n_fields, user_data);
    }
  record = g_new0 (Record, 1);
  record->level = level & G_LOG_LEVEL_MASK;
  for (gsize i = 0; i < n_fields; i++)
    {
      const char *key = fields[i].key;
      char **slot = NULL;

      if (strcmp (key, "MESSAGE") == 0)
        slot = &record->message;
      else if (strcmp (key, "PGE_SQL") == 0)
        slot = &record->sql;
      else if (strcmp (key, "PGE_WORKER") == 0)
        slot = &record->worker;
      else if (strcmp (key, "PGE_DURATION_US") == 0)
        slot = &record->duration_us;
      else if (strcmp (key, "PGE_ROWS") == 0)
        slot = &record->rows;
      else if (strcmp (key, "PGE_COMMAND") == 0)
        slot = &record->command;
      if (slot != NULL)
        {
          g_free (*slot);
          *slot = field_dup (&fields[i]);
        }
      if (strcmp (key, "GLIB_DOMAIN") != 0)
        {
          g_autofree char *value = field_dup (&fields[i]);
          g_string_append_printf (all, "%s=%s\n", key, value ? value : "");
        }
    }
  record->all = g_string_free (all, FALSE);
  g_mutex_lock (&records_lock);
  g_ptr_array_add (records, record);
  g_mutex_unlock (&records_lock);
  return G_LOG_WRITER_HANDLED;
}

static void
collect_logs (void)
{
  records = g_ptr_array_new_with_free_func ((GDestroyNotify) record_free);
  g_log_set_writer_func (collect_writer, NULL, NULL);
}

/* The MESSAGE-level query records whose SQL contains @needle. */
static GPtrArray *
find_records (const char *needle)
{
  GPtrArray *found = g_ptr_array_new ();

  g_mutex_lock (&records_lock);
  for (guint i = 0; i < records->len; i++)
    {
      Record *record = records->pdata[i];

      if (record->level == G_LOG_LEVEL_MESSAGE && record->sql != NULL &&
          strstr (record->sql, needle) != NULL)
        g_ptr_array_add (found, record);
    }
  g_mutex_unlock (&records_lock);
  return found;
}

static guint
count_message_records (void)
{
  guint n = 0;

  g_mutex_lock (&records_lock);
  for (guint i = 0; i < records->len; i++)
    if (((Record *) records->pdata[i])->level == G_LOG_LEVEL_MESSAGE)
      n++;
  g_mutex_unlock (&records_lock);
  return n;
}

/* Asserts that no record of any level contains @secret anywhere. */
static void
assert_never_logged (const char *secret)
{
  g_mutex_lock (&records_lock);
  for (guint i = 0; i < records->len; i++)
    {
      Record *record = records->pdata[i];

      cr_assert_null (strstr (record->all, secret), "logged: %s", record->all);
    }
  g_mutex_unlock (&records_lock);
}

static PgeEngine *
new_logging_engine (gboolean queries, gboolean responses)
{
  g_autoptr(PgeConfig) config = pge_test_config (2);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_config_set_log_queries (config, queries);
  pge_config_set_log_responses (config, responses);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  return engine;
}

Test (logging, query_is_logged_with_sql_worker_and_duration)
{
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GPtrArray) found = NULL;
  Record *record;
  guint64 duration;

  collect_logs ();
  engine = new_logging_engine (TRUE, FALSE);
  result = pge_engine_query_sync (engine, "SELECT 'log me', pg_sleep(0.02)", NULL, NULL);
  cr_assert_not_null (result);
  found = find_records ("'log me'");
  cr_assert_eq (found->len, 1, "%u records", found->len);
  record = found->pdata[0];
  cr_assert_eq (record->level, G_LOG_LEVEL_MESSAGE);
  cr_assert_str_eq (record->sql, "SELECT 'log me', pg_sleep(0.02)");
  cr_assert_not_null (record->worker);
  cr_assert (g_str_has_prefix (record->worker, "primary/"), "worker %s", record->worker);
  cr_assert_not_null (record->duration_us);
  duration = g_ascii_strtoull (record->duration_us, NULL, 10);
  cr_assert_geq (duration, 20000, "duration %s us for a 20 ms sleep", record->duration_us);
  cr_assert_lt (duration, 10 * G_USEC_PER_SEC);
  cr_assert_not_null (record->message);
  cr_assert_not_null (strstr (record->message, "SELECT 'log me'"), "%s", record->message);
  cr_assert_not_null (strstr (record->message, record->worker), "%s", record->message);
  /* Without log_responses there is no row count. */
  cr_assert (record->rows == NULL || *record->rows == '\0', "rows: %s", record->rows);
}

Test (logging, failed_query_is_logged_with_its_error)
{
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GPtrArray) found = NULL;
  Record *record;

  collect_logs ();
  engine = new_logging_engine (TRUE, FALSE);
  result = pge_engine_query_sync (engine, "SELECT 1/0 AS failing", NULL, NULL);
  cr_assert_null (result);
  found = find_records ("failing");
  cr_assert_eq (found->len, 1);
  record = found->pdata[0];
  cr_assert_not_null (strstr (record->message, "division by zero"), "%s", record->message);
}

Test (logging, exec_script_is_logged)
{
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GPtrArray) found = NULL;

  collect_logs ();
  engine = new_logging_engine (TRUE, FALSE);
  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE logged_t (v int); INSERT INTO logged_t VALUES (1)",
                                   NULL));
  found = find_records ("logged_t");
  cr_assert_eq (found->len, 1);
}

Test (logging, responses_add_row_counts_and_command)
{
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GPtrArray) found = NULL;
  Record *record;

  collect_logs ();
  engine = new_logging_engine (FALSE, TRUE);   /* responses imply queries */
  result = pge_engine_query_sync (engine, "SELECT g AS three_rows FROM generate_series(1, 3) g", NULL, NULL);
  cr_assert_not_null (result);
  found = find_records ("three_rows");
  cr_assert_eq (found->len, 1);
  record = found->pdata[0];
  cr_assert_str_eq (record->rows, "3");
  cr_assert_str_eq (record->command, "SELECT 3");
  cr_assert_not_null (strstr (record->message, "3 rows"), "%s", record->message);
}

Test (logging, password_literal_is_masked)
{
  g_autofree char *role = g_strdup_printf ("pge_log_role_%d", (int) getpid ());
  g_autofree char *create = g_strdup_printf ("CREATE ROLE %s", role);
  g_autofree char *drop = g_strdup_printf ("DROP ROLE IF EXISTS %s", role);
  g_autofree char *alter = g_strdup_printf ("ALTER ROLE %s PASSWORD 'sup3r_s3cret'", role);
  g_autofree char *alter_e = g_strdup_printf ("ALTER ROLE %s WITH password E'an0ther''s3cret'", role);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) result_e = NULL;
  g_autoptr(GPtrArray) found = NULL;

  collect_logs ();
  g_free (pge_test_admin_query (create));
  engine = new_logging_engine (TRUE, TRUE);
  result = pge_engine_query_sync (engine, alter, NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  result_e = pge_engine_query_sync (engine, alter_e, NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  g_free (pge_test_admin_query (drop));

  found = find_records (role);
  cr_assert_eq (found->len, 2);
  for (guint i = 0; i < found->len; i++)
    cr_assert_not_null (strstr (((Record *) found->pdata[i])->sql, "'********'"), "%s",
                        ((Record *) found->pdata[i])->sql);
  assert_never_logged ("sup3r_s3cret");
  assert_never_logged ("s3cret");
  assert_never_logged ("an0ther");
}

Test (logging, parameters_are_never_logged)
{
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GPtrArray) found = NULL;

  collect_logs ();
  engine = new_logging_engine (TRUE, TRUE);
  pge_params_add_text (params, "t0p_s3cret_param");
  pge_params_add_int64 (params, 987654321987);
  result = pge_engine_query_sync (engine, "SELECT $1::text AS with_params, $2", params, NULL);
  cr_assert_not_null (result);
  found = find_records ("with_params");
  cr_assert_eq (found->len, 1);
  assert_never_logged ("t0p_s3cret_param");
  assert_never_logged ("987654321987");
}

Test (logging, nothing_is_logged_when_disabled)
{
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) failed = NULL;

  collect_logs ();
  engine = new_logging_engine (FALSE, FALSE);
  result = pge_engine_query_sync (engine, "SELECT 'quiet'", NULL, NULL);
  failed = pge_engine_query_sync (engine, "SELECT 1/0", NULL, NULL);
  cr_assert (pge_engine_exec_sync (engine, "SELECT 1; SELECT 2", NULL));
  cr_assert_not_null (result);
  cr_assert_eq (count_message_records (), 0);
}

Test (logging, logging_engine_does_not_log_for_another_engine)
{
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeResult) logged = NULL;
  g_autoptr(PgeResult) quiet = NULL;
  g_autoptr(GPtrArray) found_logged = NULL;
  g_autoptr(GPtrArray) found_quiet = NULL;

  collect_logs ();
  engine = new_logging_engine (TRUE, FALSE);
  logged = pge_engine_query_sync (engine, "SELECT 'from_logging_engine'", NULL, NULL);
  quiet = pge_engine_query_sync (test_engine, "SELECT 'from_quiet_engine'", NULL, NULL);
  found_logged = find_records ("from_logging_engine");
  found_quiet = find_records ("from_quiet_engine");
  cr_assert_eq (found_logged->len, 1);
  cr_assert_eq (found_quiet->len, 0);
}
