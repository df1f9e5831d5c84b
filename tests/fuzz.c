/* fuzz.c — a fuzz driver over what pgengine does with untrusted bytes
 * without a server: PgeParams and its GVariant constructor, savepoint name
 * validation, the SQL masker of the query log (and the log record built
 * around it), errors, and the PgeResult accessors over PGresults made
 * without a connection.
 *
 * LLVMFuzzerTestOneInput() takes the first byte of an input to pick a
 * target and gives it the rest. Each target also checks what must hold (a
 * planted secret never survives the masker, an accessor out of range
 * gives NULL or 0 ...) and abort()s when it does not, so that the fuzzer
 * sees a crash. A critical or warning logged where none may be is one too.
 *
 * Two builds (Makefile.am): tests/pge-fuzz, where main() below runs COUNT
 * random inputs from SEED (default 200000 and 1) or replays the files and
 * directories it is given (a corpus, a crash reproducer), and saves an
 * input that crashes as crash-SEED-INDEX.bin; and, with `make fuzz`,
 * tests/pge-fuzz-libfuzzer, where libFuzzer drives the same function.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors-private.h"
#include "identifier-private.h"
#include "logging-private.h"
#include "params-private.h"
#include "redact-private.h"
#include "result-private.h"
#include "transaction-private.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define fuzz_check(condition)                                                   \
  do {                                                                          \
    if (!(condition))                                                           \
      fuzz_fail (#condition, __FILE__, __LINE__);                               \
  } while (0)

G_NORETURN static void
fuzz_fail (const char *what, const char *file, int line)
{
  fprintf (stderr, "fuzz: check failed at %s:%d: %s\n", file, line, what);
  abort ();
}

/* ------------------------------------------------------------ the log */

static gboolean criticals_allowed;   /* around calls that may g_return_if_fail */
static GString *log_capture;         /* MESSAGE records of the current input */

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      if (criticals_allowed && !(level & G_LOG_LEVEL_ERROR))
        return G_LOG_WRITER_HANDLED;
      g_log_writer_default (level, fields, n_fields, user_data);
      fuzz_fail ("no critical or warning", __FILE__, __LINE__);
    }
  if (level & G_LOG_LEVEL_MESSAGE)
    for (gsize i = 0; i < n_fields; i++)
      {
        if (fields[i].length < 0)
          g_string_append (log_capture, fields[i].value);
        else
          g_string_append_len (log_capture, fields[i].value, fields[i].length);
        g_string_append_c (log_capture, '\n');
      }
  return G_LOG_WRITER_HANDLED;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  log_capture = g_string_new (NULL);
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
  return 0;
}

/* --------------------------------------------------------- the input */

typedef struct {
  const guint8 *data;
  gsize         size;
} Input;

static guint8
take_byte (Input *in)
{
  if (in->size == 0)
    return 0;
  in->size--;
  return *in->data++;
}

static guint32
take_u32 (Input *in)
{
  guint32 value = 0;

  for (guint i = 0; i < 4; i++)
    value = value << 8 | take_byte (in);
  return value;
}

static guint64
take_u64 (Input *in)
{
  return (guint64) take_u32 (in) << 32 | take_u32 (in);
}

/* Up to @max bytes (a length byte, then the bytes); *@length gets how many. */
static const guint8 *
take_bytes (Input *in, gsize max, gsize *length)
{
  gsize wanted = take_byte (in) % (max + 1);
  const guint8 *bytes;

  *length = MIN (wanted, in->size);
  bytes = in->data;
  in->data += *length;
  in->size -= *length;
  return bytes;
}

/* A string of up to @max bytes (cut at a NUL), or NULL now and then. */
static char *
take_string (Input *in, gsize max, gboolean nullable)
{
  const guint8 *bytes;
  gsize length;

  if (nullable && take_byte (in) % 16 == 0)
    return NULL;
  bytes = take_bytes (in, max, &length);
  return g_strndup ((const char *) bytes, length);
}

/* A row or column index: mostly near @n, at times anything at all. */
static guint
take_index (Input *in, guint n)
{
  guint8 b = take_byte (in);

  if (b < 200)
    return b % (n + 2);
  if (b < 220)
    return G_MAXUINT - b % 4;
  return take_u32 (in);
}

static gboolean
contains_ci (const char *haystack, const char *needle)
{
  gsize n = strlen (needle);

  for (const char *p = haystack; *p != '\0'; p++)
    if (g_ascii_strncasecmp (p, needle, n) == 0)
      return TRUE;
  return FALSE;
}

static guint
count_occurrences (const char *haystack, const char *needle)
{
  guint count = 0;

  for (const char *p = strstr (haystack, needle); p != NULL; p = strstr (p + 1, needle))
    count++;
  return count;
}

/* -------------------------------------------------- the SQL masker, raw */

/* Any bytes: never a crash. Without "password" or "postgres" in them, nor
 * an escape that could spell them (a backslash, U&), nor a newline (a
 * literal continued on the next line may join "pass" and "word"), nothing
 * changes. */
