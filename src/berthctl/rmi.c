/* berthctl rmi IMAGE...: remove names, then collect what nothing needs. */
#include "berthctl/berthctl.h"

#include <stdio.h>

static int
run (struct ctl *ctl, int argc, char **argv)
{
  struct berth_store *s;
  berth_err err = NULL;
  int ret = 0;

  if (argc < 2)
    return ctl_usage (&ctl_cmd_rmi, "expected an image");
  s = ctl_open_store (ctl);
  if (s == NULL)
    return 1;
  for (int i = 1; i < argc; i++)
    {
      if (berth_image_remove (s, argv[i], &err) < 0)
        ret = ctl_fail (&err);
      else
        printf ("Untagged: %s\n", argv[i]);
    }
  if (berth_gc (s, NULL, &err) < 0)
    ret = ctl_fail (&err);
  berth_store_close (s);
  return ret;
}

const struct ctl_command ctl_cmd_rmi = {
  "rmi", "IMAGE...", "remove images", run, false,
};
