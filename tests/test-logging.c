/* test-logging.c — query and response logging through GLib structured
 * logging; passwords and parameters never logged, whatever the spelling of
 * the literal that holds a password (each spelling checked both on
 * pge_log_redact_sql() directly and on the record a real query logs).
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
#include "redact-private.h"   /* engine/redact.c is built into this program too */

TestSuite (logging, .init = pge_test_engine_up, .fini = pge_test_engine_down);

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

/* ------------------------------------------------- secrets in the SQL */

/* A role that does not exist: ALTER ROLE fails on the server, and the
 * statement is logged all the same. */
#define NO_ROLE "pge_no_such_role"

static guint
count_records_with_sql (const char *sql)
{
  guint n = 0;

  g_mutex_lock (&records_lock);
  for (guint i = 0; i < records->len; i++)
    {
      Record *record = records->pdata[i];

      if (record->level == G_LOG_LEVEL_MESSAGE && g_strcmp0 (record->sql, sql) == 0)
        n++;
    }
  g_mutex_unlock (&records_lock);
  return n;
}

/* Asserts that pge_log_redact_sql (@sql) is @expected and holds no
 * @secret (nullable); then runs @sql with log_queries on (the server may
 * refuse it) and asserts that its record's SQL is @expected and that no
 * record, the server's error included, holds @secret. */
static void
assert_redacted_with_params (const char *sql, PgeParams *params, const char *expected,
                             const char *secret)
{
  g_autofree char *direct = pge_log_redact_sql (sql);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeResult) result = NULL;
  guint before;

  cr_assert_str_eq (direct, expected);
  if (secret != NULL)
    cr_assert_null (strstr (direct, secret), "%s", direct);
  if (records == NULL)
    collect_logs ();
  before = count_records_with_sql (expected);
  engine = new_logging_engine (TRUE, FALSE);
  result = pge_engine_query_sync (engine, sql, params, NULL);
  cr_assert_eq (count_records_with_sql (expected), before + 1, "no record of: %s", expected);
  if (secret != NULL)
    assert_never_logged (secret);
}

static void
assert_redacted (const char *sql, const char *expected, const char *secret)
{
  assert_redacted_with_params (sql, NULL, expected, secret);
}

Test (logging, password_in_single_quotes_is_masked)
{
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD 'plain_s3cret'",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********'", "plain_s3cret");
}

Test (logging, password_with_doubled_quotes_is_masked_whole)
{
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD 'd0ubled''_s3cret''s'' 3nd'",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********'", "_s3cret");
  assert_never_logged ("3nd");
}

Test (logging, password_in_escape_string_is_masked)
{
  /* E'...': \' and \\ do not end it. */
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD E'3sc\\'_s3cret\\\\' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "_s3cret");
  assert_never_logged ("3sc");
}

/* One named test per spelling the masker knows (redact.c's scanner):
 * each would leak if that prefix were not recognised as a literal. */
Test (logging, password_in_lower_case_escape_string_is_masked)
{
  /* e'...' is E'...': \' does not end it. */
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD e'l0wer\\'_esc_s3cret' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "_esc_s3cret");
  assert_never_logged ("l0wer");
}

Test (logging, password_in_national_string_is_masked)
{
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD N'nati0nal_s3cret' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "nati0nal_s3cret");
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD n'l0wer_nati0nal_s3cret' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "l0wer_nati0nal_s3cret");
}

Test (logging, password_in_bit_string_is_masked)
{
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD B'0110100101' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "0110100101");
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD b'1001011010' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "1001011010");
}

Test (logging, password_in_hex_string_is_masked)
{
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD X'deadbeef5ec' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "deadbeef5ec");
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD x'cafe5ec0de' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "cafe5ec0de");
}

Test (logging, password_in_upper_case_unicode_string_with_uescape_is_masked)
{
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD U&'upp3r_!0073ecret' UESCAPE '!' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "upp3r");
}

Test (logging, password_in_unicode_string_is_masked)
{
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD U&'un1c0de_\\0073\\+000033cret'",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********'", "un1c0de");
  /* The UESCAPE clause belongs to the literal. */
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD u&'un1esc_!0073ecret' UESCAPE '!' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "un1esc");
}

Test (logging, password_in_dollar_quotes_is_masked)
{
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD $$d0llar_'s3cret'$$ LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "d0llar");
}

Test (logging, password_in_tagged_dollar_quotes_is_masked)
{
  /* $$ and another tag inside do not end $pw$ ... $pw$. */
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD $pw$t4gged_$$_$x$_s3cret$pw$ LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "t4gged");
  assert_never_logged ("_s3cret");
}

Test (logging, password_continued_on_the_next_line_is_masked)
{
  /* 'a'<newline>'b' is one literal, 'ab'. */
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD 'c0nt'\n  'inued_s3cret' LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********' LOGIN", "inued_s3cret");
}

Test (logging, password_keyword_in_any_case_is_masked)
{
  assert_redacted ("alter role " NO_ROLE " with EnCrYpTeD pAsSwOrD 'm1xed_s3cret'",
                   "alter role " NO_ROLE " with EnCrYpTeD pAsSwOrD '********'", "m1xed_s3cret");
}

