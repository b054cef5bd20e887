#include "spec/json_path.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"
#include "util/cleanup.h"

void *
spec_xcalloc (size_t n, size_t size)
{
  /* calloc (0, x) may return NULL legitimately; always hand out a block. */
  void *p = calloc (n ? n : 1, size ? size : 1);
  if (p == NULL)
    abort ();
  return p;
}

char *
spec_xstrdup (const char *s)
{
  char *r = strdup (s);
  if (r == NULL)
    abort ();
  return r;
}

static bool
is_plain_key (const char *key)
{
  if (*key == '\0')
    return false;
  for (const char *p = key; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
      return false;
  return true;
}

char *
spec_path_key (const char *parent, const char *key)
{
  char *r = NULL;
  int n;

  if (is_plain_key (key))
    n = *parent ? asprintf (&r, "%s.%s", parent, key) : asprintf (&r, "%s", key);
  else
    n = asprintf (&r, "%s[\"%s\"]", parent, key);
  if (n < 0)
    abort ();
  return r;
}

char *
spec_path_index (const char *parent, size_t index)
{
  char *r = NULL;

  if (asprintf (&r, "%s[%zu]", parent, index) < 0)
    abort ();
  return r;
}

int
spec_fail (berth_err *err, const char *path, const char *fmt, ...)
{
  va_list ap;
  cleanup_free char *msg = NULL;

  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    abort ();
  va_end (ap);
  if (path == NULL || *path == '\0')
    return berth_fail (err, 0, "%s", msg);
  return berth_fail (err, 0, "%s: %s", path, msg);
}

json_t *
spec_member (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);

  if (v == NULL || json_is_null (v))
    return NULL;
  return v;
}

int
spec_value_string (json_t *v, const char *path, char **out, berth_err *err)
{
  if (!json_is_string (v))
    return spec_fail (err, path, "expected string");
  *out = spec_xstrdup (json_string_value (v));
  return 0;
}

int
spec_value_int (json_t *v, const char *path, int64_t min, int64_t max, int64_t *out, berth_err *err)
{
  int64_t n;

  if (!json_is_integer (v))
    return spec_fail (err, path, "expected integer");
  n = json_integer_value (v);
  if (n < min || n > max)
    return spec_fail (err, path, "%" PRId64 " is out of range (%" PRId64 " to %" PRId64 ")", n, min, max);
  *out = n;
  return 0;
}

int
spec_value_uint32 (json_t *v, const char *path, uint32_t *out, berth_err *err)
{
  int64_t n;

  if (spec_value_int (v, path, 0, UINT32_MAX, &n, err) < 0)
    return -1;
  *out = (uint32_t)n;
  return 0;
}

/* Looks the member up; 1 present, 0 absent (error when required). */
static int
lookup (json_t *obj, const char *parent, const char *key, unsigned flags, json_t **v, char **path, berth_err *err)
{
  *v = spec_member (obj, key);
  if (*v == NULL)
    {
      if (flags & SPEC_REQUIRED)
        {
          cleanup_free char *p = spec_path_key (parent, key);
          return spec_fail (err, p, "required property missing");
        }
      return 0;
    }
  *path = spec_path_key (parent, key);
  return 1;
}

int
spec_get_string (json_t *obj, const char *parent, const char *key, unsigned flags, char **out, berth_err *err)
{
  cleanup_free char *path = NULL;
  json_t *v;
  int r = lookup (obj, parent, key, flags, &v, &path, err);

  if (r <= 0)
    return r;
  free (*out);
  *out = NULL;
  return spec_value_string (v, path, out, err) < 0 ? -1 : 1;
}

int
spec_get_bool (json_t *obj, const char *parent, const char *key, unsigned flags, bool *out, berth_err *err)
{
  cleanup_free char *path = NULL;
  json_t *v;
  int r = lookup (obj, parent, key, flags, &v, &path, err);

  if (r <= 0)
    return r;
  if (!json_is_boolean (v))
    return spec_fail (err, path, "expected boolean");
  *out = json_is_true (v);
  return 1;
}

int
spec_get_range (json_t *obj, const char *parent, const char *key, unsigned flags, int64_t min, int64_t max,
                int64_t *out, berth_err *err)
{
  cleanup_free char *path = NULL;
  json_t *v;
  int r = lookup (obj, parent, key, flags, &v, &path, err);

  if (r <= 0)
    return r;
  return spec_value_int (v, path, min, max, out, err) < 0 ? -1 : 1;
}

int
spec_get_int64 (json_t *obj, const char *parent, const char *key, unsigned flags, int64_t *out, berth_err *err)
{
  return spec_get_range (obj, parent, key, flags, INT64_MIN, INT64_MAX, out, err);
}