static void
fuzz_redact_raw (Input *in)
{
  g_autofree char *sql = g_strndup ((const char *) in->data, in->size);
  g_autoptr(GPtrArray) secrets = NULL;
  g_autofree char *out = pge_log_redact_sql_full (sql, &secrets);
  g_autofree char *again = pge_log_redact_sql (out);

  fuzz_check (out != NULL && again != NULL && secrets != NULL);
  if (!contains_ci (sql, "password") && !contains_ci (sql, "postgres") &&
      strpbrk (sql, "\\\n\r") == NULL && !contains_ci (sql, "u&"))
    fuzz_check (strcmp (out, sql) == 0 && secrets->len == 0);
  for (guint i = 0; i < secrets->len; i++)
    {
      fuzz_check (*(const char *) secrets->pdata[i] != '\0');
      if (i > 0)
        fuzz_check (strlen (secrets->pdata[i - 1]) >= strlen (secrets->pdata[i]));
    }
  fuzz_check (pge_log_redact_sql (NULL) == NULL);
}

/* ------------------------------------- the SQL masker, planted secrets */

/* Secrets carry SECRET, which must never come out; KEEP marks text that
 * only looks like a secret (inside a comment, a string, after a quoted
 * identifier ...), which must come out unchanged. Random content never
 * holds 'Z' or 'K', so neither marker appears by chance. */
#define SECRET "Zq9"
#define KEEP   "Kx7"

static const char content_bytes[] = "'\"$\\-/*\n\t &=:@?;()PASWORDpasword_EUNBX01";

static const char *const fillers[] = {
  "SELECT", "x", "E", "e", "U", "N", "B", "X", "UESCAPE", "CONNECTION", "passwords", "xpassword",
  "ENCRYPTED", "12", "1e5", "$1", "$12", "(", ")", ",", "=", "&", "::", "U&", "*", "/", "-",
};

static const char *const keeps[] = {
  "/* PASSWORD '" KEEP "' */",
  "/* a /* PASSWORD */ PASSWORD '" KEEP "' */",
  "-- PASSWORD '" KEEP "'\n",
  "'PASSWORD ''" KEEP "'''",
  "E'PASSWORD \\'" KEEP "\\''",
  "\"PASSWORD\" '" KEEP "'",
  "\"pass\"\"word\" '" KEEP "'",
  "U&\"password\" '" KEEP "'",
  "$k$ PASSWORD '" KEEP "' $k$",
  "$$PASSWORD '" KEEP "'$$",
  "PASSWORD $1 '" KEEP "'",
  "PASSWORD ( '" KEEP "'",
  "PASSWORD$x '" KEEP "'",
  "xpassword '" KEEP "'",
  "password_x '" KEEP "'",
  "'password' '" KEEP "'",
  "'host=h passwordx=" KEEP "'",
  "'postgresql://u@h/" KEEP "'",
};

static const char *const continuations[] = { "\n", " \n  ", " -- c\n", "\r\n\t", "\n-- c\n" };
static const char *const separators[] = { " ; ", ";\n", " ;/* c */ ", "; -- c\n" };

/* Up to @max bytes of random content from content_bytes, without the
 * bytes of @without. */
static void
append_content (Input *in, GString *s, guint max, const char *without)
{
  guint n = take_byte (in) % (max + 1);

  for (guint i = 0; i < n && in->size > 0; i++)
    {
      char c = content_bytes[take_byte (in) % (sizeof content_bytes - 1)];

      if (strchr (without, c) == NULL)
        g_string_append_c (s, c);
    }
}

typedef enum {
  FORM_PLAIN, FORM_NATIONAL, FORM_ESCAPE, FORM_UNICODE, FORM_UNICODE_UESCAPE,
  FORM_DOLLAR, FORM_TAGGED, FORM_CONTINUED, FORM_BIT, N_FORMS
} Form;

/* @value spelt as a literal of @form. @value holds no '$' for the dollar
 * forms; @unterminated leaves the literal open (the end of the text). */
static void
append_literal (Input *in, GString *sql, Form form, const char *value, gboolean unterminated)
{
  gsize split = strlen (value) ? take_byte (in) % (strlen (value) + 1) : 0;
  const char *tag = form == FORM_TAGGED ? "$t_1$" : "$$";
  gboolean double_quotes = take_byte (in) % 2;

  switch (form)
    {
    case FORM_DOLLAR:
    case FORM_TAGGED:
      g_string_append (sql, tag);
      g_string_append (sql, value);
      if (!unterminated)
        g_string_append (sql, tag);
      return;
    case FORM_NATIONAL: g_string_append_c (sql, 'N'); break;
    case FORM_ESCAPE: g_string_append_c (sql, 'e'); break;
    case FORM_UNICODE:
    case FORM_UNICODE_UESCAPE: g_string_append (sql, "u&"); break;
    case FORM_BIT: g_string_append_c (sql, 'X'); break;
    default: break;
    }
  g_string_append_c (sql, '\'');
  for (gsize i = 0; value[i] != '\0'; i++)
    {
      char c = value[i];
      guint8 how = take_byte (in);

      if (form == FORM_CONTINUED && i == split)
        g_string_append_printf (sql, "'%s'", continuations[how % G_N_ELEMENTS (continuations)]);
      if (c == '\'')
        g_string_append (sql, form == FORM_ESCAPE && double_quotes ? "\\'" : "''");
      else if (c == '\\' && (form == FORM_ESCAPE || form == FORM_UNICODE))
        g_string_append (sql, "\\\\");
      else if (form == FORM_ESCAPE && g_ascii_isalpha (c) && how % 8 == 0)
        g_string_append_printf (sql, how % 16 ? "\\x%02x" : "\\%03o", (guint) c);
      else if (form == FORM_UNICODE && g_ascii_isalpha (c) && how % 8 == 0)
        g_string_append_printf (sql, how % 16 ? "\\%04X" : "\\+%06x", (guint) c);
      else if (form == FORM_UNICODE_UESCAPE && g_ascii_isalpha (c) && how % 8 == 0)
        g_string_append_printf (sql, "!%04x", (guint) c);
      else
        g_string_append_c (sql, c);
    }
  if (unterminated)
    return;
  g_string_append_c (sql, '\'');
  if (form == FORM_UNICODE_UESCAPE)
    g_string_append (sql, " UESCAPE '!'");
}

