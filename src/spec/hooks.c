/* "hooks": six lists of programs run at points of the lifecycle. */
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

static int
parse_hook (json_t *e, const char *path, struct berth_hook *h, berth_err *err)
{
  int r;

  if (!json_is_object (e))
    return spec_fail (err, path, "expected object");
  if (spec_get_string (e, path, "path", SPEC_REQUIRED, &h->path, err) < 0)
    return -1;
  if (h->path[0] != '/')
    {
      cleanup_free char *p = spec_path_key (path, "path");
      return spec_fail (err, p, "must be an absolute path, got \"%s\"", h->path);
    }
  if (spec_get_strv (e, path, "args", 0, &h->args, &h->n_args, err) < 0
      || spec_get_strv (e, path, "env", 0, &h->env, &h->n_env, err) < 0)
    return -1;
  r = spec_get_int32 (e, path, "timeout", 0, &h->timeout, err);
  if (r < 0)
    return -1;
  h->has_timeout = r > 0;
  if (h->has_timeout && h->timeout <= 0)
    {
      cleanup_free char *p = spec_path_key (path, "timeout");
      return spec_fail (err, p, "must be greater than zero, got %d", h->timeout);
    }
  return 0;
}

int
spec_parse_hooks (json_t *doc, struct berth_spec *spec, berth_err *err)
{
  json_t *hooks = NULL;
  int r = spec_get_object (doc, "", "hooks", 0, &hooks, err);

  if (r <= 0)
    return r;
  for (int k = 0; k < BERTH_HOOK_KIND_COUNT; k++)
    {
      const char *name = berth_hook_kind_name (k);
      cleanup_free char *kpath = spec_path_key ("hooks", name);
      json_t *arr = NULL;
      size_t n;

      r = spec_get_array (hooks, "hooks", name, 0, &arr, err);
      if (r < 0)
        return -1;
      if (r == 0)
        continue;
      n = json_array_size (arr);
      spec->hooks[k] = spec_xcalloc (n, sizeof (struct berth_hook));
      spec->n_hooks[k] = n;
      for (size_t i = 0; i < n; i++)
        {
          cleanup_free char *p = spec_path_index (kpath, i);
          if (parse_hook (json_array_get (arr, i), p, &spec->hooks[k][i], err) < 0)
            return -1;
        }
    }
  return 0;
}

void
spec_hook_clear (struct berth_hook *h)
{
  free (h->path);
  spec_strv_free (h->args);
  spec_strv_free (h->env);
  memset (h, 0, sizeof (*h));
}
