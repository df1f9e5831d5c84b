/* params.c — PgeParams, positional parameters for $1, $2 ...
 *
 * Values are kept the way libpq sends them: text for most types; bytea in
 * binary so no escaping ever touches it; dates, timestamps and intervals
 * in binary too, where they are exact integers that no DateStyle,
 * TimeZone or IntervalStyle of the session can reinterpret. Each typed adder
 * also records the type OID, so `SELECT $1 + 1` works with an int64
 * without a cast in the SQL.
 *
 * A PgeParams is guarded by its `lock`. A list only ever grows (there is
 * no setter, no remover), and that is what lets a queued query read the
 * caller's values without copying them: pge_params_copy() makes a frozen
 * view that borrows the first n values and the arrays holding them, and
 * keeps the caller's object alive with a reference. The caller may go on
 * appending: new values land past n, and arrays that a growth replaces
 * are retired, not freed, while a view may read them. A blocking call
 * borrows the caller's object only until it returns
 * (pge_job_new_query_borrowed()). Either way the caller may reuse or
 * free its PgeParams at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "alloc-private.h"
#include "errors-private.h"
#include "params-private.h"

#include "values-private.h"   /* the type OIDs */

/* Most queries take a handful of parameters: that many live inside the
 * list itself, and so does the text of a number among them, so building
 * `SELECT ... WHERE id = $1` costs one allocation, not ten. Longer lists
 * and longer values move to the heap. */
#define INLINE_PARAMS 4
#define INT_TEXT_SIZE 24   /* "-9223372036854775808" and its NUL */

struct _PgeParams {
  GMutex     lock;       /* guards everything below, except in a frozen view */
  guint      n;
  guint      capacity;
  Oid       *types;      /* these four point to the inline arrays or the heap */
  char     **values;     /* NULL for SQL NULL; owned unless in inline_text */
  int       *lengths;
  int       *formats;    /* 0 text, 1 binary */
  PgeParams *source;     /* a frozen view: whose values and arrays it borrows */
  gboolean   viewed;     /* a view borrows these arrays: a growth retires them */
  GPtrArray *retired;    /* arrays replaced while viewed; freed with the list */
  Oid        inline_types[INLINE_PARAMS];
  char      *inline_values[INLINE_PARAMS];
  int        inline_lengths[INLINE_PARAMS];
  int        inline_formats[INLINE_PARAMS];
  char       inline_text[INLINE_PARAMS][INT_TEXT_SIZE];
};

/**
 * PgeParams:
 *
 * Positional parameters for `$1`, `$2` ....
 *
 * Frozen when a query is queued: the query sends the values the list
 * held then, and the caller may append more, reuse the list for other
 * queries or free it at once (the engine keeps what it needs alive, and
 * copies nothing). A blocking `_sync` call reads them while it runs (no
 * other thread may change them meanwhile). Thread-safe.
 *
 * Since: 1.0
 */
/**
 * pge_params_get_type:
 *
 * Returns: the boxed #GType of #PgeParams
 *
 * Since: 1.0
 */
G_DEFINE_BOXED_TYPE (PgeParams, pge_params, pge_params_ref, pge_params_unref)

/**
 * pge_params_new:
 *
 * Creates an empty parameter list. Never blocks.
 *
 * Returns: (transfer full): a new #PgeParams
 *
 * Since: 1.0
 */
PgeParams *
pge_params_new (void)
{
  PgeParams *params = PGE_RC_BOX_NEW0 (PgeParams);

  g_mutex_init (&params->lock);
  params->capacity = INLINE_PARAMS;
  params->types = params->inline_types;
  params->values = params->inline_values;
  params->lengths = params->inline_lengths;
  params->formats = params->inline_formats;
  return params;
}

/**
 * pge_params_ref:
 * @params: a #PgeParams
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @params
 *
 * Since: 1.0
 */
PgeParams *
pge_params_ref (PgeParams *params)
{
  g_return_val_if_fail (params != NULL, NULL);
  return g_atomic_rc_box_acquire (params);
}

static gboolean
is_inline_text (PgeParams *params, const char *value)
{
  const char *start = params->inline_text[0];

  return value >= start && value < start + sizeof params->inline_text;
}

