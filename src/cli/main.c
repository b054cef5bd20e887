/* berth: the OCI runtime with runc's command line.
 *
 * main parses the global flags, sets up logging, finds the verb, parses its
 * flags, checks its argument count and runs it, reproducing runc's (urfave/cli)
 * usage errors, help, exit codes and error lines.  Verbs live one per file;
 * add a new one to `commands` below.
 */
#include "cli/cli.h"
#include "runtime/sealed_exe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static const struct berth_cli_command *const commands[] = {
  &berth_cmd_create, &berth_cmd_delete, &berth_cmd_events, &berth_cmd_exec,   &berth_cmd_kill,
  &berth_cmd_list,   &berth_cmd_pause,  &berth_cmd_ps,     &berth_cmd_resume, &berth_cmd_run,
  &berth_cmd_spec,   &berth_cmd_start,  &berth_cmd_state,  &berth_cmd_update, &berth_cmd_features,
};
#define N_COMMANDS (sizeof (commands) / sizeof (commands[0]))

/* Order as in runc's help.  Used by help.c too. */
const struct berth_flag berth_global_flags[] = {
  { "debug", BERTH_FLAG_BOOL, "enable debug logging", NULL },
  { "log", BERTH_FLAG_STRING, "set the log file to write berth logs to (default is '/dev/stderr')", NULL },
  { "log-format", BERTH_FLAG_STRING, "set the log format ('text' (default), or 'json')", "text" },
  { "root", BERTH_FLAG_STRING, "root directory for storage of container state (this should be located in tmpfs)",
    BERTH_DEFAULT_ROOT },
  { "criu", BERTH_FLAG_STRING, "path to the criu binary used for checkpoint and restore (accepted, unused)", "criu" },
  { "systemd-cgroup", BERTH_FLAG_BOOL,
    "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. "
    "\"system.slice:berth:434234\"",
    NULL },
  { "rootless", BERTH_FLAG_STRING, "ignore cgroup permission errors ('true', 'false', or 'auto')", "auto" },
  { "version, v", BERTH_FLAG_BOOL, "print the version", NULL },
};
/* --version is listed by help.c after --help, as urfave does. */
const size_t berth_n_global_flags = sizeof (berth_global_flags) / sizeof (berth_global_flags[0]) - 1;

enum
{
  G_DEBUG,
  G_LOG,
  G_LOG_FORMAT,
  G_ROOT,
  G_CRIU,
  G_SYSTEMD_CGROUP,
  G_ROOTLESS,
  G_VERSION,
  G_COUNT
};

/* runc logs a usage error after printing help on stdout; exit status 1. */
static int
usage_error (const char *msg)
{
  struct berth_error e = { .msg = (char *)msg };

  fflush (stdout);
  berth_log_error_and_print (&e);
  return 1;
}