/* A password for PASSWORD '...': SECRET amid random content. Plain
 * literals get no backslash: the masker reads '...\' both ways (with and
 * without standard_conforming_strings), which would mask further. */
static char *
make_password (Input *in, Form form)
{
  GString *s = g_string_new (NULL);
  gboolean dollar = form == FORM_DOLLAR || form == FORM_TAGGED;
  gboolean plain = form == FORM_PLAIN || form == FORM_NATIONAL || form == FORM_CONTINUED;
  const char *without = dollar ? "$" : plain ? "\\" : "";

  append_content (in, s, 8, without);
  g_string_append (s, SECRET);
  append_content (in, s, 8, without);
  return g_string_free (s, FALSE);
}

/* A connection string with SECRET in its password. */
static char *
make_connection_string (Input *in)
{
  static const char *const keys[] = { "password", "PassWord", "sslpassword" };
  const char *key = keys[take_byte (in) % G_N_ELEMENTS (keys)];

  switch (take_byte (in) % 4)
    {
    case 0:
      return g_strdup_printf ("host=h %s=" SECRET "ab dbname=d", key);
    case 1:
      return g_strdup_printf ("%s = '" SECRET " a\\'b\\\\' host=h", key);
    case 2:
      return g_strdup_printf ("postgresql://u:" SECRET "@h:5432/db?%s=" SECRET "cd&sslmode=x", key);
    default:
      return g_strdup_printf ("dbname=d\t%s=" SECRET, key);
    }
}

static void
append_filler (Input *in, GString *sql)
{
  guint n = take_byte (in) % 4;

  for (guint i = 0; i < n && in->size > 0; i++)
    {
      guint8 kind = take_byte (in) % 6;
      g_autoptr(GString) content = g_string_new (NULL);

      g_string_append_c (sql, ' ');
      if (kind == 0)
        {
          /* A literal, never after PASSWORD (the filler has none). One
           * starting with a bare quote may continue the literal before it
           * (after a newline), even an E'' one: it holds no backslash, or
           * the backslash would become an escape there. */
          Form form = take_byte (in) % N_FORMS;
          gboolean dollar = form == FORM_DOLLAR || form == FORM_TAGGED;
          gboolean bare = form == FORM_PLAIN || form == FORM_CONTINUED;

          append_content (in, content, 12, dollar ? "$" : bare ? "\\" : "");
          append_literal (in, sql, form, content->str, FALSE);
        }
      else if (kind == 1)
        {
          append_content (in, content, 12, "\"");
          g_string_append_printf (sql, "\"%s\"", content->str);
        }
      else if (kind == 2)
        {
          append_content (in, content, 12, "\n\r");
          g_string_append_printf (sql, "--%s\n", content->str);
        }
      else if (kind == 3)
        {
          append_content (in, content, 12, "*/");
          g_string_append_printf (sql, "/*%s*/", content->str);
        }
      else
        g_string_append (sql, fillers[take_byte (in) % G_N_ELEMENTS (fillers)]);
    }
  g_string_append_c (sql, ' ');
}

/* Statements of fillers, secrets and look-alikes: no SECRET may come out,
 * every KEEP must; nor may a SECRET come out of the log record when the
 * server's error message quotes the whole statement back. */
static void
fuzz_redact_planted (Input *in)
{
  g_autoptr(GString) sql = g_string_new (NULL);
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  guint n_keeps = 0;
  guint n = take_byte (in) % 8 + 1;

  for (guint i = 0; i < n && in->size > 0; i++)
    {
      guint8 kind = take_byte (in) % 4;
      Form form = take_byte (in) % N_FORMS;
      gboolean last = i + 1 == n || in->size < 8;

      g_string_append (sql, separators[take_byte (in) % G_N_ELEMENTS (separators)]);
      append_filler (in, sql);
      if (kind == 0)
        {
          /* after a ',': a filler literal just before would continue into it */
          g_string_append (sql, ", ");
          g_string_append (sql, keeps[take_byte (in) % G_N_ELEMENTS (keeps)]);
          n_keeps++;
        }
      else if (kind == 1 || kind == 2)
        {
          static const char *const keywords[] = { "PASSWORD", "password", "PassWord",
                                                  "ENCRYPTED PASSWORD", "OPTIONS (password" };
          static const char *const gaps[] = { " ", "\n", "/* c */", "-- c\n", " /* a /* b */ */ " };
          g_autofree char *password = make_password (in, form);
          gboolean unterminated = last && form != FORM_CONTINUED && take_byte (in) % 4 == 0;

          g_string_append (sql, keywords[take_byte (in) % G_N_ELEMENTS (keywords)]);
          g_string_append (sql, gaps[take_byte (in) % G_N_ELEMENTS (gaps)]);
          append_literal (in, sql, form, password, unterminated);
          if (unterminated)
            break;
        }
      else
        {
          g_autofree char *conninfo = make_connection_string (in);

          if (form == FORM_BIT)
            form = FORM_PLAIN;   /* B'' and X'' hold bits, never a connection string */
          g_string_append (sql, take_byte (in) % 2 ? "CONNECTION " : "dblink_connect(");
          append_literal (in, sql, form, conninfo, FALSE);
        }
      /* a ',' again, or a filler literal would continue the element's */
      g_string_append (sql, " ,");
      append_filler (in, sql);
    }

  out = pge_log_redact_sql (sql->str);
  if (strstr (out, SECRET) != NULL || count_occurrences (out, KEEP) != n_keeps)
    {
      fprintf (stderr, "fuzz: in:  %s\nfuzz: out: %s\n", sql->str, out);
      fuzz_fail ("no SECRET out, every KEEP out", __FILE__, __LINE__);
    }

  g_string_truncate (log_capture, 0);
  error = g_error_new (PGE_ERROR, PGE_ERROR_QUERY, "syntax error at or near \"%s\"", sql->str);
  pge_log_query ("fuzz", sql->str, 1234, NULL, error, FALSE);
  if (strstr (log_capture->str, SECRET) != NULL)
    {
      fprintf (stderr, "fuzz: in:  %s\nfuzz: log: %s\n", sql->str, log_capture->str);
      fuzz_fail ("no SECRET in the log record", __FILE__, __LINE__);
    }
}