/* Gives up the heap arrays; @retire: a view may still read them (see
 * params_grow_locked()), so they are kept until the list is freed. */
static void
free_arrays (PgeParams *params, gboolean retire)
{
  if (params->types == params->inline_types)
    return;
  if (retire)
    {
      if (params->retired == NULL)
        params->retired = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (params->retired, params->types);
      g_ptr_array_add (params->retired, params->values);
      g_ptr_array_add (params->retired, params->lengths);
      g_ptr_array_add (params->retired, params->formats);
      return;
    }
  g_free (params->types);
  g_free (params->values);
  g_free (params->lengths);
  g_free (params->formats);
}

static void
pge_params_free (PgeParams *params)
{
  if (params->source != NULL)
    {
      /* A frozen view owns nothing but its reference. */
      g_clear_pointer (&params->source, pge_params_unref);
      g_mutex_clear (&params->lock);
      return;
    }
  for (guint i = 0; i < params->n; i++)
    if (!is_inline_text (params, params->values[i]))
      g_free (params->values[i]);
  /* No view is left: each holds a reference. */
  free_arrays (params, FALSE);
  g_clear_pointer (&params->retired, g_ptr_array_unref);
  g_mutex_clear (&params->lock);
}

/**
 * pge_params_unref:
 * @params: (transfer full): a #PgeParams
 *
 * Drops a reference; the last one frees the list. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_unref (PgeParams *params)
{
  g_return_if_fail (params != NULL);
  g_atomic_rc_box_release_full (params, (GDestroyNotify) pge_params_free);
}

/* Takes ownership of @value (NULL for SQL NULL). There is no cap here: a
 * list longer than the protocol allows is refused when it is submitted,
 * as PGE_ERROR_INVALID_ARGUMENT, where an error can be reported. */
/* Moves the four arrays to the heap, twice as large. */
static void
params_grow_locked (PgeParams *params)
{
  guint capacity = params->capacity * 2;
  Oid *types = g_new (Oid, capacity);
  char **values = g_new (char *, capacity);
  int *lengths = g_new (int, capacity);
  int *formats = g_new (int, capacity);

  memcpy (types, params->types, sizeof (Oid) * params->n);
  memcpy (values, params->values, sizeof (char *) * params->n);
  memcpy (lengths, params->lengths, sizeof (int) * params->n);
  memcpy (formats, params->formats, sizeof (int) * params->n);
  free_arrays (params, params->viewed);
  params->types = types;
  params->values = values;
  params->lengths = lengths;
  params->formats = formats;
  params->capacity = capacity;
}

static void
params_append_locked (PgeParams *params, Oid type, char *value, int length, int format)
{
  g_return_if_fail (params->source == NULL);   /* frozen views are internal, never appended to */
  if (params->n == params->capacity)
    params_grow_locked (params);
  params->types[params->n] = type;
  params->values[params->n] = value;
  params->lengths[params->n] = length;
  params->formats[params->n] = format;
  params->n++;
}

static void
params_append (PgeParams *params, Oid type, char *value, int length, int format)
{
  g_mutex_lock (&params->lock);
  params_append_locked (params, type, value, length, format);
  g_mutex_unlock (&params->lock);
}

/* Appends a copy of the @size bytes of @text (its NUL included), inside
 * the list when it is one of the first few values and short (numbers
 * are, and so are most keys). */
static void
params_append_short (PgeParams *params, Oid type, const char *text, gsize size)
{
  char *value;

  g_mutex_lock (&params->lock);
  if (params->n < INLINE_PARAMS && size <= INT_TEXT_SIZE)
    value = memcpy (params->inline_text[params->n], text, size);
  else
    value = g_memdup2 (text, size);
  params_append_locked (params, type, value, 0, 0);
  g_mutex_unlock (&params->lock);
}

/* Decimal text of @value, written backwards so that it ends just before
 * @end (a NUL is put there); returns where it starts. No printf
 * machinery: this is on every query's path. */
static char *
int_digits (gint64 value, char *end)
{
  char *p = end;
  guint64 magnitude = value < 0 ? (guint64) 0 - (guint64) value : (guint64) value;

  *p = '\0';
  do
    {
      *--p = (char) ('0' + magnitude % 10);
      magnitude /= 10;
    }
  while (magnitude > 0);
  if (value < 0)
    *--p = '-';
  return p;
}