static const struct berth_cli_command *
find_command (const char *name)
{
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp (commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

/* urfave's "No help topic for 'x'": logged, also on stderr when logging to a
 * file, exit status 3. */
static int
no_help_topic (const char *name, bool log_to_file)
{
  berth_log (BERTH_LOG_ERROR, "No help topic for '%s'\n", name);
  if (log_to_file)
    fprintf (stderr, "No help topic for '%s'\n", name);
  return 3;
}

static int
check_arg_count (const struct berth_cli *cli, const struct berth_cli_command *cmd, size_t n)
{
  char *msg = NULL;
  int r = 0;

  if (cmd->min_args == cmd->max_args && n != (size_t)cmd->min_args)
    r = asprintf (&msg, "%s: \"%s\" requires exactly %d argument(s)", cli->argv0, cmd->name, cmd->min_args);
  else if (n < (size_t)cmd->min_args)
    r = asprintf (&msg, "%s: \"%s\" requires a minimum of %d argument(s)", cli->argv0, cmd->name, cmd->min_args);
  else if (cmd->max_args >= 0 && n > (size_t)cmd->max_args)
    r = asprintf (&msg, "%s: \"%s\" requires a maximum of %d argument(s)", cli->argv0, cmd->name, cmd->max_args);
  if (r < 0)
    abort ();
  if (msg == NULL)
    return 0;
  printf ("Incorrect Usage.\n\n");
  berth_cli_print_command_help (cli, cmd);
  usage_error (msg);
  free (msg);
  return 1;
}

static int
run_command (struct berth_cli *cli, const struct berth_cli_command *cmd, int argc, char **argv)
{
  struct berth_args args;
  berth_err err = NULL;
  char *parse_error = NULL;
  int status;

  if (berth_args_parse (cmd->flags, cmd->n_flags, argc, argv, !cmd->skip_reorder, &args, &parse_error) < 0)
    {
      printf ("Incorrect Usage: %s\n\n", parse_error);
      berth_cli_print_command_help (cli, cmd);
      status = usage_error (parse_error);
    }
  else if (args.help)
    {
      berth_cli_print_command_help (cli, cmd);
      status = 0;
    }
  else if ((status = check_arg_count (cli, cmd, args.n_positional)) == 0)
    {
      if (cmd->sealed_exe && berth_ensure_sealed_exe (cli->main_argv, &err) < 0)
        status = -1;
      else
        status = cmd->run (cli, &args, &err);
      if (status < 0)
        {
          fflush (stdout);
          berth_log_error_and_print (err);
          status = cmd->error_status ? cmd->error_status : 1;
        }
    }
  free (parse_error);
  berth_err_free (&err);
  berth_args_free (&args);
  return status;
}

/* `help [command]` */
static int
run_help (struct berth_cli *cli, int argc, char **argv, bool log_to_file)
{
  const struct berth_cli_command *cmd;

  if (argc == 0)
    {
      berth_cli_print_app_help (cli, commands, N_COMMANDS);
      return 0;
    }
  cmd = find_command (argv[0]);
  if (cmd == NULL)
    return no_help_topic (argv[0], log_to_file);
  berth_cli_print_command_help (cli, cmd);
  return 0;
}

/* The global flags into cli; logging set up as runc's Before hook does. */
static int
apply_global_flags (struct berth_cli *cli, const struct berth_args *g, char **owned_root, berth_err *err)
{
  const char *root = g->values[G_ROOT].set ? g->values[G_ROOT].s : BERTH_DEFAULT_ROOT;

  if (berth_log_init (g->values[G_LOG].s, g->values[G_LOG_FORMAT].s, g->values[G_DEBUG].b, err) < 0)
    return -1;
  /* runc makes --root absolute before anything uses it. */
  if (root[0] != '\0')
    {
      *owned_root = berth_cli_abs_path (root, err);
      if (*owned_root == NULL)
        return -1;
      root = *owned_root;
    }
  cli->ctx.state_root = root;
  cli->ctx.debug = g->values[G_DEBUG].b;
  cli->ctx.systemd_cgroup = g->values[G_SYSTEMD_CGROUP].b;
  cli->rootless = g->values[G_ROOTLESS].set ? g->values[G_ROOTLESS].s : "auto";
  return 0;
}

int
main (int argc, char **argv)
{
  struct berth_cli cli = { .argv0 = argc > 0 ? argv[0] : "berth", .main_argv = argv };
  struct berth_args g;
  berth_err err = NULL;
  char *parse_error = NULL;
  char *owned_root = NULL;
  const struct berth_cli_command *cmd;
  int status;

  if (berth_args_parse (berth_global_flags, G_COUNT, argc - 1, argv + 1, false, &g, &parse_error) < 0)
    {
      printf ("Incorrect Usage. %s\n\n", parse_error);
      berth_cli_print_app_help (&cli, commands, N_COMMANDS);
      status = usage_error (parse_error);
    }
  else if (g.help || (g.n_positional == 0 && !g.values[G_VERSION].b))
    {
      berth_cli_print_app_help (&cli, commands, N_COMMANDS);
      status = 0;
    }
  else if (g.values[G_VERSION].b)
    {
      berth_cli_print_version ();
      status = 0;
    }
  else if (apply_global_flags (&cli, &g, &owned_root, &err) < 0)
    {
      berth_log_error_and_print (err);
      status = 1;
    }
  else
    {
      const char *name = g.positional[0];
      bool log_to_file = g.values[G_LOG].s != NULL && g.values[G_LOG].s[0] != '\0';
      if (strcmp (name, "help") == 0 || strcmp (name, "h") == 0)
        status = run_help (&cli, (int)g.n_positional - 1, g.positional + 1, log_to_file);
      else if ((cmd = find_command (name)) == NULL)
        status = no_help_topic (name, log_to_file);
      else
        status = run_command (&cli, cmd, (int)g.n_positional - 1, g.positional + 1);
    }
  fflush (stdout);
  free (parse_error);
  free (owned_root);
  berth_err_free (&err);
  berth_args_free (&g);
  berth_log_reset ();
  return status;
}