int
spec_get_uint64 (json_t *obj, const char *parent, const char *key, unsigned flags, uint64_t *out, berth_err *err)
{
  int64_t n = 0;
  int r = spec_get_range (obj, parent, key, flags, 0, INT64_MAX, &n, err);

  if (r > 0)
    *out = (uint64_t)n;
  return r;
}

int
spec_get_uint32 (json_t *obj, const char *parent, const char *key, unsigned flags, uint32_t *out, berth_err *err)
{
  int64_t n = 0;
  int r = spec_get_range (obj, parent, key, flags, 0, UINT32_MAX, &n, err);

  if (r > 0)
    *out = (uint32_t)n;
  return r;
}

int
spec_get_uint16 (json_t *obj, const char *parent, const char *key, unsigned flags, uint16_t *out, berth_err *err)
{
  int64_t n = 0;
  int r = spec_get_range (obj, parent, key, flags, 0, UINT16_MAX, &n, err);

  if (r > 0)
    *out = (uint16_t)n;
  return r;
}

int
spec_get_int32 (json_t *obj, const char *parent, const char *key, unsigned flags, int *out, berth_err *err)
{
  int64_t n = 0;
  int r = spec_get_range (obj, parent, key, flags, INT32_MIN, INT32_MAX, &n, err);

  if (r > 0)
    *out = (int)n;
  return r;
}

int
spec_get_object (json_t *obj, const char *parent, const char *key, unsigned flags, json_t **out, berth_err *err)
{
  cleanup_free char *path = NULL;
  json_t *v;
  int r = lookup (obj, parent, key, flags, &v, &path, err);

  *out = NULL;
  if (r <= 0)
    return r;
  if (!json_is_object (v))
    return spec_fail (err, path, "expected object");
  *out = v;
  return 1;
}

int
spec_get_array (json_t *obj, const char *parent, const char *key, unsigned flags, json_t **out, berth_err *err)
{
  cleanup_free char *path = NULL;
  json_t *v;
  int r = lookup (obj, parent, key, flags, &v, &path, err);

  *out = NULL;
  if (r <= 0)
    return r;
  if (!json_is_array (v))
    return spec_fail (err, path, "expected array");
  *out = v;
  return 1;
}

int
spec_get_raw (json_t *obj, const char *parent, const char *key, json_type type, json_t **out, berth_err *err)
{
  json_t *v = NULL;
  int r;

  if (type == JSON_ARRAY)
    r = spec_get_array (obj, parent, key, 0, &v, err);
  else
    r = spec_get_object (obj, parent, key, 0, &v, err);
  if (r > 0)
    *out = json_incref (v);
  return r;
}

void
spec_strv_free (char **v)
{
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free (*p);
  free (v);
}

int
spec_get_strv (json_t *obj, const char *parent, const char *key, unsigned flags, char ***out, size_t *n_out,
               berth_err *err)
{
  cleanup_free char *path = NULL;
  json_t *arr = NULL;
  char **v;
  size_t n;
  int r;

  spec_strv_free (*out);
  *out = NULL;
  *n_out = 0;
  r = spec_get_array (obj, parent, key, flags, &arr, err);
  if (r < 0)
    return -1;
  n = arr ? json_array_size (arr) : 0;
  v = spec_xcalloc (n + 1, sizeof (char *));
  *out = v;
  if (arr == NULL)
    return 0;
  path = spec_path_key (parent, key);
  for (size_t i = 0; i < n; i++)
    {
      json_t *e = json_array_get (arr, i);
      if (!json_is_string (e))
        {
          cleanup_free char *p = spec_path_index (path, i);
          return spec_fail (err, p, "expected string");
        }
      v[i] = spec_xstrdup (json_string_value (e));
      *n_out = i + 1;
    }
  return 1;
}

int
spec_get_string_map (json_t *obj, const char *parent, const char *key, struct berth_key_value **out, size_t *n_out,
                     berth_err *err)
{
  cleanup_free char *path = NULL;
  json_t *map = NULL;
  const char *k;
  json_t *v;
  size_t i = 0;
  int r;

  r = spec_get_object (obj, parent, key, 0, &map, err);
  if (r <= 0)
    return r;
  path = spec_path_key (parent, key);
  *out = spec_xcalloc (json_object_size (map), sizeof (**out));
  json_object_foreach (map, k, v)
  {
    if (!json_is_string (v))
      {
        cleanup_free char *p = spec_path_key (path, k);
        return spec_fail (err, p, "expected string");
      }
    (*out)[i].key = spec_xstrdup (k);
    (*out)[i].value = spec_xstrdup (json_string_value (v));
    *n_out = ++i;
  }
  return 1;
}

void
spec_key_values_free (struct berth_key_value *kv, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (kv[i].key);
      free (kv[i].value);
    }
  free (kv);
}
