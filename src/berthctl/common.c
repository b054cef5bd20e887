#include "berthctl/berthctl.h"

#include <stdio.h>

struct berth_store *
ctl_open_store (struct ctl *ctl)
{
  struct berth_store *s = NULL;
  berth_err err = NULL;

  if (berth_store_open (ctl->root, &s, &err) < 0)
    {
      ctl_fail (&err);
      return NULL;
    }
  return s;
}

int
ctl_fail (berth_err *err)
{
  fprintf (stderr, "berthctl: %s\n", err && *err ? (*err)->msg : "unknown error");
  berth_err_free (err);
  return 1;
}

int
ctl_usage (const struct ctl_command *cmd, const char *why)
{
  if (why)
    fprintf (stderr, "berthctl %s: %s\n", cmd->name, why);
  fprintf (stderr, "usage: berthctl [--root DIR] %s %s\n", cmd->name, cmd->usage);
  return 2;
}
