/* berthctl pull [--platform OS/ARCH[/VARIANT]] [--no-unpack] [-q] REF */
#include "berthctl/berthctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
run (struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    { "platform", required_argument, NULL, 'p' },
    { "no-unpack", no_argument, NULL, 'n' },
    { "quiet", no_argument, NULL, 'q' },
    { NULL, 0, NULL, 0 },
  };
  struct berth_pull_opts o
      = { .auth_file = ctl->auth_file, .registries_conf = ctl->registries_conf, .ca_file = ctl->ca_file };
  char *platform = NULL;
  bool quiet = false;
  struct berth_store *s;
  struct berth_image_ref img = { 0 };
  berth_err err = NULL;
  int c, ret;

  while ((c = getopt_long (argc, argv, "q", opts, NULL)) != -1)
    switch (c)
      {
      case 'p':
        platform = strdup (optarg);
        o.os = strtok (platform, "/");
        o.arch = strtok (NULL, "/");
        o.variant = strtok (NULL, "/");
        if (o.os == NULL || o.arch == NULL)
          return ctl_usage (&ctl_cmd_pull, "--platform: expected OS/ARCH[/VARIANT]");
        break;
      case 'n':
        o.no_unpack = true;
        break;
      case 'q':
        quiet = true;
        break;
      default:
        return ctl_usage (&ctl_cmd_pull, NULL);
      }
  if (argc - optind != 1)
    return ctl_usage (&ctl_cmd_pull, "expected one image reference");
  if (!quiet && isatty (STDERR_FILENO))
    o.progress = ctl_progress;
  s = ctl_open_store (ctl);
  if (s == NULL)
    return 1;
  ret = berth_pull (s, argv[optind], &o, &img, &err);
  ctl_progress_finish ();
  berth_store_close (s);
  free (platform);
  if (ret < 0)
    return ctl_fail (&err);
  if (!quiet)
    printf ("%s: %s\n", img.name, img.digest);
  berth_image_ref_clear (&img);
  return 0;
}

const struct ctl_command ctl_cmd_pull = {
  "pull",
  "[--platform OS/ARCH[/VARIANT]] [--no-unpack] [-q] HOST[:PORT]/REPO[:TAG|@DIGEST]",
  "fetch an image from a registry",
  run,
  false,
};
