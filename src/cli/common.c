#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

const struct berth_flag_value *
berth_cli_flag (const struct berth_cli_command *cmd, const struct berth_args *args, const char *name)
{
  static const struct berth_flag_value unset;
  int i = berth_flag_find (cmd->flags, cmd->n_flags, name);

  return i < 0 ? &unset : &args->values[i];
}

int
berth_cli_print_json (json_t *value, int indent, bool newline, berth_err *err)
{
  size_t flags = JSON_ENCODE_ANY | (indent > 0 ? JSON_INDENT (indent) : JSON_COMPACT);
  cleanup_free char *dumped = json_dumps (value, flags);
  cleanup_free char *text = NULL;

  if (dumped == NULL)
    return berth_fail (err, 0, "cannot encode JSON output");
  text = berth_json_go_escape (dumped);
  if (fputs (text, stdout) < 0 || (newline && putchar ('\n') < 0) || fflush (stdout) != 0)
    return berth_fail (err, errno, "write output");
  return 0;
}

/* Go's filepath.Clean on an absolute path, in place. */
static void
clean_abs_path (char *path)
{
  char *out = path;
  const char *p = path;

  while (*p != '\0')
    {
      while (*p == '/')
        p++;
      const char *end = p + strcspn (p, "/");
      size_t len = end - p;
      if (len == 0 || (len == 1 && p[0] == '.'))
        ;
      else if (len == 2 && p[0] == '.' && p[1] == '.')
        {
          while (out > path && *--out != '/')
            ;
        }
      else
        {
          *out++ = '/';
          memmove (out, p, len);
          out += len;
        }
      p = end;
    }
  if (out == path)
    *out++ = '/';
  *out = '\0';
}

char *
berth_cli_abs_path (const char *path, berth_err *err)
{
  char cwd[PATH_MAX];
  char *abs = NULL;

  if (path == NULL)
    return NULL;
  if (path[0] == '/')
    abs = strdup (path);
  else
    {
      if (getcwd (cwd, sizeof (cwd)) == NULL)
        return berth_fail (err, errno, "getcwd"), NULL;
      if (asprintf (&abs, "%s/%s", cwd, path) < 0)
        abs = NULL;
    }
  if (abs == NULL)
    return berth_fail (err, ENOMEM, "abs %s", path), NULL;
  clean_abs_path (abs);
  return abs;
}

bool
berth_cli_is_not_exist (const struct berth_error *err)
{
  return err != NULL && err->msg != NULL && strstr (err->msg, "container does not exist") != NULL;
}

int
berth_cli_create_options (const struct berth_cli_command *cmd, const struct berth_args *args,
                          struct berth_create_options *opts, char **owned_bundle, char **owned_pid_file, berth_err *err)
{
  const char *bundle = berth_cli_flag (cmd, args, "bundle")->s;
  const struct berth_flag_value *preserve = berth_cli_flag (cmd, args, "preserve-fds");
  char resolved[PATH_MAX];

  memset (opts, 0, sizeof (*opts));
  *owned_bundle = *owned_pid_file = NULL;
  opts->id = args->positional[0];

  /* runc chdirs into the bundle and records getcwd(): an absolute path with
   * symlinks resolved. */
  if (realpath (bundle != NULL && bundle[0] != '\0' ? bundle : ".", resolved) == NULL)
    return berth_fail (err, errno, "chdir %s", bundle != NULL ? bundle : ".");
  *owned_bundle = strdup (resolved);
  if (*owned_bundle == NULL)
    return berth_fail (err, ENOMEM, "bundle");
  opts->bundle = *owned_bundle;

  *owned_pid_file = berth_cli_abs_path (berth_cli_flag (cmd, args, "pid-file")->s, err);
  if (berth_cli_flag (cmd, args, "pid-file")->s != NULL && *owned_pid_file == NULL)
    return -1;
  opts->pid_file = *owned_pid_file;

  opts->console_socket = berth_cli_flag (cmd, args, "console-socket")->s;
  if (opts->console_socket != NULL && opts->console_socket[0] == '\0')
    opts->console_socket = NULL;
  opts->no_pivot = berth_cli_flag (cmd, args, "no-pivot")->b;
  opts->no_new_keyring = berth_cli_flag (cmd, args, "no-new-keyring")->b;
  if (preserve->i < 0 || preserve->i > INT_MAX)
    return berth_fail (err, 0, "invalid --preserve-fds value: %s", preserve->s);
  opts->preserve_fds = (int)preserve->i;
  return 0;
}
