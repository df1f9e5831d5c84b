/* redact.c — secrets masked out of SQL text before it reaches a log.
 *
 * A small lexer of PostgreSQL's SQL, after the server's own scanner
 * (src/backend/parser/scan.l). It walks the text token by token and knows
 * every spelling of a string literal: '...' ('' for a quote), N'...',
 * E'...' (backslash escapes), U&'...' with its optional UESCAPE clause,
 * $$...$$ and $tag$...$tag$, B'...' and X'...', and a literal continued
 * after a newline ('a'<newline>'b' is 'ab'). It also knows "quoted
 * identifiers" ("" for a quote), -- comments, nested slash-star comments,
 * and $1 parameters (a dollar quote's tag never starts with a digit). So a
 * PASSWORD inside a comment, a string or a quoted identifier is not the
 * keyword, and the literal after the keyword is found however it is spelt.
 *
 * Two rules:
 *  - the string literal after the keyword PASSWORD (any case; whitespace
 *    and comments in between) becomes '********', whatever its spelling;
 *    an unterminated one masks the rest of the text. That covers
 *    CREATE/ALTER ROLE ... [ENCRYPTED] PASSWORD '...' and the user
 *    mappings' OPTIONS (password '...').
 *  - in every other string literal whose value holds a connection string
 *    (CREATE SUBSCRIPTION ... CONNECTION '...', dblink_connect(...)), the
 *    values of password= and sslpassword= and the password of a
 *    postgresql:// URI become ********; such a literal is written back as
 *    a plain '...' literal of its masked value. Other literals are copied
 *    byte for byte.
 *
 * The server is assumed to run with standard_conforming_strings on (the
 * default since 9.1), where a backslash in '...' is an ordinary byte. When
 * a backslash would end the literal after PASSWORD elsewhere with it off
 * ('ab\' ...), the rest of the text is masked: no reading leaks it.
 *
 * Reads nothing past the terminating NUL whatever the bytes before it, and
 * runs in linear time: a lookahead that fails only covers whitespace and
 * comments that the main walk then reads once more, and the search for a
 * closing $tag$ never compares a byte twice (a tag holds no '$').
 * Stateless: safe from any thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "redact-private.h"

#define MASKED_LITERAL "'" PGE_REDACT_MASK "'"

typedef enum {
  TOKEN_SPACE,    /* whitespace and comments */
  TOKEN_WORD,     /* a keyword or an unquoted identifier */
  TOKEN_STRING,   /* a string literal, any spelling */
  TOKEN_OTHER     /* quoted identifiers, numbers, parameters, operators ... */
} TokenKind;

typedef enum {
  STRING_PLAIN,   /* '...' and N'...' */
  STRING_ESCAPE,  /* E'...' */
  STRING_UNICODE, /* U&'...' [UESCAPE 'c'] */
  STRING_DOLLAR,  /* $tag$...$tag$ */
  STRING_BIT      /* B'...', X'...' */
} StringKind;

typedef struct {
  TokenKind   kind;
  StringKind  string_kind;
  const char *start;
  const char *end;        /* one past the token */
  /* TOKEN_STRING only: */
  const char *body;       /* just after the opening quote or $tag$ */
  const char *body_end;   /* the closing quote or $tag$, or the end */
  char        escape;     /* STRING_UNICODE: the UESCAPE character */
} Token;

/* Character classes, as scan.l has them (bytes >= 0x80 are letters). */
static inline gboolean
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline gboolean
is_newline (char c)
{
  return c == '\n' || c == '\r';
}

static inline gboolean
is_ident_start (char c)
{
  return g_ascii_isalpha (c) || c == '_' || (guchar) c >= 0x80;
}

/* A dollar quote's tag continues with these; an identifier also with '$'. */
static inline gboolean
is_tag_cont (char c)
{
  return is_ident_start (c) || g_ascii_isdigit (c);
}

static inline gboolean
is_ident_cont (char c)
{
  return is_tag_cont (c) || c == '$';
}

/* -- up to the end of its line (the newline stays). */
static const char *
skip_line_comment (const char *p)
{
  for (p += 2; *p != '\0' && !is_newline (*p); p++)
    ;
  return p;
}

/* A slash-star comment, nested as the server nests them; an unterminated
 * one runs to the end. */
static const char *
skip_block_comment (const char *p)
{
  gsize depth = 1;

  p += 2;
  while (*p != '\0')
    {
      if (p[0] == '/' && p[1] == '*')
        {
          depth++;
          p += 2;
        }
      else if (p[0] == '*' && p[1] == '/')
        {
          p += 2;
          if (--depth == 0)
            break;
        }
      else
        p++;
    }
  return p;
}