static void
params_append_int (PgeParams *params, Oid type, gint64 value)
{
  char buffer[INT_TEXT_SIZE];
  char *p = int_digits (value, buffer + sizeof buffer - 1);

  params_append_short (params, type, p, buffer + sizeof buffer - p);
}

/* The text float8in reads back as exactly @value; @buffer has at least
 * G_ASCII_DTOSTR_BUF_SIZE bytes. */
static const char *
double_to_text (double value, int digits, char *buffer)
{
  if (isnan (value))
    return "NaN";
  if (isinf (value))
    return value > 0 ? "Infinity" : "-Infinity";
  return g_ascii_formatd (buffer, G_ASCII_DTOSTR_BUF_SIZE, digits == 9 ? "%.9g" : "%.17g", value);
}

/**
 * pge_params_add_null:
 * @params: a #PgeParams
 *
 * Appends an SQL NULL of unspecified type (the server infers it).
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_null (PgeParams *params)
{
  g_return_if_fail (params != NULL);
  params_append (params, 0, NULL, 0, 0);
}

/**
 * pge_params_add_text:
 * @params: a #PgeParams
 * @value: (nullable): UTF-8 text, copied; %NULL appends SQL NULL
 *
 * Appends a value of unspecified type, so the server reads it as whatever
 * the placeholder needs (text, a date, a numeric ...). Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_text (PgeParams *params, const char *value)
{
  g_return_if_fail (params != NULL);
  if (value == NULL)
    params_append (params, 0, NULL, 0, 0);
  else
    params_append_short (params, 0, value, strlen (value) + 1);
}

/**
 * pge_params_add_int32:
 * @params: a #PgeParams
 * @value: the value, sent as `int4`
 *
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_int32 (PgeParams *params, gint32 value)
{
  g_return_if_fail (params != NULL);
  params_append_int (params, PGE_OID_INT4, value);
}

/**
 * pge_params_add_int64:
 * @params: a #PgeParams
 * @value: the value, sent as `int8`
 *
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_int64 (PgeParams *params, gint64 value)
{
  g_return_if_fail (params != NULL);
  params_append_int (params, PGE_OID_INT8, value);
}

/**
 * pge_params_add_double:
 * @params: a #PgeParams
 * @value: the value, sent as `float8`; infinities and NaN included
 *
 * Sent with 17 significant digits, so it round-trips exactly.
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_double (PgeParams *params, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  g_return_if_fail (params != NULL);
  params_append (params, PGE_OID_FLOAT8, g_strdup (double_to_text (value, 17, buffer)), 0, 0);
}

/**
 * pge_params_add_boolean:
 * @params: a #PgeParams
 * @value: the value, sent as `bool`
 *
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_boolean (PgeParams *params, gboolean value)
{
  g_return_if_fail (params != NULL);
  params_append (params, PGE_OID_BOOL, g_strdup (value ? "t" : "f"), 0, 0);
}

/**
 * pge_params_add_bytea:
 * @params: a #PgeParams
 * @data: (array length=length) (nullable): the bytes, copied; %NULL with
 *   a @length of 0 appends an empty value
 * @length: how many bytes, at most 1 GiB - 1
 *
 * Appends binary data as `bytea`, sent in binary form (NUL bytes and all).
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_bytea (PgeParams *params, const guint8 *data, gsize length)
{
  g_return_if_fail (params != NULL);
  g_return_if_fail (data != NULL || length == 0);
  g_return_if_fail (length < (1u << 30));
  /* g_memdup2 of 0 bytes is NULL, which would read as SQL NULL. */
  params_append (params, PGE_OID_BYTEA, length ? g_memdup2 (data, length) : g_strdup (""),
                 (int) length, 1);
}

