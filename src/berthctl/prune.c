/* berthctl prune: remove blobs, snapshots and temporaries nothing needs. */
#include "berthctl/berthctl.h"

#include <stdio.h>

static int
run (struct ctl *ctl, int argc, char **argv)
{
  struct berth_store *s;
  struct berth_gc_stats st;
  berth_err err = NULL;
  int ret;

  if (argc != 1)
    return ctl_usage (&ctl_cmd_prune, "no arguments expected");
  s = ctl_open_store (ctl);
  if (s == NULL)
    return 1;
  ret = berth_gc (s, &st, &err);
  berth_store_close (s);
  if (ret < 0)
    return ctl_fail (&err);
  printf ("removed %u blobs, %u snapshots, %u temporary files; %.1f MB freed\n", st.blobs, st.snapshots, st.temp,
          (double)st.bytes / 1e6);
  return 0;
}

const struct ctl_command ctl_cmd_prune = {
  "prune", "", "remove unused blobs, snapshots and leftovers of killed pulls", run, false,
};
