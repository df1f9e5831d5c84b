/* params.c — PgeParams, positional parameters for $1, $2 ...
 *
 * Values are kept the way libpq sends them: text for everything but bytea,
 * which goes in binary so no escaping ever touches it. Each typed adder
 * also records the type OID, so `SELECT $1 + 1` works with an int64
 * without a cast in the SQL.
 *
 * A PgeParams is guarded by its `lock`; queries never read the caller's
 * object after the submitting call returns, they read a private frozen
 * copy (pge_params_copy()), which is why the caller may reuse or free its
 * PgeParams at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "errors-private.h"
#include "params-private.h"

/* Built-in type OIDs, from pg_type.dat; stable across server versions. */
#define BOOLOID    16
#define BYTEAOID   17
#define INT8OID    20
#define INT2OID    21
#define INT4OID    23
#define TEXTOID    25
#define FLOAT8OID  701

/* Most queries take a handful of parameters: that many live inside the
 * list itself, so building one costs one allocation per value and one
 * for the list, not ten. Longer lists move to the heap. */
#define INLINE_PARAMS 4

struct _PgeParams {
  GMutex  lock;       /* guards everything below */
  guint   n;
  guint   capacity;
  Oid    *types;      /* these four point to the inline arrays or the heap */
  char  **values;     /* NULL for SQL NULL, owned */
  int    *lengths;
  int    *formats;    /* 0 text, 1 binary */
  Oid     inline_types[INLINE_PARAMS];
  char   *inline_values[INLINE_PARAMS];
  int     inline_lengths[INLINE_PARAMS];
  int     inline_formats[INLINE_PARAMS];
};

/**
 * PgeParams:
 *
 * Positional parameters for `$1`, `$2` ....
 *
 * Copied when a query is queued, so the caller may reuse or free them at
 * once; a blocking `_sync` call reads them while it runs instead (no
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
  PgeParams *params = g_atomic_rc_box_new0 (PgeParams);

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

static void
pge_params_free (PgeParams *params)
{
  for (guint i = 0; i < params->n; i++)
    g_free (params->values[i]);
  if (params->types != params->inline_types)
    {
      g_free (params->types);
      g_free (params->values);
      g_free (params->lengths);
      g_free (params->formats);
    }
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
  if (params->types != params->inline_types)
    {
      g_free (params->types);
      g_free (params->values);
      g_free (params->lengths);
      g_free (params->formats);
    }
  params->types = types;
  params->values = values;
  params->lengths = lengths;
  params->formats = formats;
  params->capacity = capacity;
}

static void
params_append (PgeParams *params, Oid type, char *value, int length, int format)
{
  g_mutex_lock (&params->lock);
  if (params->n == params->capacity)
    params_grow_locked (params);
  params->types[params->n] = type;
  params->values[params->n] = value;
  params->lengths[params->n] = length;
  params->formats[params->n] = format;
  params->n++;
  g_mutex_unlock (&params->lock);
}

/* Decimal text of @value, without printf's machinery (it is on every
 * query's path). */
static char *
int_to_text (gint64 value)
{
  char buffer[24];
  char *p = buffer + sizeof buffer;
  guint64 magnitude = value < 0 ? (guint64) 0 - (guint64) value : (guint64) value;

  *--p = '\0';
  do
    {
      *--p = (char) ('0' + magnitude % 10);
      magnitude /= 10;
    }
  while (magnitude > 0);
  if (value < 0)
    *--p = '-';
  return g_strndup (p, buffer + sizeof buffer - 1 - p);
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
  params_append (params, 0, g_strdup (value), 0, 0);
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
  params_append (params, INT4OID, int_to_text (value), 0, 0);
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
  params_append (params, INT8OID, int_to_text (value), 0, 0);
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
  const char *text;

  g_return_if_fail (params != NULL);
  if (isnan (value))
    text = "NaN";
  else if (isinf (value))
    text = value > 0 ? "Infinity" : "-Infinity";
  else
    text = g_ascii_formatd (buffer, sizeof buffer, "%.17g", value);
  params_append (params, FLOAT8OID, g_strdup (text), 0, 0);
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
  params_append (params, BOOLOID, g_strdup (value ? "t" : "f"), 0, 0);
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
  params_append (params, BYTEAOID, length ? g_memdup2 (data, length) : g_strdup (""),
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
    params_append (params, INT2OID, g_strdup_printf ("%d", g_variant_get_int16 (value)), 0, 0);
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_INT32))
    pge_params_add_int32 (params, g_variant_get_int32 (value));
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_INT64))
    pge_params_add_int64 (params, g_variant_get_int64 (value));
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_DOUBLE))
    pge_params_add_double (params, g_variant_get_double (value));
  else if (g_variant_type_equal (type, G_VARIANT_TYPE_STRING))
    params_append (params, TEXTOID, g_variant_dup_string (value, NULL), 0, 0);
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

PgeParams *
pge_params_copy (PgeParams *params)
{
  PgeParams *copy = pge_params_new ();

  g_mutex_lock (&params->lock);
  for (guint i = 0; i < params->n; i++)
    {
      const char *value = params->values[i];
      int length = params->lengths[i];
      int format = params->formats[i];
      char *dup = NULL;

      if (value != NULL)
        dup = format == 1 ? g_memdup2 (value, length ? length : 1) : g_strdup (value);
      params_append (copy, params->types[i], dup, length, format);
    }
  g_mutex_unlock (&params->lock);
  return copy;
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