/**
 * pge_params_add_typed:
 * @params: a #PgeParams
 * @type: (type guint): a type OID, or 0 to let the server infer it
 * @text: (nullable): the value in the type's text form; %NULL is SQL NULL
 *
 * Appends a value of an explicit type, e.g. `1184` (timestamptz) with
 * "2024-01-01 00:00:00+00". Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_typed (PgeParams *params, Oid type, const char *text)
{
  g_return_if_fail (params != NULL);
  params_append (params, type, g_strdup (text), 0, 0);
}

/**
 * pge_params_add_int16:
 * @params: a #PgeParams
 * @value: the value, sent as `int2`
 *
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_int16 (PgeParams *params, gint16 value)
{
  g_return_if_fail (params != NULL);
  params_append_int (params, PGE_OID_INT2, value);
}

/**
 * pge_params_add_float:
 * @params: a #PgeParams
 * @value: the value, sent as `float4`; infinities and NaN included
 *
 * Sent with 9 significant digits, so it round-trips exactly.
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_float (PgeParams *params, float value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  g_return_if_fail (params != NULL);
  params_append (params, PGE_OID_FLOAT4, g_strdup (double_to_text (value, 9, buffer)), 0, 0);
}

/**
 * pge_params_add_numeric:
 * @params: a #PgeParams
 * @text: (nullable): a decimal number ("-12.3400", "1e-3", "NaN"), copied;
 *   %NULL appends SQL NULL
 *
 * Appends a `numeric`, every digit kept. Text that is not a number fails
 * the query, with the server's error (SQLSTATE 22P02). Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_numeric (PgeParams *params, const char *text)
{
  g_return_if_fail (params != NULL);
  params_append (params, PGE_OID_NUMERIC, g_strdup (text), 0, 0);
}

/* @value as @size (4 or 8) big-endian bytes: the binary form of the
 * integer-based types. */
static void
append_binary (PgeParams *params, Oid type, gint64 value, int size)
{
  guint8 *data = g_malloc (size);

  for (int i = size - 1; i >= 0; i--, value = (gint64) ((guint64) value >> 8))
    data[i] = (guint8) (value & 0xff);
  params_append (params, type, (char *) data, size, 1);
}

/**
 * pge_params_add_date:
 * @params: a #PgeParams
 * @value: (nullable): the day to send, read in @value's own time zone;
 *   %NULL appends SQL NULL
 *
 * Appends a `date` (sent in binary). Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_date (PgeParams *params, GDateTime *value)
{
  int year, month, day;
  g_autoptr(GDate) date = NULL;
  g_autoptr(GDate) epoch = NULL;

  g_return_if_fail (params != NULL);
  if (value == NULL)
    {
      params_append (params, PGE_OID_DATE, NULL, 0, 0);
      return;
    }
  g_date_time_get_ymd (value, &year, &month, &day);
  date = g_date_new_dmy ((GDateDay) day, (GDateMonth) month, (GDateYear) year);
  epoch = g_date_new_dmy (1, G_DATE_JANUARY, 2000);
  append_binary (params, PGE_OID_DATE, (gint64) g_date_get_julian (date) - g_date_get_julian (epoch), 4);
}

/**
 * pge_params_add_timestamp:
 * @params: a #PgeParams
 * @value: (nullable): the time to send; %NULL appends SQL NULL
 *
 * Appends a `timestamp` (without time zone): the wall-clock time @value
 * shows in its own time zone, to the microsecond, with no conversion
 * (pge_result_read_timestamp() gives those fields back, in UTC). Sent in
 * binary. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_timestamp (PgeParams *params, GDateTime *value)
{
  g_return_if_fail (params != NULL);
  if (value == NULL)
    {
      params_append (params, PGE_OID_TIMESTAMP, NULL, 0, 0);
      return;
    }
  append_binary (params, PGE_OID_TIMESTAMP,
                 g_date_time_to_unix (value) * G_USEC_PER_SEC + g_date_time_get_microsecond (value) +
                 g_date_time_get_utc_offset (value) - PGE_POSTGRES_EPOCH_USEC, 8);
}

/**
 * pge_params_add_timestamptz:
 * @params: a #PgeParams
 * @value: (nullable): the instant to send; %NULL appends SQL NULL
 *
 * Appends a `timestamptz`: the instant @value names, to the microsecond,
 * whatever its zone and the session's `TimeZone`. Sent in binary.
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_timestamptz (PgeParams *params, GDateTime *value)
{
  g_return_if_fail (params != NULL);
  if (value == NULL)
    {
      params_append (params, PGE_OID_TIMESTAMPTZ, NULL, 0, 0);
      return;
    }
  append_binary (params, PGE_OID_TIMESTAMPTZ,
                 g_date_time_to_unix (value) * G_USEC_PER_SEC + g_date_time_get_microsecond (value) -
                 PGE_POSTGRES_EPOCH_USEC, 8);
}

/**
 * pge_params_add_interval:
 * @params: a #PgeParams
 * @value: (nullable): the interval, copied; %NULL appends SQL NULL
 *
 * Appends an `interval`, exactly (sent in binary). Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_interval (PgeParams *params, const PgeInterval *value)
{
  guint8 *data;

  g_return_if_fail (params != NULL);
  if (value == NULL)
    {
      params_append (params, PGE_OID_INTERVAL, NULL, 0, 0);
      return;
    }
  /* interval_send: int64 microseconds, int32 days, int32 months. */
  data = g_malloc (16);
  for (int i = 0; i < 8; i++)
    data[i] = (guint8) ((guint64) value->microseconds >> (56 - 8 * i));
  for (int i = 0; i < 4; i++)
    {
      data[8 + i] = (guint8) ((guint32) value->days >> (24 - 8 * i));
      data[12 + i] = (guint8) ((guint32) value->months >> (24 - 8 * i));
    }
  params_append (params, PGE_OID_INTERVAL, (char *) data, 16, 1);
}

