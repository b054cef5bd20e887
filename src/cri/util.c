/* Small JSON and string helpers for the spec builders. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cri/cri_internal.h"

char *
cri_strdup (const char *s)
{
  char *r = strdup (s ? s : "");

  if (r == NULL)
    abort ();
  return r;
}

char *
cri_printf (const char *fmt, ...)
{
  va_list ap;
  char *r = NULL;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&r, fmt, ap);
  va_end (ap);
  if (n < 0)
    abort ();
  return r;
}

json_t *
cri_obj (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);

  if (!json_is_object (v))
    {
      v = json_object ();
      json_object_set_new (obj, key, v);
    }
  return v;
}

json_t *
cri_arr (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);

  if (!json_is_array (v))
    {
      v = json_array ();
      json_object_set_new (obj, key, v);
    }
  return v;
}

json_t *
cri_strv_json (const char *const *v, size_t n)
{
  json_t *arr = json_array ();

  for (size_t i = 0; i < n; i++)
    json_array_append_new (arr, json_string (v[i]));
  return arr;
}

bool
cri_strv_contains (json_t *arr, const char *s)
{
  size_t i;
  json_t *e;

  json_array_foreach (arr, i, e) if (json_is_string (e) && strcmp (json_string_value (e), s) == 0) return true;
  return false;
}

void
cri_annotate (json_t *spec, const char *key, const char *value)
{
  json_object_set_new (cri_obj (spec, "annotations"), key, json_string (value ? value : ""));
}