/* ---------------------------------------------------------- PgeParams */

typedef struct {
  Oid       type;
  char     *value;    /* NULL for SQL NULL; for a double, its 8 bytes */
  gsize     length;   /* bytea */
  int       format;
  gboolean  is_double;
} Expected;

static void
expected_clear (gpointer data)
{
  g_free (((Expected *) data)->value);
}

static GArray *
expected_new (void)
{
  GArray *expected = g_array_new (FALSE, TRUE, sizeof (Expected));

  g_array_set_clear_func (expected, expected_clear);
  return expected;
}

static void
expect (GArray *expected, Oid type, char *value, gsize length, int format)
{
  Expected e = { type, value, length, format, FALSE };

  g_array_append_val (expected, e);
}

/* A float8, whose text must stand for @d exactly. */
static void
expect_double (GArray *expected, double d)
{
  Expected e = { 701, g_memdup2 (&d, sizeof d), 0, 0, TRUE };

  g_array_append_val (expected, e);
}

/* The text of a float8 parameter stands for @d, exactly. */
static gboolean
double_text_matches (const char *text, double d)
{
  double back;

  if (isnan (d))
    return strcmp (text, "NaN") == 0;
  if (isinf (d))
    return strcmp (text, d > 0 ? "Infinity" : "-Infinity") == 0;
  back = g_ascii_strtod (text, NULL);
  return memcmp (&back, &d, sizeof d) == 0;
}

/* A frozen copy of @params holds what @expected says, in order. */
static void
check_params (PgeParams *params, GArray *expected)
{
  g_autoptr(PgeParams) copy = NULL;
  PgeParamsView view;

  fuzz_check (pge_params_get_length (params) == expected->len);
  copy = pge_params_copy (params);
  pge_params_view (copy, &view);
  fuzz_check (view.n == (int) expected->len);
  for (guint i = 0; i < expected->len; i++)
    {
      const Expected *e = &g_array_index (expected, Expected, i);
      const char *value = view.values[i];

      fuzz_check (view.types[i] == e->type);
      fuzz_check (view.formats[i] == e->format);
      if (e->value == NULL)
        {
          fuzz_check (value == NULL);
          continue;
        }
      fuzz_check (value != NULL);
      if (e->format == 1)
        fuzz_check (view.lengths[i] == (int) e->length && memcmp (value, e->value, e->length) == 0);
      else if (e->is_double)
        {
          double d;

          memcpy (&d, e->value, sizeof d);
          if (!double_text_matches (value, d))
            fprintf (stderr, "fuzz: float8 %a (%.17g) sent as \"%s\"\n", d, d, value);
          fuzz_check (double_text_matches (value, d));
        }
      else
        fuzz_check (strcmp (value, e->value) == 0);
    }
  pge_params_view (NULL, &view);
  fuzz_check (view.n == 0 && view.values == NULL);
}

static void
fuzz_params (Input *in)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GArray) expected = expected_new ();
  guint n = take_byte (in) % 48;

  for (guint i = 0; i < n && in->size > 0; i++)
    {
      switch (take_byte (in) % 9)
        {
        case 0:
          pge_params_add_null (params);
          expect (expected, 0, NULL, 0, 0);
          break;
        case 1:
          {
            char *text = take_string (in, 24, TRUE);

            pge_params_add_text (params, text);
            expect (expected, 0, text, 0, 0);
            break;
          }
        case 2:
          {
            gint32 v = (gint32) take_u32 (in);

            pge_params_add_int32 (params, v);
            expect (expected, 23, g_strdup_printf ("%" G_GINT32_FORMAT, v), 0, 0);
            break;
          }
        case 3:
          {
            gint64 v = (gint64) take_u64 (in);

            pge_params_add_int64 (params, v);
            expect (expected, 20, g_strdup_printf ("%" G_GINT64_FORMAT, v), 0, 0);
            break;
          }
        case 4:
          {
            guint64 bits = take_u64 (in);
            double d;

            memcpy (&d, &bits, sizeof d);
            pge_params_add_double (params, d);
            expect_double (expected, d);
            break;
          }
        case 5:
          {
            gboolean v = (gboolean) take_u32 (in);

            pge_params_add_boolean (params, v);
            expect (expected, 16, g_strdup (v ? "t" : "f"), 0, 0);
            break;
          }
        case 6:
          {
            gsize length;
            const guint8 *bytes = take_bytes (in, 40, &length);
            gboolean null_data = length == 0 && take_byte (in) % 2;

            pge_params_add_bytea (params, null_data ? NULL : bytes, length);
            expect (expected, 17, length ? g_memdup2 (bytes, length) : g_strdup (""), length, 1);
            break;
          }
        case 7:
          {
            Oid type = take_u32 (in);
            char *text = take_string (in, 24, TRUE);

            pge_params_add_typed (params, type, text);
            expect (expected, type, text, 0, 0);
            break;
          }
        default:
          /* Programmer errors: a critical, and nothing added. */
          criticals_allowed = TRUE;
          pge_params_add_bytea (params, NULL, take_byte (in) % 8 + 1);
          pge_params_add_text (NULL, "x");
          pge_params_add_int64 (NULL, 1);
          fuzz_check (pge_params_get_length (NULL) == 0);
          criticals_allowed = FALSE;
          break;
        }
    }
  check_params (params, expected);
  pge_params_unref (pge_params_ref (params));
}