/* Whitespace and comments from @p on; slash-star comments only with
 * @block_comments (a literal's continuation allows just --). *@newline, if
 * not NULL, becomes TRUE when a line ends among them. */
static const char *
skip_space (const char *p, gboolean block_comments, gboolean *newline)
{
  for (;;)
    {
      if (is_space (*p))
        {
          if (newline != NULL && is_newline (*p))
            *newline = TRUE;
          p++;
        }
      else if (p[0] == '-' && p[1] == '-')
        p = skip_line_comment (p);
      else if (block_comments && p[0] == '/' && p[1] == '*')
        p = skip_block_comment (p);
      else
        return p;
    }
}

/* A quoted literal from @p, just after its opening quote: '' is a quote,
 * and with @backslash a backslash escapes the next byte. Then any
 * continuation: whitespace holding a newline, and another quoted part.
 * Sets *@body_end to the last closing quote, or the end of the text when
 * the literal is unterminated; returns the end of the literal. */
static const char *
scan_quoted (const char *p, gboolean backslash, const char **body_end)
{
  for (;;)
    {
      const char *next;
      gboolean newline = FALSE;

      while (*p != '\0')
        {
          if (backslash && p[0] == '\\' && p[1] != '\0')
            p += 2;
          else if (p[0] == '\'' && p[1] == '\'')
            p += 2;
          else if (p[0] == '\'')
            break;
          else
            p++;
        }
      *body_end = p;
      if (*p == '\0')
        return p;
      p++;
      next = skip_space (p, FALSE, &newline);
      if (!newline || *next != '\'')
        return p;
      p = next + 1;
    }
}

/* A "quoted identifier" from @p, just after its opening quote. */
static const char *
scan_quoted_identifier (const char *p)
{
  while (*p != '\0')
    {
      if (p[0] == '"' && p[1] == '"')
        p += 2;
      else if (p[0] == '"')
        return p + 1;
      else
        p++;
    }
  return p;
}

/* The length of the $tag$ (or $$) that starts at @p, or 0. */
static gsize
dollar_delimiter_length (const char *p)
{
  const char *q = p + 1;

  if (*q != '$')
    {
      if (!is_ident_start (*q))
        return 0;
      while (is_tag_cont (*q))
        q++;
      if (*q != '$')
        return 0;
    }
  return (gsize) (q + 1 - p);
}

/* After a U&'...' literal ending at @p: the end of its UESCAPE 'c' clause
 * (setting *@escape to c), or @p when none follows. */
static const char *
scan_uescape (const char *p, char *escape)
{
  const char *q = skip_space (p, TRUE, NULL);
  const char *body;
  const char *body_end;

  if (g_ascii_strncasecmp (q, "uescape", 7) != 0 || is_ident_cont (q[7]))
    return p;
  q = skip_space (q + 7, TRUE, NULL);
  if (*q != '\'')
    return p;
  body = q + 1;
  q = scan_quoted (body, FALSE, &body_end);
  if (body_end - body == 1)
    *escape = *body;
  return q;
}

static void
scan_string (Token *token, StringKind kind, const char *body)
{
  token->kind = TOKEN_STRING;
  token->string_kind = kind;
  token->body = body;
  token->end = scan_quoted (body, kind == STRING_ESCAPE, &token->body_end);
  if (kind == STRING_UNICODE)
    {
      token->escape = '\\';
      if (*token->body_end == '\'')
        token->end = scan_uescape (token->end, &token->escape);
    }
}

static void
scan_dollar (Token *token, gsize delimiter_length)
{
  const char *delimiter = token->start;
  const char *p = token->start + delimiter_length;

  token->kind = TOKEN_STRING;
  token->string_kind = STRING_DOLLAR;
  token->body = p;
  /* strncmp stops at the NUL; a partial match covers only tag bytes, so
   * the next '$' lies beyond it and no byte is compared twice. */
  for (; *p != '\0'; p++)
    if (*p == '$' && strncmp (p, delimiter, delimiter_length) == 0)
      {
        token->body_end = p;
        token->end = p + delimiter_length;
        return;
      }
  token->body_end = token->end = p;
}

