/* values.c — PostgreSQL's text forms, parsed strictly and made.
 *
 * The server sends every result value in its text form; the strict
 * getters of result.c check the column type and then parse that text here.
 * Each parser reads the whole text, refuses anything the server would not
 * have written, and reports it as PGE_ERROR_CONVERSION rather than guess:
 * a getter that cannot say what a value is says so instead of returning 0.
 *
 * Dates and times assume DateStyle ISO (the server's default) and
 * intervals IntervalStyle postgres (the default): another style is
 * refused with a message that names the setting.
 *
 * Pure functions of their arguments: no state, any thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <libpq-fe.h>

#include "values-private.h"

/* A value quoted in a message, cut short: the text is data, and could be
 * long. */
#define SHOWN_CHARS 40

static gboolean
conversion_failed (GError **error, const char *text, const char *expected)
{
  g_autofree char *shown = g_utf8_make_valid (text, MIN (strlen (text), SHOWN_CHARS));

  g_set_error (error, PGE_ERROR, PGE_ERROR_CONVERSION, "'%s%s' is not %s", shown,
               strlen (text) > SHOWN_CHARS ? "..." : "", expected);
  return FALSE;
}

/* The common case, a short decimal as the server writes it, without
 * GLib's general parser (a third of the cost of reading an int column);
 * anything else (a sign other than '-', 19 digits or more, junk) goes
 * to that parser, which has the last word on what is valid. */
static gboolean
parse_short_decimal (const char *text, gint64 *value)
{
  const char *p = text + (*text == '-');
  gint64 n = 0;
  int digits = 0;

  for (; *p >= '0' && *p <= '9'; p++)
    {
      if (++digits > 18)
        return FALSE;
      n = n * 10 + (*p - '0');
    }
  if (*p != '\0' || digits == 0)
    return FALSE;
  *value = *text == '-' ? -n : n;
  return TRUE;
}

gboolean
pge_value_parse_int (const char *text, gint64 min, gint64 max, gint64 *value, GError **error)
{
  g_autoptr(GError) local = NULL;
  gint64 n;

  if (parse_short_decimal (text, &n) && n >= min && n <= max)
    {
      *value = n;
      return TRUE;
    }
  if (g_ascii_string_to_signed (text, 10, min, max, value, &local))
    return TRUE;
  if (g_error_matches (local, G_NUMBER_PARSER_ERROR, G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS))
    {
      g_autofree char *range = g_strdup_printf ("in range [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]",
                                                min, max);
      return conversion_failed (error, text, range);
    }
  return conversion_failed (error, text, "an integer");
}

/* float4 and float8 text: digits with an exponent perhaps, or NaN,
 * Infinity, -Infinity. */
gboolean
pge_value_parse_float (const char *text, double *value, GError **error)
{
  char *end = NULL;

  if (*text == '\0' || g_ascii_isspace (*text))
    return conversion_failed (error, text, "a floating-point number");
  *value = g_ascii_strtod (text, &end);
  if (*end != '\0')
    return conversion_failed (error, text, "a floating-point number");
  return TRUE;
}

gboolean
pge_value_check_numeric (const char *text, GError **error)
{
  const char *p = text;
  gboolean digits = FALSE;

  if (strcmp (text, "NaN") == 0 || strcmp (text, "Infinity") == 0 || strcmp (text, "-Infinity") == 0)
    return TRUE;
  if (*p == '-')
    p++;
  for (; g_ascii_isdigit (*p); p++)
    digits = TRUE;
  if (digits && *p == '.')
    {
      digits = FALSE;
      for (p++; g_ascii_isdigit (*p); p++)
        digits = TRUE;
    }
  if (!digits || *p != '\0')
    return conversion_failed (error, text, "a numeric");
  return TRUE;
}

/* numeric as a double: refused when it does not fit, i.e. beyond the
 * double range or so small that it would read as 0. Rounding to the
 * nearest double is fine (0.1 has no exact double either). */