/* ----------------------------------------------- GVariant to PgeParams */

/* What pge_params_new_from_variant() makes of one child; FALSE for a type
 * it must refuse. */
static gboolean
expect_variant (GArray *expected, GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);

  if (g_variant_type_is_maybe (type) || g_variant_type_equal (type, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_type_is_maybe (type) ? g_variant_get_maybe (value)
                                                                 : g_variant_get_variant (value);

      if (inner == NULL)
        {
          expect (expected, 0, NULL, 0, 0);
          return TRUE;
        }
      return expect_variant (expected, inner);
    }
  if (g_variant_type_equal (type, G_VARIANT_TYPE_BOOLEAN))
    expect (expected, 16, g_strdup (g_variant_get_boolean (value) ? "t" : "f"), 0, 0);
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_INT16))
    expect (expected, 21, g_strdup_printf ("%d", g_variant_get_int16 (value)), 0, 0);
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_INT32))
    expect (expected, 23, g_strdup_printf ("%d", g_variant_get_int32 (value)), 0, 0);
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_INT64))
    expect (expected, 20, g_strdup_printf ("%" G_GINT64_FORMAT, g_variant_get_int64 (value)), 0, 0);
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_DOUBLE))
    expect_double (expected, g_variant_get_double (value));
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_STRING))
    expect (expected, 25, g_variant_dup_string (value, NULL), 0, 0);
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_BYTESTRING))
    {
      gsize length = 0;
      const guint8 *data = g_variant_get_fixed_array (value, &length, 1);

      expect (expected, 17, length ? g_memdup2 (data, length) : g_strdup (""), length, 1);
    }
  else
    return FALSE;
  return TRUE;
}

/* Converts @value (nullable, any type; takes a floating or a full
 * reference) and checks the outcome against expect_variant(). */
static void
check_from_variant (GVariant *value)
{
  g_autoptr(GVariant) owned = value ? g_variant_take_ref (value) : NULL;
  g_autoptr(GArray) expected = expected_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = NULL;
  gboolean supported = owned != NULL && g_variant_is_of_type (owned, G_VARIANT_TYPE_TUPLE);

  for (gsize i = 0; supported && i < g_variant_n_children (owned); i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (owned, i);

      supported = expect_variant (expected, child);
    }
  params = pge_params_new_from_variant (owned, &error);
  if (!supported)
    {
      fuzz_check (params == NULL);
      fuzz_check (g_error_matches (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT));
      return;
    }
  fuzz_check (params != NULL && error == NULL);
  check_params (params, expected);
}

/* A type string from the input, then the serialized data, untrusted. */
static void
fuzz_variant_data (Input *in)
{
  static const char *const types[] = {
    "(s)", "(bnixds)", "(ay)", "(v)", "(ms)", "(mmx)", "(av)", "(sv)", "(a{sv})", "(mv)",
    "()", "s", "(vvv)", "(mayd)", "(h)", "((s))",
  };
  g_autofree char *type_string = take_string (in, 16, FALSE);
  g_autoptr(GBytes) bytes = NULL;

  if (!g_variant_type_string_is_valid (type_string) ||
      !g_variant_type_is_definite ((const GVariantType *) type_string))
    {
      g_free (type_string);
      type_string = g_strdup (types[take_byte (in) % G_N_ELEMENTS (types)]);
    }
  bytes = g_bytes_new (in->data, in->size);
  check_from_variant (g_variant_new_from_bytes ((const GVariantType *) type_string, bytes, FALSE));
}

/* GVariant text format, parsed; a non-tuple is at times wrapped in one. */
static void
fuzz_variant_text (Input *in)
{
  gboolean wrap = take_byte (in) % 2;
  g_autofree char *raw = g_strndup ((const char *) in->data, MIN (in->size, 256));
  /* GLib's parser itself logs a critical for text that is not UTF-8. */
  g_autofree char *text = g_utf8_make_valid (raw, -1);
  GVariant *value = g_variant_parse (NULL, text, NULL, NULL, NULL);

  if (value != NULL && wrap && !g_variant_is_of_type (value, G_VARIANT_TYPE_TUPLE))
    {
      GVariant *child = value;

      value = g_variant_new_tuple (&child, 1);
      g_variant_unref (child);
    }
  check_from_variant (value);
}

/* ----------------------------------------------------- savepoint names */