/* The token at @p, which is not at the end of the text. */
static void
scan_token (const char *p, Token *token)
{
  char c = p[0];
  gsize length;

  memset (token, 0, sizeof *token);
  token->start = p;
  token->kind = TOKEN_OTHER;
  if (is_space (c) || (c == '-' && p[1] == '-') || (c == '/' && p[1] == '*'))
    {
      token->kind = TOKEN_SPACE;
      token->end = skip_space (p, TRUE, NULL);
    }
  else if (c == '\'')
    scan_string (token, STRING_PLAIN, p + 1);
  else if ((c == 'E' || c == 'e') && p[1] == '\'')
    scan_string (token, STRING_ESCAPE, p + 2);
  else if ((c == 'N' || c == 'n') && p[1] == '\'')
    scan_string (token, STRING_PLAIN, p + 2);
  else if ((c == 'B' || c == 'b' || c == 'X' || c == 'x') && p[1] == '\'')
    scan_string (token, STRING_BIT, p + 2);
  else if ((c == 'U' || c == 'u') && p[1] == '&' && p[2] == '\'')
    scan_string (token, STRING_UNICODE, p + 3);
  else if ((c == 'U' || c == 'u') && p[1] == '&' && p[2] == '"')
    token->end = scan_quoted_identifier (p + 3);
  else if (c == '"')
    token->end = scan_quoted_identifier (p + 1);
  else if (c == '$' && g_ascii_isdigit (p[1]))
    {
      for (p++; g_ascii_isdigit (*p); p++)
        ;
      token->end = p;
    }
  else if (c == '$' && (length = dollar_delimiter_length (p)) > 0)
    scan_dollar (token, length);
  else if (is_ident_start (c))
    {
      token->kind = TOKEN_WORD;
      for (p++; is_ident_cont (*p); p++)
        ;
      token->end = p;
    }
  else if (g_ascii_isdigit (c))
    {
      /* Numbers, with whatever letters stick to them (1e5, 0x1F, 1_000):
       * never the start of an E'' or B'' literal. */
      for (p++; is_tag_cont (*p); p++)
        ;
      token->end = p;
    }
  else
    token->end = p + 1;
}

static gboolean
token_is_keyword (const Token *token, const char *keyword)
{
  gsize length = strlen (keyword);

  return token->kind == TOKEN_WORD && (gsize) (token->end - token->start) == length &&
         g_ascii_strncasecmp (token->start, keyword, length) == 0;
}

/* ------------------------------------------------------ literal values */

static gboolean
parse_hex (const char *p, const char *end, guint digits, gunichar *value)
{
  *value = 0;
  for (guint i = 0; i < digits; i++)
    {
      if (p + i >= end || !g_ascii_isxdigit (p[i]))
        return FALSE;
      *value = *value * 16 + (gunichar) g_ascii_xdigit_value (p[i]);
    }
  return TRUE;
}

/* No literal can hold a NUL (the server refuses \000 and U&'\0000'), so
 * decoded values leave them out, and masking sees what a re-encoded
 * literal holds. */
static void
append_byte (GString *value, char c)
{
  if (c != '\0')
    g_string_append_c (value, c);
}

static void
append_code_point (GString *value, gunichar c, const char *raw, gsize raw_length)
{
  if (c == 0)
    return;
  if (g_unichar_validate (c))
    g_string_append_unichar (value, c);
  else
    g_string_append_len (value, raw, (gssize) raw_length);   /* the server refuses it */
}

/* One escape of an E'' literal at @p (a backslash, with a byte after it
 * before @end); returns what follows it. */
static const char *
decode_backslash (const char *p, const char *end, GString *value)
{
  const char *q = p + 2;
  gunichar c;

  switch (p[1])
    {
    case 'b': g_string_append_c (value, '\b'); break;
    case 'f': g_string_append_c (value, '\f'); break;
    case 'n': g_string_append_c (value, '\n'); break;
    case 'r': g_string_append_c (value, '\r'); break;
    case 't': g_string_append_c (value, '\t'); break;
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
      c = 0;
      for (q = p + 1; q < end && q < p + 4 && *q >= '0' && *q <= '7'; q++)
        c = c * 8 + (gunichar) (*q - '0');
      append_byte (value, (char) (c & 0xff));
      break;
    case 'x':
      c = 0;
      for (; q < end && q < p + 4 && g_ascii_isxdigit (*q); q++)
        c = c * 16 + (gunichar) g_ascii_xdigit_value (*q);
      append_byte (value, q > p + 2 ? (char) c : 'x');
      break;
    case 'u':
    case 'U':
      {
        guint digits = p[1] == 'u' ? 4 : 8;

        if (parse_hex (q, end, digits, &c))
          {
            append_code_point (value, c, p, digits + 2);
            q += digits;
          }
        else
          g_string_append_c (value, p[1]);
        break;
      }
    default:
      g_string_append_c (value, p[1]);
      break;
    }
  return q;
}