gboolean
pge_value_parse_numeric (const char *text, double *value, GError **error)
{
  gboolean nonzero = strpbrk (text, "123456789") != NULL;

  if (!pge_value_check_numeric (text, error))
    return FALSE;
  errno = 0;
  *value = g_ascii_strtod (text, NULL);
  if (isinf (*value) && strstr (text, "Infinity") == NULL)
    return conversion_failed (error, text, "within the range of a double (it overflows)");
  if (nonzero && (*value == 0.0 || (errno == ERANGE && fpclassify (*value) == FP_SUBNORMAL)))
    return conversion_failed (error, text, "within the precision of a double (it underflows)");
  return TRUE;
}

gboolean
pge_value_parse_boolean (const char *text, gboolean *value, GError **error)
{
  if (strcmp (text, "t") == 0 || strcmp (text, "f") == 0)
    {
      *value = text[0] == 't';
      return TRUE;
    }
  return conversion_failed (error, text, "a boolean ('t' or 'f')");
}

gboolean
pge_value_check_uuid (const char *text, GError **error)
{
  for (guint i = 0; i < 36; i++)
    {
      gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;

      if (dash ? text[i] != '-' : !g_ascii_isxdigit (text[i]))
        return conversion_failed (error, text, "a UUID (8-4-4-4-12 hexadecimal digits)");
    }
  if (text[36] != '\0')
    return conversion_failed (error, text, "a UUID (8-4-4-4-12 hexadecimal digits)");
  return TRUE;
}

static GBytes *
parse_bytea_hex (const char *text, GError **error)
{
  gsize n_digits = strlen (text + 2);
  guint8 *data;

  if (n_digits % 2 != 0)
    return conversion_failed (error, text, "bytea in hex (an odd number of digits)"), NULL;
  data = g_malloc (n_digits / 2 + 1);
  for (gsize i = 0; i < n_digits / 2; i++)
    {
      int high = g_ascii_xdigit_value (text[2 + 2 * i]);
      int low = g_ascii_xdigit_value (text[3 + 2 * i]);

      if (high < 0 || low < 0)
        {
          g_free (data);
          return conversion_failed (error, text, "bytea in hex"), NULL;
        }
      data[i] = (guint8) (high << 4 | low);
    }
  return g_bytes_new_take (data, n_digits / 2);
}

/* Both forms of bytea_output: "hex" (the default, "\x0a0b") and
 * "escape" (octal escapes), which libpq decodes. */
GBytes *
pge_value_parse_bytea (const char *text, GError **error)
{
  unsigned char *data;
  size_t length = 0;

  if (text[0] == '\\' && text[1] == 'x')
    return parse_bytea_hex (text, error);
  data = PQunescapeBytea ((const unsigned char *) text, &length);
  if (data == NULL)
    return conversion_failed (error, text, "bytea"), NULL;
  return g_bytes_new_with_free_func (data, length, PQfreemem, data);
}

/* ------------------------------------------------------------ dates, times */

/* Between @min and @max decimal digits at *@p, and no digit after them. */
static gboolean
take_number (const char **p, guint min, guint max, gint64 *value)
{
  const char *s = *p;
  gint64 v = 0;
  guint n = 0;

  while (g_ascii_isdigit (*s) && n < max)
    {
      v = v * 10 + (*s++ - '0');
      n++;
    }
  if (n < min || g_ascii_isdigit (*s))
    return FALSE;
  *p = s;
  *value = v;
  return TRUE;
}

static gboolean
take_char (const char **p, char c)
{
  if (**p != c)
    return FALSE;
  (*p)++;
  return TRUE;
}

/* Up to six digits after a '.', as microseconds. */
static gboolean
take_fraction (const char **p, gint64 *usec)
{
  const char *start;
  gint64 digits;

  *usec = 0;
  if (!take_char (p, '.'))
    return TRUE;
  start = *p;
  if (!take_number (p, 1, 6, &digits))
    return FALSE;
  for (glong n = *p - start; n < 6; n++)
    digits *= 10;
  *usec = digits;
  return TRUE;
}

typedef struct {
  gint64 year, month, day, hour, minute, second, usec;
  int    offset;      /* seconds east of UTC */
} Stamp;