/**
 * pge_params_add_uuid:
 * @params: a #PgeParams
 * @text: (nullable): a UUID such as "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
 *   copied; %NULL appends SQL NULL
 *
 * Appends a `uuid`. Text that is not a UUID fails the query with the
 * server's error (SQLSTATE 22P02). Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_uuid (PgeParams *params, const char *text)
{
  g_return_if_fail (params != NULL);
  params_append (params, PGE_OID_UUID, g_strdup (text), 0, 0);
}

/**
 * pge_params_add_json:
 * @params: a #PgeParams
 * @text: (nullable): JSON text, copied; %NULL appends SQL NULL (the JSON
 *   value null is the text "null")
 *
 * Appends a `json` value, kept as written. Invalid JSON fails the query
 * with the server's error (SQLSTATE 22P02). Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_json (PgeParams *params, const char *text)
{
  g_return_if_fail (params != NULL);
  params_append (params, PGE_OID_JSON, g_strdup (text), 0, 0);
}

/**
 * pge_params_add_jsonb:
 * @params: a #PgeParams
 * @text: (nullable): JSON text, copied; %NULL appends SQL NULL
 *
 * Appends a `jsonb` value. Invalid JSON fails the query with the
 * server's error (SQLSTATE 22P02). Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_jsonb (PgeParams *params, const char *text)
{
  g_return_if_fail (params != NULL);
  params_append (params, PGE_OID_JSONB, g_strdup (text), 0, 0);
}

/**
 * pge_params_add_array:
 * @params: a #PgeParams
 * @array_type: (type guint): the array's type OID, e.g. 1009 (`text[]`),
 *   2951 (`uuid[]`), 1231 (`numeric[]`), 3807 (`jsonb[]`), 1185
 *   (`timestamptz[]`); 0 lets the server infer it
 * @elements: (array length=n_elements) (nullable): the elements in their
 *   text forms, copied; a %NULL element is SQL NULL
 * @n_elements: how many elements; -1 when @elements ends with %NULL
 *
 * Appends a one-dimensional array. Every element is quoted and escaped,
 * so none can read as NULL, a delimiter or a nested array whatever it
 * holds. An element the type cannot read fails the query with the
 * server's error. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_array (PgeParams *params, Oid array_type, const char *const *elements,
                      gssize n_elements)
{
  g_return_if_fail (params != NULL);
  g_return_if_fail (elements != NULL || n_elements <= 0);
  if (n_elements < 0)
    n_elements = elements ? g_strv_length ((char **) elements) : 0;
  params_append (params, array_type, pge_value_format_array (elements, (gsize) n_elements), 0, 0);
}

/**
 * pge_params_add_text_array:
 * @params: a #PgeParams
 * @elements: (array length=n_elements) (nullable): UTF-8 strings, copied;
 *   a %NULL element is SQL NULL
 * @n_elements: how many elements; -1 when @elements ends with %NULL (a
 *   #GStrv)
 *
 * Appends a `text[]`. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_text_array (PgeParams *params, const char *const *elements, gssize n_elements)
{
  pge_params_add_array (params, PGE_OID_TEXT_ARRAY, elements, n_elements);
}

/* "{1,2,3}" from integers that are each @width (4 or 8) bytes. */
static char *
int_array_text (gconstpointer values, gsize n, guint width)
{
  GString *text = g_string_sized_new (2 + n * 4);
  char buffer[INT_TEXT_SIZE];

  g_string_append_c (text, '{');
  for (gsize i = 0; i < n; i++)
    {
      gint64 value = width == 4 ? ((const gint32 *) values)[i] : ((const gint64 *) values)[i];

      if (i > 0)
        g_string_append_c (text, ',');
      g_string_append (text, int_digits (value, buffer + sizeof buffer - 1));
    }
  g_string_append_c (text, '}');
  return g_string_free (text, FALSE);
}