/* One escape of a U&'' literal at @p (the escape byte); returns what
 * follows it. */
static const char *
decode_unicode_escape (const char *p, const char *end, char escape, GString *value)
{
  gunichar c;

  if (p + 1 < end && p[1] == escape)
    {
      g_string_append_c (value, escape);
      return p + 2;
    }
  if (p + 1 < end && p[1] == '+' && parse_hex (p + 2, end, 6, &c))
    {
      append_code_point (value, c, p, 8);
      return p + 8;
    }
  if (parse_hex (p + 1, end, 4, &c))
    {
      append_code_point (value, c, p, 5);
      return p + 5;
    }
  g_string_append_c (value, *p);
  return p + 1;
}

/* The value a literal stands for, into @value (B'' and X'' are never
 * connection strings: left empty). Surrogate pairs and encodings are not
 * the point: a password= key and its value are ASCII. */
static void
decode_string (const Token *token, GString *value)
{
  const char *p = token->body;
  const char *end = token->body_end;

  g_string_truncate (value, 0);
  if (token->string_kind == STRING_BIT)
    return;
  if (token->string_kind == STRING_DOLLAR)
    {
      g_string_append_len (value, p, end - p);
      return;
    }
  while (p < end)
    {
      if (p[0] == '\'' && p + 1 < end && p[1] == '\'')
        {
          g_string_append_c (value, '\'');
          p += 2;
        }
      else if (p[0] == '\'')
        {
          /* The end of one part of a continued literal: the next part
           * starts after the whitespace, at its opening quote. */
          p = skip_space (p + 1, FALSE, NULL) + 1;
        }
      else if (token->string_kind == STRING_ESCAPE && p[0] == '\\' && p + 1 < end)
        p = decode_backslash (p, end, value);
      else if (token->string_kind == STRING_UNICODE && p[0] == token->escape)
        p = decode_unicode_escape (p, end, token->escape, value);
      else
        g_string_append_c (value, *p++);
    }
}

/* ------------------------------------------------- connection strings */

static inline gboolean
is_key_char (char c)
{
  return g_ascii_isalnum (c) || c == '_';
}

static gboolean
has_prefix_ci (const char *text, gsize length, const char *prefix)
{
  gsize n = strlen (prefix);

  return length >= n && g_ascii_strncasecmp (text, prefix, n) == 0;
}

/* The length of a password key (password, sslpassword) at @i in @v, as a
 * whole word, or 0. */
static gsize
password_key_at (const char *v, gsize n, gsize i)
{
  static const char *const keys[] = { "password", "sslpassword" };

  if (i > 0 && is_key_char (v[i - 1]))
    return 0;
  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    {
      gsize length = strlen (keys[k]);

      if (has_prefix_ci (v + i, n - i, keys[k]) && (i + length == n || !is_key_char (v[i + length])))
        return length;
    }
  return 0;
}

/* Masks the secrets of a connection string @v (@n bytes) into @out:
 * key=value pairs whose key is password or sslpassword (any case, spaces
 * around '=', the value quoted or not), and in a postgresql:// URI the
 * password of user:password@ and of ?password=. Returns FALSE, @out
 * undefined, when there is nothing to mask. */