static gboolean
take_date (const char **p, Stamp *stamp)
{
  return take_number (p, 4, 9, &stamp->year) && take_char (p, '-') &&
         take_number (p, 2, 2, &stamp->month) && take_char (p, '-') &&
         take_number (p, 2, 2, &stamp->day);
}

static gboolean
take_time (const char **p, Stamp *stamp)
{
  return take_number (p, 2, 2, &stamp->hour) && take_char (p, ':') &&
         take_number (p, 2, 2, &stamp->minute) && take_char (p, ':') &&
         take_number (p, 2, 2, &stamp->second) && take_fraction (p, &stamp->usec);
}

/* "+01", "-05:30", "+00:19:32" (local mean time of old dates). */
static gboolean
take_offset (const char **p, Stamp *stamp)
{
  int sign = **p == '-' ? -1 : 1;
  gint64 hours, minutes = 0, seconds = 0;

  if (!take_char (p, '+') && !take_char (p, '-'))
    return FALSE;
  if (!take_number (p, 2, 2, &hours))
    return FALSE;
  if (take_char (p, ':') && !take_number (p, 2, 2, &minutes))
    return FALSE;
  if (take_char (p, ':') && !take_number (p, 2, 2, &seconds))
    return FALSE;
  stamp->offset = sign * (int) (hours * 3600 + minutes * 60 + seconds);
  return TRUE;
}

/* The checks the server's text does not need but a GDateTime does. */
static gboolean
stamp_special (const char *text, const char *what, GError **error)
{
  if (strcmp (text, "infinity") == 0 || strcmp (text, "-infinity") == 0)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_CONVERSION,
                   "%s '%s' has no GDateTime; test for it in SQL (isfinite())", what, text);
      return TRUE;
    }
  if (g_str_has_suffix (text, " BC"))
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_CONVERSION,
                   "%s '%s' is before year 1, which a GDateTime cannot hold", what, text);
      return TRUE;
    }
  return FALSE;
}

static GDateTime *
stamp_to_date_time (const Stamp *stamp, GTimeZone *zone, const char *text, GError **error)
{
  g_autoptr(GDateTime) whole = g_date_time_new (zone, (int) MIN (stamp->year, G_MAXINT),
                                                (int) stamp->month, (int) stamp->day,
                                                (int) stamp->hour, (int) stamp->minute,
                                                (gdouble) stamp->second);

  if (whole == NULL)
    return conversion_failed (error, text, "a date a GDateTime can hold (years 1 to 9999)"), NULL;
  /* Whole seconds above, then the microseconds: a double of seconds
   * would round some of them away. */
  return g_date_time_add (whole, stamp->usec);
}

GDateTime *
pge_value_parse_date (const char *text, GError **error)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  const char *p = text;
  Stamp stamp = { 0 };

  if (stamp_special (text, "date", error))
    return NULL;
  if (!take_date (&p, &stamp) || *p != '\0')
    return conversion_failed (error, text, "an ISO date (is DateStyle ISO?)"), NULL;
  return stamp_to_date_time (&stamp, utc, text, error);
}

GDateTime *
pge_value_parse_timestamp (const char *text, gboolean with_zone, GError **error)
{
  g_autoptr(GTimeZone) zone = NULL;
  const char *what = with_zone ? "timestamptz" : "timestamp";
  const char *p = text;
  Stamp stamp = { 0 };

  if (stamp_special (text, what, error))
    return NULL;
  if (!take_date (&p, &stamp) || !take_char (&p, ' ') || !take_time (&p, &stamp) ||
      (with_zone && !take_offset (&p, &stamp)) || *p != '\0')
    return conversion_failed (error, text, with_zone ? "an ISO timestamp with an offset (is DateStyle ISO?)"
                                                     : "an ISO timestamp (is DateStyle ISO?)"), NULL;
  zone = with_zone ? g_time_zone_new_offset (stamp.offset) : g_time_zone_new_utc ();
  if (zone == NULL)
    return conversion_failed (error, text, "a timestamp with a usable offset"), NULL;
  return stamp_to_date_time (&stamp, zone, text, error);
}