static void
fuzz_identifier (Input *in)
{
  g_autofree char *name = take_string (in, 80, TRUE);
  g_autoptr(GError) error = NULL;
  gboolean valid = name != NULL && *name != '\0' && strlen (name) <= 63;

  for (const char *p = name; valid && *p != '\0'; p++)
    valid = g_ascii_isalnum (*p) || *p == '_';
  fuzz_check (pge_identifier_is_valid (name) == valid);
  fuzz_check (pge_savepoint_name_check (name, &error) == valid);
  fuzz_check (valid ? error == NULL : g_error_matches (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT));
}

/* -------------------------------------------------------------- errors */

static void
fuzz_errors (Input *in)
{
  static const gint codes[] = {
    PGE_ERROR_FAILED, PGE_ERROR_CONNECTION, PGE_ERROR_QUERY, PGE_ERROR_CANCELLED, PGE_ERROR_TIMEOUT,
    PGE_ERROR_CLOSED, PGE_ERROR_QUEUE_FULL, PGE_ERROR_INVALID_ARGUMENT,
    PGE_ERROR_TRANSACTION_STATE, PGE_ERROR_NESTED,
  };
  g_autofree char *message = take_string (in, 48, TRUE);
  g_autofree char *secret = take_string (in, 8, TRUE);
  g_autofree char *sqlstate = take_string (in, 6, TRUE);
  g_autofree char *scrubbed = pge_error_scrub (message, secret);
  gint code = pge_error_code_for_sqlstate (sqlstate, take_byte (in) % 2);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) copy = NULL;
  g_autoptr(GError) from_conn = NULL;
  g_autoptr(GError) from_result = NULL;
  PGresult *res;
  gboolean known = FALSE;

  fuzz_check (scrubbed != NULL);
  /* The mask is made of '*': only a secret without one must be gone. */
  if (message != NULL && secret != NULL && *secret != '\0' && strchr (secret, '*') == NULL)
    fuzz_check (strstr (scrubbed, secret) == NULL);
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    known = known || codes[i] == code;
  fuzz_check (known);

  error = pge_error_new_sqlstate (code, sqlstate, "%s", message ? message : "");
  if (sqlstate != NULL && strlen (sqlstate) == 5)
    fuzz_check (g_strcmp0 (pge_error_get_sqlstate (error), sqlstate) == 0);
  else  /* none given: only a message ending in " [SQLSTATE XXXXX]" has one */
    fuzz_check (pge_error_get_sqlstate (error) == NULL ||
                (strlen (pge_error_get_sqlstate (error)) == 5 && g_str_has_suffix (error->message, "]")));
  {
    /* What a binding rebuilds from domain, code and message. */
    g_autoptr(GError) rebuilt = g_error_new_literal (error->domain, error->code, error->message);
    const char *kept = pge_error_get_sqlstate (rebuilt);

    /* A server-shaped SQLSTATE survives that. */
    if (sqlstate != NULL && strlen (sqlstate) == 5 &&
        strspn (sqlstate, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5)
      fuzz_check (g_strcmp0 (kept, sqlstate) == 0);
  }
  copy = g_error_copy (error);
  fuzz_check (g_strcmp0 (pge_error_get_sqlstate (copy), pge_error_get_sqlstate (error)) == 0);
  fuzz_check (pge_error_is_retryable (error) ==
              (g_strcmp0 (pge_error_get_sqlstate (error), "40001") == 0 ||
               g_strcmp0 (pge_error_get_sqlstate (error), "40P01") == 0));

  from_conn = pge_error_new_from_conn (NULL, code, message ? message : "what");
  fuzz_check (from_conn != NULL && from_conn->domain == PGE_ERROR);
  res = PQmakeEmptyPGresult (NULL, (ExecStatusType) (take_byte (in) % 12));
  from_result = pge_error_new_from_result (res, take_byte (in) % 2);
  fuzz_check (from_result != NULL && from_result->domain == PGE_ERROR && *from_result->message);
  PQclear (res);
}

/* ----------------------------------------------------------- PgeResult */

#define MAX_COLUMNS 8
#define MAX_ROWS    24

typedef struct {
  char    *value;     /* NULL for SQL NULL */
} Cell;

static void
check_cell (PgeResult *result, guint row, guint column, guint n_rows, guint n_columns,
            Cell cells[MAX_ROWS][MAX_COLUMNS])
{
  gboolean in_range = row < n_rows && column < n_columns;
  const char *expected = in_range ? cells[row][column].value : NULL;
  const char *value;
  gint64 as_int64;

  criticals_allowed = !in_range;
  value = pge_result_get_value (result, row, column);
  fuzz_check (g_strcmp0 (value, expected) == 0);
  fuzz_check (pge_result_is_null (result, row, column) == (expected == NULL));
  if (expected == NULL || !g_ascii_string_to_signed (expected, 10, G_MININT64, G_MAXINT64, &as_int64, NULL))
    as_int64 = 0;
  fuzz_check (pge_result_get_int64 (result, row, column) == as_int64);
  if (expected == NULL)
    fuzz_check (pge_result_get_double (result, row, column) == 0.0);
  else
    (void) pge_result_get_double (result, row, column);
  fuzz_check (pge_result_get_boolean (result, row, column) == (g_strcmp0 (expected, "t") == 0));
  criticals_allowed = FALSE;
}

/* A PGresult made without a server: fuzz-chosen status, columns (names,
 * types, formats) and cells, then every accessor with indexes in range,
 * just out of it, and anywhere. The command tag cannot be set without a
 * connection: it stays "" and the rows affected 0. */
