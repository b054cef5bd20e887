/* berthctl's front end: global options and the verb table. */
#ifndef BERTH_BERTHCTL_H
#define BERTH_BERTHCTL_H

#include <stdbool.h>

#include "image/image.h"

struct ctl
{
  const char *root;
  const char *auth_file;       /* docker-style config.json */
  const char *registries_conf; /* {"insecure-registries": [...]} */
  const char *ca_file;
};

struct ctl_command
{
  const char *name;
  const char *usage; /* after "berthctl NAME " */
  const char *summary;
  int (*run) (struct ctl *ctl, int argc, char **argv);
  bool hidden;
};

extern const struct ctl_command ctl_cmd_pull, ctl_cmd_images, ctl_cmd_inspect, ctl_cmd_rmi, ctl_cmd_prune,
    ctl_cmd_import, ctl_cmd_export, ctl_cmd_image, ctl_cmd_layer;

/* Opens the store named by --root; prints the error and returns NULL. */
struct berth_store *ctl_open_store (struct ctl *ctl);
/* Prints "berthctl: <message>" and returns 1 (the exit status). */
int ctl_fail (berth_err *err);
/* Prints a usage line for `cmd` on stderr and returns 2. */
int ctl_usage (const struct ctl_command *cmd, const char *why);

/* progress.c: the per-layer display on a terminal. */
void ctl_progress (void *user, const struct berth_progress *layers, size_t n);
void ctl_progress_finish (void);

#endif