/* --------------------------------------------------------------- intervals */

/* "04:05:06.789" after its (signed) hours: microseconds. */
static gboolean
take_clock (const char **p, gint64 hours, gint64 *usec)
{
  gint64 minutes, seconds, fraction, total;

  if (!take_char (p, ':') || !take_number (p, 2, 2, &minutes) || !take_char (p, ':') ||
      !take_number (p, 2, 2, &seconds) || !take_fraction (p, &fraction))
    return FALSE;
  if (__builtin_mul_overflow (hours, 3600 * (gint64) G_USEC_PER_SEC, &total) ||
      __builtin_add_overflow (total, (minutes * 60 + seconds) * G_USEC_PER_SEC + fraction, &total))
    return FALSE;
  *usec = total;
  return TRUE;
}

/* "3 days", "-1 years", "2 mons": adds to @months or @days. */
static gboolean
take_unit (const char **p, gint64 n, gint64 *months, gint64 *days)
{
  static const struct { const char *name; int months; int days; } units[] = {
    { "years", 12, 0 }, { "year", 12, 0 }, { "mons", 1, 0 }, { "mon", 1, 0 },
    { "days", 0, 1 }, { "day", 0, 1 },
  };

  if (!take_char (p, ' '))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    {
      gsize length = strlen (units[i].name);

      if (strncmp (*p, units[i].name, length) == 0 && !g_ascii_isalpha ((*p)[length]))
        {
          *p += length;
          *months += n * units[i].months;
          *days += n * units[i].days;
          return TRUE;
        }
    }
  return FALSE;
}

/* IntervalStyle postgres: "1 year 2 mons -3 days +04:05:06.789". The
 * fields are at most int32 months and days and int64 microseconds, as
 * the server keeps them, so the sums cannot overflow a gint64 before the
 * range checks at the end. */
gboolean
pge_value_parse_interval (const char *text, PgeInterval *interval, GError **error)
{
  static const char *expected = "an interval in IntervalStyle postgres";
  gint64 months = 0, days = 0, usec = 0;
  gboolean any = FALSE, clock = FALSE;
  const char *p = text;

  if (strcmp (text, "infinity") == 0 || strcmp (text, "-infinity") == 0)
    return conversion_failed (error, text, "a finite interval");
  while (*p != '\0')
    {
      int sign;
      gint64 n;

      if (any && !take_char (&p, ' '))
        return conversion_failed (error, text, expected);
      sign = *p == '-' ? -1 : 1;
      if (*p == '-' || *p == '+')
        p++;
      if (!take_number (&p, 1, 18, &n))
        return conversion_failed (error, text, expected);
      if (*p == ':')
        {
          gint64 time;

          if (clock || !take_clock (&p, n, &time))
            return conversion_failed (error, text, expected);
          usec = sign * time;
          clock = TRUE;
        }
      else if (n > (gint64) G_MAXINT32 + 1 || !take_unit (&p, sign * n, &months, &days))
        return conversion_failed (error, text, expected);
      any = TRUE;
    }
  if (!any || months < G_MININT32 || months > G_MAXINT32 || days < G_MININT32 || days > G_MAXINT32)
    return conversion_failed (error, text, expected);
  *interval = (PgeInterval) { .months = (gint32) months, .days = (gint32) days, .microseconds = usec };
  return TRUE;
}

/* ------------------------------------------------------------------ arrays */

/* A quoted element, from after its opening '"' to after its closing one. */
static char *
take_quoted (const char **p)
{
  GString *element = g_string_new (NULL);
  const char *s = *p;

  for (; *s != '"'; s++)
    {
      if (*s == '\\')
        s++;
      if (*s == '\0')
        {
          g_string_free (element, TRUE);
          return NULL;
        }
      g_string_append_c (element, *s);
    }
  *p = s + 1;
  return g_string_free (element, FALSE);
}

/* An unquoted element, up to the next unescaped ',' or '}'; @is_null
 * tells an unescaped NULL (SQL NULL) from anything else. */