static void
fuzz_result (Input *in)
{
  Cell cells[MAX_ROWS][MAX_COLUMNS] = { { { NULL } } };
  PGresAttDesc attributes[MAX_COLUMNS];
  char *names[MAX_COLUMNS] = { NULL };
  g_autoptr(PgeResult) result = NULL;
  PGresult *res = NULL;
  guint n_columns = 0;
  guint n_rows = 0;
  guint n;

  if (take_byte (in) % 16 != 0)
    {
      res = PQmakeEmptyPGresult (NULL, (ExecStatusType) (take_byte (in) % 12));
      fuzz_check (res != NULL);
      n = take_byte (in) % (MAX_COLUMNS + 1);
      for (guint c = 0; c < n; c++)
        {
          names[c] = take_string (in, 12, FALSE);
          attributes[c] = (PGresAttDesc) {
            .name = names[c],
            .tableid = take_u32 (in),
            .columnid = take_byte (in),
            .format = take_byte (in) % 2,
            .typid = take_u32 (in),
            .typlen = (int) (gint8) take_byte (in),
            .atttypmod = -1,
          };
        }
      if (PQsetResultAttrs (res, (int) n, n ? attributes : NULL))
        n_columns = n;
      fuzz_check ((guint) PQnfields (res) == n_columns);
      n = take_byte (in) % 64;
      for (guint i = 0; i < n && in->size > 0; i++)
        {
          guint row = take_byte (in) % (n_rows + 2);
          int column = (int) (take_byte (in) % (n_columns + 2)) - 1;
          gboolean null = take_byte (in) % 8 == 0;
          gsize length;
          const guint8 *bytes = take_bytes (in, 16, &length);
          g_autofree char *text = g_strndup ((const char *) bytes, length);

          /* Text values, as the server sends them: no NUL inside. */
          if (row >= MAX_ROWS || !PQsetvalue (res, (int) row, column, null ? NULL : text,
                                              null ? -1 : (int) strlen (text)))
            continue;
          fuzz_check (column >= 0 && (guint) column < n_columns && row <= n_rows);
          if (row == n_rows)
            n_rows++;
          g_free (cells[row][column].value);
          cells[row][column].value = null ? NULL : g_steal_pointer (&text);
        }
    }
  result = pge_result_new_take (res);

  fuzz_check (pge_result_get_n_rows (result) == n_rows);
  fuzz_check (pge_result_get_n_columns (result) == n_columns);
  fuzz_check (pge_result_get_pgresult (result) == res);
  fuzz_check (strcmp (pge_result_get_command_tag (result), "") == 0);
  fuzz_check (pge_result_get_rows_affected (result) == 0);
  n = take_byte (in) % 32;
  for (guint i = 0; i < n; i++)
    {
      guint row = take_index (in, n_rows);
      guint column = take_index (in, n_columns);
      g_autofree char *name = take_string (in, 12, FALSE);
      int index;

      check_cell (result, row, column, n_rows, n_columns, cells);
      criticals_allowed = column >= n_columns;
      fuzz_check (g_strcmp0 (pge_result_get_column_name (result, column),
                             column < n_columns ? names[column] : NULL) == 0);
      fuzz_check (pge_result_get_column_type (result, column) ==
                  (column < n_columns ? attributes[column].typid : 0));
      criticals_allowed = FALSE;
      index = pge_result_get_column_index (result, name);
      fuzz_check (index >= -1 && index < (int) n_columns);
      for (int c = 0; c < (index < 0 ? (int) n_columns : index); c++)
        fuzz_check (strcmp (names[c], name) != 0);
      if (index >= 0)
        fuzz_check (strcmp (names[index], name) == 0);
    }
  for (guint r = 0; r < n_rows; r++)
    for (guint c = 0; c < n_columns; c++)
      check_cell (result, r, c, n_rows, n_columns, cells);

  /* A response record of this result in the log. */
  g_string_truncate (log_capture, 0);
  pge_log_query ("fuzz", "SELECT", 1, res, NULL, TRUE);
  fuzz_check (strstr (log_capture->str, "SELECT") != NULL);

  criticals_allowed = TRUE;
  fuzz_check (pge_result_get_n_rows (NULL) == 0);
  fuzz_check (pge_result_get_value (NULL, 0, 0) == NULL);
  fuzz_check (pge_result_get_column_index (result, NULL) == -1);
  criticals_allowed = FALSE;
  pge_result_unref (pge_result_ref (result));
  for (guint r = 0; r < MAX_ROWS; r++)
    for (guint c = 0; c < MAX_COLUMNS; c++)
      g_free (cells[r][c].value);
  for (guint c = 0; c < MAX_COLUMNS; c++)
    g_free (names[c]);
}

/* ------------------------------------------------------- entry points */

typedef void (*Target) (Input *in);

static const Target targets[] = {
  fuzz_redact_raw,
  fuzz_redact_planted,
  fuzz_params,
  fuzz_variant_data,
  fuzz_variant_text,
  fuzz_identifier,
  fuzz_errors,
  fuzz_result,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Input in = { data, size };

  if (log_capture == NULL)
    LLVMFuzzerInitialize (NULL, NULL);
  if (size == 0)
    return 0;
  targets[take_byte (&in) % G_N_ELEMENTS (targets)] (&in);
  return 0;
}

#ifndef PGE_FUZZ_LIBFUZZER

/* ------------------------------------------------- the random driver */

