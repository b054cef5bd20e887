/* berthctl image mount [--id ID] IMAGE TARGET
 * berthctl image unmount [--keep] TARGET */
#include "berthctl/berthctl.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int
do_mount (struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = { { "id", required_argument, NULL, 'i' }, { NULL, 0, NULL, 0 } };
  const char *id = NULL;
  struct berth_image_ref img = { 0 };
  struct berth_store *s;
  berth_err err = NULL;
  int c, ret;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    if (c == 'i')
      id = optarg;
    else
      return ctl_usage (&ctl_cmd_image, NULL);
  if (argc - optind != 2)
    return ctl_usage (&ctl_cmd_image, "mount: expected IMAGE TARGET");
  s = ctl_open_store (ctl);
  if (s == NULL)
    return 1;
  /* Layers pulled with --no-unpack (or imported) are unpacked first:
     berth_image_mount only mounts. */
  ret = berth_image_lookup (s, argv[optind], &img, &err);
  if (ret == 0)
    ret = berth_image_unpack (s, &img, &err);
  if (ret == 0)
    ret = berth_image_mount (s, argv[optind], argv[optind + 1], id, &err);
  berth_image_ref_clear (&img);
  berth_store_close (s);
  return ret < 0 ? ctl_fail (&err) : 0;
}

static int
do_unmount (struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = { { "keep", no_argument, NULL, 'k' }, { NULL, 0, NULL, 0 } };
  bool keep = false;
  struct berth_store *s;
  berth_err err = NULL;
  int c, ret;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    if (c == 'k')
      keep = true;
    else
      return ctl_usage (&ctl_cmd_image, NULL);
  if (argc - optind != 1)
    return ctl_usage (&ctl_cmd_image, "unmount: expected TARGET");
  s = ctl_open_store (ctl);
  if (s == NULL)
    return 1;
  ret = berth_image_unmount (s, argv[optind], keep, &err);
  berth_store_close (s);
  return ret < 0 ? ctl_fail (&err) : 0;
}

static int
run (struct ctl *ctl, int argc, char **argv)
{
  if (argc < 2)
    return ctl_usage (&ctl_cmd_image, "expected mount or unmount");
  if (strcmp (argv[1], "mount") == 0)
    return do_mount (ctl, argc - 1, argv + 1);
  if (strcmp (argv[1], "unmount") == 0 || strcmp (argv[1], "umount") == 0)
    return do_unmount (ctl, argc - 1, argv + 1);
  return ctl_usage (&ctl_cmd_image, "expected mount or unmount");
}

const struct ctl_command ctl_cmd_image = {
  "image",
  "mount [--id ID] IMAGE TARGET | unmount [--keep] TARGET",
  "mount an image's layers as an overlay root filesystem",
  run,
  false,
};