static char *
take_unquoted (const char **p, gboolean *is_null)
{
  GString *element = g_string_new (NULL);
  gsize kept = 0;    /* length without trailing unescaped blanks */
  gboolean escaped = FALSE;
  const char *s = *p;

  for (; *s != ',' && *s != '}'; s++)
    {
      gboolean this_escaped = *s == '\\';

      if (*s == '\0' || *s == '"' || *s == '{')
        {
          g_string_free (element, TRUE);
          return NULL;
        }
      if (this_escaped && *++s == '\0')
        break;
      escaped = escaped || this_escaped;
      g_string_append_c (element, *s);
      if (*s != ' ' || this_escaped)
        kept = element->len;
    }
  g_string_truncate (element, kept);
  *p = s;
  *is_null = !escaped && g_ascii_strcasecmp (element->str, "NULL") == 0;
  if (element->len == 0 || *s == '\0')
    {
      g_string_free (element, TRUE);
      return NULL;
    }
  return g_string_free (element, FALSE);
}

/* "[0:2]=" in front of an array that does not start at 1: one such
 * range per dimension. */
static gboolean
skip_bounds (const char **p, GError **error, const char *text)
{
  const char *equals;
  guint n_ranges = 0;

  if (**p != '[')
    return TRUE;
  equals = strchr (*p, '=');
  if (equals == NULL)
    return conversion_failed (error, text, "an array");
  for (const char *s = *p; s < equals; s++)
    n_ranges += *s == '[';
  if (n_ranges > 1)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_CONVERSION,
                   "the array has %u dimensions; only one-dimensional arrays are read", n_ranges);
      return FALSE;
    }
  *p = equals + 1;
  return TRUE;
}

static gboolean
multi_dimensional (GError **error)
{
  g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CONVERSION,
                       "the array has more than one dimension; only one-dimensional arrays are read");
  return FALSE;
}

/* One element at *@p into @elements; FALSE with @error set if there is
 * none there. */
static gboolean
take_element (const char **p, GPtrArray *elements, const char *text, GError **error)
{
  gboolean is_null = FALSE;
  char *element;

  while (**p == ' ')
    (*p)++;
  if (**p == '{')
    return multi_dimensional (error);
  if (take_char (p, '"'))
    element = take_quoted (p);
  else
    element = take_unquoted (p, &is_null);
  if (element == NULL)
    return conversion_failed (error, text, "a one-dimensional array");
  if (is_null)
    g_clear_pointer (&element, g_free);
  g_ptr_array_add (elements, element);
  while (**p == ' ')
    (*p)++;
  return TRUE;
}

GPtrArray *
pge_value_parse_array (const char *text, GError **error)
{
  g_autoptr(GPtrArray) elements = g_ptr_array_new_with_free_func (g_free);
  const char *p = text;

  if (!skip_bounds (&p, error, text))
    return NULL;
  if (!take_char (&p, '{'))
    return conversion_failed (error, text, "an array"), NULL;
  if (take_char (&p, '}'))
    return *p == '\0' ? g_steal_pointer (&elements)
                      : (conversion_failed (error, text, "an array"), NULL);
  do
    {
      if (!take_element (&p, elements, text, error))
        return NULL;
    }
  while (take_char (&p, ','));
  if (!take_char (&p, '}') || *p != '\0')
    return conversion_failed (error, text, "a one-dimensional array"), NULL;
  return g_steal_pointer (&elements);
}

char *
pge_value_format_array (const char *const *elements, gsize n)
{
  GString *text = g_string_new ("{");

  for (gsize i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (text, ',');
      if (elements[i] == NULL)
        {
          g_string_append (text, "NULL");
          continue;
        }
      /* Always quoted: then no element can read as NULL, a delimiter or
       * a nested array, whatever it holds. */
      g_string_append_c (text, '"');
      for (const char *s = elements[i]; *s != '\0'; s++)
        {
          if (*s == '"' || *s == '\\')
            g_string_append_c (text, '\\');
          g_string_append_c (text, *s);
        }
      g_string_append_c (text, '"');
    }
  g_string_append_c (text, '}');
  return g_string_free (text, FALSE);
}