#if defined(__SANITIZE_ADDRESS__)
#define PGE_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PGE_FUZZ_ASAN 1
#endif
#endif
#ifdef PGE_FUZZ_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* Pieces the random inputs are made of, besides random bytes: what the
 * targets look for. tests/fuzz.dict holds the same for libFuzzer. */
static const char *const pieces[] = {
  "PASSWORD", "password", "PaSsWoRd", " ", "\n", "'", "''", "\"", "E'", "e'", "N'", "B'", "X'",
  "U&'", "u&\"", "UESCAPE", "'!'", "$$", "$a$", "$1", "$", "\\", "\\'", "\\\\", "--", "/*", "*/",
  "password=", "sslpassword =", "postgresql://", "postgres://u:", "@", "?", "&", "host=h ",
  "CONNECTION", "OPTIONS (", "\\x41", "\\101", "\\u0041", "\\0041", "\\+000041", ";", "(", ")",
  "(s)", "(ms)", "(v)", "<", ">", "@ms", "nothing", "just", "int64", "int16", "true", "b'x'",
  "[", "]", "{", "}", "0x", "1e9", "-1", "\x00", "\xff",
};

static const guint8 *current_input;
static gsize current_size;
static guint32 current_seed;
static guint64 current_index;

/* Async-signal-safe: saves the input being run as crash-SEED-INDEX.bin. */
static void
save_current_input (void)
{
  char name[64] = "crash-";
  char digits[24];
  gsize at = strlen (name);
  int fd;

  if (current_input == NULL)
    return;
  for (int pass = 0; pass < 2; pass++)
    {
      guint64 v = pass == 0 ? current_seed : current_index;
      int n = 0;

      do
        digits[n++] = (char) ('0' + v % 10);
      while ((v /= 10) != 0);
      while (n > 0)
        name[at++] = digits[--n];
      name[at++] = pass == 0 ? '-' : '.';
    }
  memcpy (name + at, "bin", 4);
  fd = open (name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0)
    {
      ssize_t written = write (fd, current_input, current_size);

      (void) written;
      close (fd);
      written = write (STDERR_FILENO, "fuzz: input saved as ", 21);
      written = write (STDERR_FILENO, name, strlen (name));
      written = write (STDERR_FILENO, "\n", 1);
    }
  current_input = NULL;
}

static void
on_fatal_signal (int signum)
{
  save_current_input ();
  signal (signum, SIG_DFL);
  raise (signum);
}

static void
run_one (const guint8 *data, gsize size, guint64 index)
{
  current_input = data;
  current_size = size;
  current_index = index;
  LLVMFuzzerTestOneInput (data, size);
  current_input = NULL;
}

static void
generate (GRand *rand, GByteArray *input)
{
  guint8 target = (guint8) g_rand_int_range (rand, 0, G_N_ELEMENTS (targets));
  guint size = g_rand_int_range (rand, 0, 8) == 0 ? g_rand_int_range (rand, 0, 1024)
                                                  : g_rand_int_range (rand, 0, 96);

  g_byte_array_set_size (input, 0);
  g_byte_array_append (input, &target, 1);
  while (input->len < size)
    {
      if (g_rand_boolean (rand))
        {
          const char *piece = pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))];

          g_byte_array_append (input, (const guint8 *) piece, MAX (strlen (piece), 1));
        }
      else
        {
          guint8 byte = (guint8) g_rand_int_range (rand, 0, 256);

          g_byte_array_append (input, &byte, 1);
        }
    }
}

static gboolean
is_number (const char *text)
{
  return text[0] != '\0' && strspn (text, "0123456789") == strlen (text);
}

static guint64
replay (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  guint64 n = 0;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, &error);
      const char *name;

      if (dir == NULL)
        g_error ("%s", error->message);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (name[0] != '.')
            n += replay (child);
        }
      return n;
    }
  if (!g_file_get_contents (path, &contents, &length, &error))
    g_error ("%s", error->message);
  run_one ((const guint8 *) contents, length, 0);
  return 1;
}

int
main (int argc, char **argv)
{
  static const int fatal_signals[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };
  g_autoptr(GByteArray) input = g_byte_array_new ();
  g_autoptr(GRand) rand = NULL;
  guint64 count = 200000;
  guint32 seed = 1;
  gint64 start = g_get_monotonic_time ();

  LLVMFuzzerInitialize (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (fatal_signals); i++)
    signal (fatal_signals[i], on_fatal_signal);
#ifdef PGE_FUZZ_ASAN
  __sanitizer_set_death_callback (save_current_input);
#endif

  if (argc > 1 && !is_number (argv[1]))
    {
      guint64 n = 0;

      for (int i = 1; i < argc; i++)
        n += replay (argv[i]);
      printf ("fuzz: replayed %" G_GUINT64_FORMAT " inputs, 0 crashes\n", n);
      return 0;
    }
  if (argc > 1)
    count = g_ascii_strtoull (argv[1], NULL, 10);
  if (argc > 2)
    seed = (guint32) g_ascii_strtoull (argv[2], NULL, 10);
  current_seed = seed;
  rand = g_rand_new_with_seed (seed);
  for (guint64 i = 0; i < count; i++)
    {
      generate (rand, input);
      run_one (input->data, input->len, i);
    }
  printf ("fuzz: %" G_GUINT64_FORMAT " inputs, seed %u, 0 crashes (%.1f s)\n", count, seed,
          (g_get_monotonic_time () - start) / 1e6);
  return 0;
}

#endif /* !PGE_FUZZ_LIBFUZZER */