static gboolean
mask_connection_string (const char *v, gsize n, GString *out)
{
  gsize i = 0;
  gsize copied = 0;
  gboolean uri = FALSE;
  gboolean masked = FALSE;

  g_string_truncate (out, 0);
  while (i < n && is_space (v[i]))
    i++;
  if (has_prefix_ci (v + i, n - i, "postgresql://") || has_prefix_ci (v + i, n - i, "postgres://"))
    {
      gsize at;

      uri = TRUE;
      i += v[i + 8] == ':' ? strlen ("postgres://") : strlen ("postgresql://");
      /* Credentials end at the first '@' before any '/', as libpq reads
       * them; the password is what follows the first ':' in them. */
      for (at = i; at < n && v[at] != '@' && v[at] != '/'; at++)
        ;
      if (at < n && v[at] == '@')
        {
          const char *colon = memchr (v + i, ':', at - i);

          if (colon != NULL)
            {
              gsize value = (gsize) (colon + 1 - v);

              g_string_append_len (out, v, (gssize) value);
              g_string_append (out, PGE_REDACT_MASK);
              copied = at;
              masked = TRUE;
            }
          i = at + 1;
        }
    }
  while (i < n)
    {
      gsize key = password_key_at (v, n, i);
      gsize j = i + key;
      gsize value;

      if (key == 0)
        {
          i++;
          continue;
        }
      while (j < n && is_space (v[j]))
        j++;
      if (j >= n || v[j] != '=')
        {
          i += key;
          continue;
        }
      for (j++; j < n && is_space (v[j]); j++)
        ;
      value = j;
      if (!uri && j < n && v[j] == '\'')
        {
          /* 'quoted value', \ escaping the next byte */
          for (j++; j < n && v[j] != '\''; j++)
            if (v[j] == '\\' && j + 1 < n)
              j++;
          if (j < n)
            j++;
        }
      else
        {
          for (; j < n && !is_space (v[j]) && !(uri && v[j] == '&'); j++)
            if (!uri && v[j] == '\\' && j + 1 < n)
              j++;
        }
      g_string_append_len (out, v + copied, (gssize) (value - copied));
      g_string_append (out, PGE_REDACT_MASK);
      copied = i = j;
      masked = TRUE;
    }
  g_string_append_len (out, v + copied, (gssize) (n - copied));
  return masked;
}

/* @value as a plain '' literal ('' for a quote). */
static void
append_plain_literal (GString *out, const GString *value)
{
  g_string_append_c (out, '\'');
  for (gsize i = 0; i < value->len; i++)
    {
      if (value->str[i] == '\'')
        g_string_append_c (out, '\'');
      g_string_append_c (out, value->str[i]);
    }
  g_string_append_c (out, '\'');
}

/* The literal's text as spelt in the SQL, between its quotes: what a server
 * message quoting the SQL back would show. */
static void
add_secret (GPtrArray *secrets, const Token *token)
{
  if (secrets != NULL && token->body_end > token->body)
    g_ptr_array_add (secrets, g_strndup (token->body, (gsize) (token->body_end - token->body)));
}

static int
compare_longest_first (gconstpointer a, gconstpointer b)
{
  gsize la = strlen (*(const char *const *) a);
  gsize lb = strlen (*(const char *const *) b);

  return la < lb ? 1 : la > lb ? -1 : 0;
}

/* See redact-private.h. One walk over the tokens; after_password is set
 * by the keyword and survives only whitespace and comments. */
char *
pge_log_redact_sql_full (const char *sql, GPtrArray **secrets)
{
  g_autoptr(GString) value = NULL;
  g_autoptr(GString) masked = NULL;
  GPtrArray *found = NULL;
  GString *out;
  gboolean after_password = FALSE;
  const char *p = sql;

  if (secrets != NULL)
    *secrets = found = g_ptr_array_new_with_free_func (g_free);
  if (sql == NULL)
    return NULL;
  out = g_string_sized_new (strlen (sql) + sizeof MASKED_LITERAL);
  while (*p != '\0')
    {
      Token token;

      scan_token (p, &token);
      p = token.end;
      if (token.kind == TOKEN_STRING && after_password)
        {
          if (token.string_kind == STRING_PLAIN)
            {
              /* Read again as if backslashes escaped (a server with
               * standard_conforming_strings off). If that ends the literal
               * elsewhere, the rest of the text is lexed differently by the
               * two readings: mask all of it. */
              const char *body_end;

              if (scan_quoted (token.body, TRUE, &body_end) != token.end)
                p = token.body_end = token.end + strlen (token.end);
            }
          g_string_append (out, MASKED_LITERAL);
          add_secret (found, &token);
          after_password = FALSE;
          continue;
        }
      if (token.kind == TOKEN_STRING)
        {
          if (value == NULL)
            {
              value = g_string_new (NULL);
              masked = g_string_new (NULL);
            }
          decode_string (&token, value);
          if (mask_connection_string (value->str, value->len, masked))
            {
              append_plain_literal (out, masked);
              add_secret (found, &token);
              continue;
            }
        }
      g_string_append_len (out, token.start, token.end - token.start);
      if (token.kind != TOKEN_SPACE)
        after_password = token_is_keyword (&token, "password");
    }
  if (found != NULL)
    g_ptr_array_sort (found, compare_longest_first);
  return g_string_free (out, FALSE);
}

char *
pge_log_redact_sql (const char *sql)
{
  return pge_log_redact_sql_full (sql, NULL);
}
