/* Public entry points over the internal parsers, for callers that hold a
 * piece of a config rather than a whole document: `update --resources FILE`
 * (a linux.resources object alone) and `features` (which mount options the
 * parser knows). */
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"

struct berth_resources *
berth_resources_parse (json_t *obj, const char *path_prefix, berth_err *err)
{
  const char *path = path_prefix ? path_prefix : "";
  struct berth_resources *r;

  if (!json_is_object (obj))
    return spec_fail (err, path, "expected object"), NULL;
  r = spec_xcalloc (1, sizeof (*r));
  if (spec_parse_resources (obj, path, r, err) < 0)
    {
      spec_resources_free (r);
      return NULL;
    }
  return r;
}

void
berth_resources_free (struct berth_resources *r)
{
  spec_resources_free (r);
}

bool
berth_mount_option_known (const char *name)
{
  /* A bind mount refuses every option the table lacks (other types would
   * pass it to the filesystem as data). */
  char *options[] = { (char *)name, NULL };
  struct berth_mount m = { .type = (char *)"bind", .options = options, .n_options = 1 };
  berth_err err = NULL;
  bool known = spec_parse_mount_options (&m, "", &err) == 0 && m.data == NULL;

  berth_err_free (&err);
  free (m.data);
  return known;
}