Test (logging, user_mapping_password_option_is_masked)
{
  assert_redacted ("CREATE USER MAPPING FOR " NO_ROLE " SERVER pge_no_such_server "
                   "OPTIONS (user 'u', password 'm4pping_s3cret')",
                   "CREATE USER MAPPING FOR " NO_ROLE " SERVER pge_no_such_server "
                   "OPTIONS (user 'u', password '********')", "m4pping_s3cret");
}

Test (logging, password_in_a_comment_is_not_the_keyword_but_a_later_one_is)
{
  const char *sql = "ALTER ROLE " NO_ROLE " /* password 'block_c0mment' /* nested */ */ "
                    "-- password 'line_c0mment'\n PASSWORD /* here */ 'after_c0mment_s3cret'";
  const char *expected = "ALTER ROLE " NO_ROLE " /* password 'block_c0mment' /* nested */ */ "
                         "-- password 'line_c0mment'\n PASSWORD /* here */ '********'";

  assert_redacted (sql, expected, "after_c0mment_s3cret");
}

Test (logging, password_in_a_string_is_not_the_keyword)
{
  const char *sql = "SELECT 'the password ''kept_in_string''' AS a, $$password 'kept_dollar'$$ AS b";

  assert_redacted (sql, sql, NULL);
}

Test (logging, quoted_password_identifier_is_not_the_keyword)
{
  /* "password" is an identifier (here a type name, which the server
   * refuses); the literal after it stays. */
  const char *sql = "SELECT \"password\" 'kept_after_ident', U&\"pass\"\"word\" 'kept_too'";

  assert_redacted (sql, sql, NULL);
}

Test (logging, parameter_after_password_is_not_a_dollar_quote)
{
  /* $1 is a parameter: no dollar quote starts there, nothing is masked,
   * and the $$ literal after it is not the password. */
  const char *sql = "ALTER ROLE " NO_ROLE " PASSWORD $1 VALID UNTIL $$kept_until$$";
  g_autoptr(PgeParams) params = pge_params_new ();

  pge_params_add_text (params, "param_s3cret");
  assert_redacted_with_params (sql, params, sql, "param_s3cret");
}

Test (logging, unterminated_password_is_masked_to_the_end)
{
  /* The server's error quotes the literal back ("unterminated quoted
   * string at or near ..."): the record must not. */
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD 'unterm1nated_s3cret LOGIN",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********'", "unterm1nated");
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD $$unterm1nated_d0llar",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********'", "unterm1nated_d0llar");
  assert_redacted ("ALTER ROLE " NO_ROLE " PASSWORD E'unterm1nated_esc\\'",
                   "ALTER ROLE " NO_ROLE " PASSWORD '********'", "unterm1nated_esc");
}

Test (logging, server_error_quoting_the_password_is_scrubbed)
{
  /* A role named "password" takes 'syntax_s3cret' for a syntax error,
   * which the server quotes back. */
  assert_redacted ("CREATE ROLE PASSWORD 'syntax_s3cret'", "CREATE ROLE PASSWORD '********'",
                   "syntax_s3cret");
}

Test (logging, subscription_connection_password_is_masked)
{
  g_autofree char *name = g_strdup_printf ("pge_log_sub_%d", (int) getpid ());
  g_autofree char *sql = g_strdup_printf (
    "CREATE SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=1 password=subscr1pt_s3cret dbname=none' "
    "PUBLICATION p WITH (connect = false, enabled = false, create_slot = false, slot_name = NONE)", name);
  g_autofree char *expected = g_strdup_printf (
    "CREATE SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=1 password=******** dbname=none' "
    "PUBLICATION p WITH (connect = false, enabled = false, create_slot = false, slot_name = NONE)", name);
  g_autofree char *drop = g_strdup_printf ("DROP SUBSCRIPTION IF EXISTS %s", name);

  assert_redacted (sql, expected, "subscr1pt_s3cret");
  g_free (pge_test_admin_query (drop));
}

Test (logging, connection_string_passwords_in_any_literal_are_masked)
{
  /* dblink_connect('...') and the like: a quoted value, an sslpassword,
   * and a URI's user:password@ and ?password=. */
  assert_redacted ("SELECT E'host=h password = \\'qu0ted s3cret\\' user=u' AS a, "
                   "'sslpassword=ssl_s3cret' AS b, "
                   "'postgresql://u:ur1_s3cret@h:5432/db?password=qu3ry_s3cret&sslmode=require' AS c",
                   "SELECT 'host=h password = ******** user=u' AS a, "
                   "'sslpassword=********' AS b, "
                   "'postgresql://u:********@h:5432/db?password=********&sslmode=require' AS c",
                   "s3cret");
}

Test (logging, connection_string_key_split_over_lines_is_masked)
{
  /* 'pass'<newline>'word=...' is one literal, 'password=...' (found by
   * the fuzz driver, tests/fuzz-corpus/redact-continued-key). */
  assert_redacted ("SELECT 'host=h pass'\n'word=spl1t_s3cret dbname=d' AS a",
                   "SELECT 'host=h password=******** dbname=d' AS a", "spl1t_s3cret");
}