/**
 * pge_params_add_int32_array:
 * @params: a #PgeParams
 * @values: (array length=n_values) (nullable): the values, copied
 * @n_values: how many
 *
 * Appends an `int4[]`. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_int32_array (PgeParams *params, const gint32 *values, gsize n_values)
{
  g_return_if_fail (params != NULL);
  g_return_if_fail (values != NULL || n_values == 0);
  params_append (params, PGE_OID_INT4_ARRAY, int_array_text (values, n_values, 4), 0, 0);
}

/**
 * pge_params_add_int64_array:
 * @params: a #PgeParams
 * @values: (array length=n_values) (nullable): the values, copied
 * @n_values: how many
 *
 * Appends an `int8[]`. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_int64_array (PgeParams *params, const gint64 *values, gsize n_values)
{
  g_return_if_fail (params != NULL);
  g_return_if_fail (values != NULL || n_values == 0);
  params_append (params, PGE_OID_INT8_ARRAY, int_array_text (values, n_values, 8), 0, 0);
}

/**
 * pge_params_add_double_array:
 * @params: a #PgeParams
 * @values: (array length=n_values) (nullable): the values, copied;
 *   infinities and NaN included
 * @n_values: how many
 *
 * Appends a `float8[]`, each element exact. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_double_array (PgeParams *params, const double *values, gsize n_values)
{
  GString *text;
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  g_return_if_fail (params != NULL);
  g_return_if_fail (values != NULL || n_values == 0);
  text = g_string_new ("{");
  for (gsize i = 0; i < n_values; i++)
    {
      if (i > 0)
        g_string_append_c (text, ',');
      g_string_append (text, double_to_text (values[i], 17, buffer));
    }
  g_string_append_c (text, '}');
  params_append (params, PGE_OID_FLOAT8_ARRAY, g_string_free (text, FALSE), 0, 0);
}

/**
 * pge_params_add_boolean_array:
 * @params: a #PgeParams
 * @values: (array length=n_values) (nullable): the values, copied
 * @n_values: how many
 *
 * Appends a `bool[]`. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_params_add_boolean_array (PgeParams *params, const gboolean *values, gsize n_values)
{
  GString *text;

  g_return_if_fail (params != NULL);
  g_return_if_fail (values != NULL || n_values == 0);
  text = g_string_new ("{");
  for (gsize i = 0; i < n_values; i++)
    g_string_append (text, i == 0 ? (values[i] ? "t" : "f") : (values[i] ? ",t" : ",f"));
  g_string_append_c (text, '}');
  params_append (params, PGE_OID_BOOL_ARRAY, g_string_free (text, FALSE), 0, 0);
}

/**
 * pge_params_get_length:
 * @params: a #PgeParams
 *
 * Thread-safe.
 *
 * Returns: how many parameters @params holds
 *
 * Since: 1.0
 */
guint
pge_params_get_length (PgeParams *params)
{
  guint length;

  g_return_val_if_fail (params != NULL, 0);
  g_mutex_lock (&params->lock);
  length = params->n;
  g_mutex_unlock (&params->lock);
  return length;
}

