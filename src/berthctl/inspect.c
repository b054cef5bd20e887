/* berthctl inspect IMAGE...: a JSON array, one object per image. */
#include "berthctl/berthctl.h"

#include <stdio.h>

static int
run (struct ctl *ctl, int argc, char **argv)
{
  struct berth_store *s;
  berth_err err = NULL;
  json_t *out;

  if (argc < 2)
    return ctl_usage (&ctl_cmd_inspect, "expected an image");
  s = ctl_open_store (ctl);
  if (s == NULL)
    return 1;
  out = json_array ();
  for (int i = 1; i < argc; i++)
    {
      json_t *o = berth_image_inspect (s, argv[i], &err);
      if (o == NULL)
        {
          json_decref (out);
          berth_store_close (s);
          return ctl_fail (&err);
        }
      json_array_append_new (out, o);
    }
  berth_store_close (s);
  json_dumpf (out, stdout, JSON_INDENT (2));
  putchar ('\n');
  json_decref (out);
  return 0;
}

const struct ctl_command ctl_cmd_inspect = {
  "inspect", "IMAGE...", "show an image's config, layers and digests", run, false,
};
