/* berthctl images [--format table|json] */
#include "berthctl/berthctl.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void
human_size (int64_t n, char *buf, size_t len)
{
  const char *units[] = { "B", "kB", "MB", "GB", "TB" };
  double v = (double)n;
  size_t u = 0;

  while (v >= 1000 && u < 4)
    {
      v /= 1000;
      u++;
    }
  snprintf (buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void
print_table (json_t *list)
{
  size_t i, w = 10;
  json_t *v;

  json_array_foreach (list, i, v)
  {
    size_t n = strlen (json_string_value (json_object_get (v, "name")));
    if (n > w)
      w = n;
  }
  printf ("%-*s  %-12s  %-12s  %-20s  %s\n", (int)w, "NAME", "IMAGE ID", "DIGEST", "CREATED", "SIZE");
  json_array_foreach (list, i, v)
  {
    char size[32];
    const char *created = json_string_value (json_object_get (v, "created"));
    human_size (json_integer_value (json_object_get (v, "size")), size, sizeof (size));
    printf ("%-*s  %.12s  %.12s  %-20.20s  %s\n", (int)w, json_string_value (json_object_get (v, "name")),
            json_string_value (json_object_get (v, "id")) + 7, json_string_value (json_object_get (v, "digest")) + 7,
            created ? created : "-", size);
  }
}

static int
run (struct ctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
    { "format", required_argument, NULL, 'f' },
    { NULL, 0, NULL, 0 },
  };
  const char *format = "table";
  struct berth_store *s;
  berth_err err = NULL;
  json_t *list;
  int c;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    if (c == 'f')
      format = optarg;
    else
      return ctl_usage (&ctl_cmd_images, NULL);
  if (strcmp (format, "table") != 0 && strcmp (format, "json") != 0)
    return ctl_usage (&ctl_cmd_images, "--format: expected table or json");
  if (optind != argc)
    return ctl_usage (&ctl_cmd_images, "no arguments expected");
  s = ctl_open_store (ctl);
  if (s == NULL)
    return 1;
  list = berth_image_list (s, &err);
  berth_store_close (s);
  if (list == NULL)
    return ctl_fail (&err);
  if (strcmp (format, "json") == 0)
    {
      json_dumpf (list, stdout, JSON_INDENT (2));
      putchar ('\n');
    }
  else
    print_table (list);
  json_decref (list);
  return 0;
}

const struct ctl_command ctl_cmd_images = {
  "images", "[--format table|json]", "list images", run, false,
};