static gboolean
add_variant (PgeParams *params, GVariant *value, guint index, GError **error)
{
  const GVariantType *type = g_variant_get_type (value);

  if (g_variant_type_is_maybe (type))
    {
      g_autoptr(GVariant) inner = g_variant_get_maybe (value);

      if (inner == NULL)
        {
          pge_params_add_null (params);
          return TRUE;
        }
      return add_variant (params, inner, index, error);
    }
  if (g_variant_type_equal (type, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (value);
      return add_variant (params, inner, index, error);
    }
  if (g_variant_type_equal (type, G_VARIANT_TYPE_BOOLEAN))
    pge_params_add_boolean (params, g_variant_get_boolean (value));
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_INT16))
    params_append (params, PGE_OID_INT2, g_strdup_printf ("%d", g_variant_get_int16 (value)), 0, 0);
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_INT32))
    pge_params_add_int32 (params, g_variant_get_int32 (value));
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_INT64))
    pge_params_add_int64 (params, g_variant_get_int64 (value));
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_DOUBLE))
    pge_params_add_double (params, g_variant_get_double (value));
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_STRING))
    params_append (params, PGE_OID_TEXT, g_variant_dup_string (value, NULL), 0, 0);
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_BYTESTRING))
    {
      gsize length = 0;
      const guint8 *data = g_variant_get_fixed_array (value, &length, 1);
      pge_params_add_bytea (params, data, length);
    }
  else
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "parameter %u has GVariant type '%s'; supported: b, n, i, x, d, s, ay, "
                   "v and maybe (m) of these", index + 1, g_variant_get_type_string (value));
      return FALSE;
    }
  return TRUE;
}

/**
 * pge_params_new_from_variant:
 * @tuple: a #GVariant tuple; a floating reference is sunk
 * @error: return location for a #GError
 *
 * Builds parameters from a tuple: `b` bool, `n` int2, `i` int4, `x` int8,
 * `d` float8, `s` text, `ay` bytea, `v` unwrapped, and any maybe type
 * (`ms`, `mx` ...) with nothing inside for SQL NULL. For example
 * `g_variant_new ("(sx)", "abc", (gint64) 5)`. Never blocks.
 *
 * Returns: (transfer full) (nullable): the parameters, or %NULL with
 *   %PGE_ERROR_INVALID_ARGUMENT if @tuple is not a tuple or holds an
 *   unsupported type
 *
 * Since: 1.0
 */
PgeParams *
pge_params_new_from_variant (GVariant *tuple, GError **error)
{
  g_autoptr(GVariant) owned = NULL;
  g_autoptr(PgeParams) params = NULL;
  gsize n;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (tuple == NULL || !g_variant_is_of_type (tuple, G_VARIANT_TYPE_TUPLE))
    {
      if (tuple != NULL)
        owned = g_variant_ref_sink (tuple);
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "parameters must be a GVariant tuple, not %s",
                   tuple ? g_variant_get_type_string (tuple) : "NULL");
      return NULL;
    }
  owned = g_variant_ref_sink (tuple);
  n = g_variant_n_children (owned);
  if (n > PGE_MAX_PARAMS)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "%" G_GSIZE_FORMAT " parameters; PostgreSQL takes at most %d", n, PGE_MAX_PARAMS);
      return NULL;
    }
  params = pge_params_new ();
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (owned, i);

      if (!add_variant (params, child, (guint) i, error))
        return NULL;
    }
  return g_steal_pointer (&params);
}

/* A frozen view of @params as it is now: what pge_params_view() of it
 * gives never changes, whatever the caller appends to @params later, and
 * costs one allocation, however many values there are. */
PgeParams *
pge_params_copy (PgeParams *params)
{
  PgeParams *view = PGE_RC_BOX_NEW0 (PgeParams);

  g_mutex_init (&view->lock);
  g_mutex_lock (&params->lock);
  /* A view of a view borrows from the same arrays, which never change. */
  params->viewed = TRUE;
  view->source = pge_params_ref (params);
  view->n = view->capacity = params->n;
  view->types = params->types;
  view->values = params->values;
  view->lengths = params->lengths;
  view->formats = params->formats;
  g_mutex_unlock (&params->lock);
  return view;
}

/* Only for frozen copies: the view borrows the arrays without the lock. */
void
pge_params_view (PgeParams *params, PgeParamsView *view)
{
  if (params == NULL)
    {
      *view = (PgeParamsView) { 0, NULL, NULL, NULL, NULL };
      return;
    }
  view->n = (int) params->n;
  view->types = params->types;
  view->values = (const char *const *) params->values;
  view->lengths = params->lengths;
  view->formats = params->formats;
}
