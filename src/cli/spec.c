/* berth spec: write a default config.json into the bundle, tab-indented like
 * runc's json.MarshalIndent(spec, "", "\t"), refusing to overwrite one. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"
#include "util/log.h"

static const struct berth_flag spec_flags[] = {
  { "bundle, b", BERTH_FLAG_STRING, "path to the root of the bundle directory", NULL },
  { "rootless", BERTH_FLAG_BOOL, "generate a configuration for a rootless container", NULL },
};

/* jansson indents with spaces: one space per level becomes one tab.  JSON
 * strings hold no raw newline, so lines are safe to rewrite. */
static char *
spaces_to_tabs (const char *text)
{
  char *out = malloc (strlen (text) + 1);
  char *o = out;
  bool line_start = true;

  if (out == NULL)
    return NULL;
  for (const char *p = text; *p != '\0'; p++)
    {
      if (line_start && *p == ' ')
        *o++ = '\t';
      else
        {
          line_start = *p == '\n';
          *o++ = *p;
        }
    }
  *o = '\0';
  return out;
}

static int
run_spec (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  const char *bundle = berth_cli_flag (&berth_cmd_spec, args, "bundle")->s;
  bool rootless = berth_cli_flag (&berth_cmd_spec, args, "rootless")->b;
  cleanup_free char *dumped = NULL;
  cleanup_free char *escaped = NULL;
  cleanup_free char *text = NULL;
  cleanup_close int dirfd = -1;
  cleanup_close int fd = -1;
  json_t *spec;
  struct stat st;

  dirfd = open (bundle != NULL && bundle[0] != '\0' ? bundle : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return berth_fail (err, errno, "chdir %s", bundle != NULL ? bundle : ".");
  if (fstatat (dirfd, "config.json", &st, 0) == 0)
    return berth_fail (err, 0, "File config.json exists. Remove it first");
  if (errno != ENOENT)
    return berth_fail (err, errno, "stat config.json");

  spec = berth_spec_default (rootless, getuid (), getgid ());
  if (spec == NULL)
    return berth_fail (err, 0, "cannot build the default spec");
  dumped = json_dumps (spec, JSON_INDENT (1));
  json_decref (spec);
  if (dumped == NULL)
    return berth_fail (err, 0, "cannot encode the default spec");
  escaped = berth_json_go_escape (dumped);
  text = spaces_to_tabs (escaped);
  if (text == NULL)
    return berth_fail (err, ENOMEM, "spec");

  fd = openat (dirfd, "config.json", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    return berth_fail (err, errno, "open config.json");
  if (berth_write_all (fd, text, strlen (text)) < 0)
    return berth_fail (err, errno, "write config.json");
  return 0;
}

const struct berth_cli_command berth_cmd_spec = {
  .name = "spec",
  .summary = "create a new specification file",
  .usage = NULL,
  .description = "The spec command creates the new specification file named \"config.json\" for\n"
                 "the bundle.\n\n"
                 "The spec generated is just a starter file. Editing of the spec is required to\n"
                 "achieve desired results. For example, the newly generated spec includes an args\n"
                 "parameter that is initially set to call the \"sh\" command when the container is\n"
                 "started.\n\n"
                 "Pass --rootless to generate a spec for a container run without root privileges.\n",
  .flags = spec_flags,
  .n_flags = BERTH_N_FLAGS (spec_flags),
  .min_args = 0,
  .max_args = 0,
  .run = run_spec,
};
