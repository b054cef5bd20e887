/* berth exec: start another process in a running container.
 *
 * With --process FILE the process is that JSON object as is (runc 1.1 then
 * ignores the other process flags).  Otherwise it is the container's config
 * process with runc's overrides: args from the command line, --cwd,
 * --env (a key given again replaces the old value), --user, --additional-gids,
 * --cap (bounding, effective, permitted; ambient only when the config has
 * inheritable capabilities), --tty (terminal is false unless given),
 * --no-new-privs, --apparmor, --process-label.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

static const struct berth_flag exec_flags[] = {
  { "console-socket", BERTH_FLAG_STRING,
    "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's "
    "pseudoterminal",
    NULL },
  { "cwd", BERTH_FLAG_STRING, "current working directory in the container", NULL },
  { "env, e", BERTH_FLAG_STRING_LIST, "set environment variables", NULL },
  { "tty, t", BERTH_FLAG_BOOL, "allocate a pseudo-TTY", NULL },
  { "user, u", BERTH_FLAG_STRING, "UID (format: <uid>[:<gid>])", NULL },
  { "additional-gids, g", BERTH_FLAG_INT_LIST, "additional gids", NULL },
  { "process, p", BERTH_FLAG_STRING, "path to the process.json", NULL },
  { "detach, d", BERTH_FLAG_BOOL, "detach from the container's process", NULL },
  { "pid-file", BERTH_FLAG_STRING, "specify the file to write the process id to", NULL },
  { "process-label", BERTH_FLAG_STRING, "set the asm process label for the process commonly used with selinux", NULL },
  { "apparmor", BERTH_FLAG_STRING, "set the apparmor profile for the process", NULL },
  { "no-new-privs", BERTH_FLAG_BOOL, "set the no new privileges value for the process", NULL },
  { "cap, c", BERTH_FLAG_STRING_LIST, "add a capability to the bounding set for the process", NULL },
  { "preserve-fds", BERTH_FLAG_INT,
    "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)", "0" },
  { "cgroup", BERTH_FLAG_STRING_LIST,
    "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>.", NULL },
  { "ignore-paused", BERTH_FLAG_BOOL, "allow exec in a paused container", NULL },
};

#define FLAG(name) berth_cli_flag (&berth_cmd_exec, args, name)

static char *
xstrdup (const char *s)
{
  char *copy = strdup (s);
  if (copy == NULL)
    abort ();
  return copy;
}

static void
set_string (char **field, const char *value)
{
  free (*field);
  *field = xstrdup (value);
}

/* Replace the variable with the same key, or append. */
static void
set_env (struct berth_process *p, const char *entry)
{
  size_t key_len = strcspn (entry, "=");

  for (size_t i = 0; i < p->n_env; i++)
    if (strncmp (p->env[i], entry, key_len) == 0 && (p->env[i][key_len] == '=' || p->env[i][key_len] == '\0'))
      {
        set_string (&p->env[i], entry);
        return;
      }
  p->env = realloc (p->env, (p->n_env + 2) * sizeof (char *));
  if (p->env == NULL)
    abort ();
  p->env[p->n_env++] = xstrdup (entry);
  p->env[p->n_env] = NULL;
}

/* "uid[:gid]", decimal as Go's strconv.Atoi (negative values wrap, as in runc). */
static int
set_user (struct berth_process *p, const char *spec, berth_err *err)
{
  cleanup_free char *copy = xstrdup (spec);
  char *colon = strchr (copy, ':');
  char *end = NULL;
  long long n;

  if (colon != NULL)
    {
      *colon = '\0';
      errno = 0;
      n = strtoll (colon + 1, &end, 10);
      if (colon[1] == '\0' || *end != '\0' || errno != 0)
        return berth_fail (err, 0, "parsing %s as int for gid failed: strconv.Atoi: parsing \"%s\": invalid syntax",
                           colon + 1, colon + 1);
      p->user.gid = (uint32_t)n;
    }
  errno = 0;
  n = strtoll (copy, &end, 10);
  if (copy[0] == '\0' || *end != '\0' || errno != 0)
    return berth_fail (err, 0, "parsing %s as int for uid failed: strconv.Atoi: parsing \"%s\": invalid syntax", copy,
                       copy);
  p->user.uid = (uint32_t)n;
  return 0;
}

static int
add_gids (struct berth_process *p, const struct berth_flag_value *gids, berth_err *err)
{
  for (size_t i = 0; i < gids->n_list; i++)
    {
      long long gid = strtoll (gids->list[i], NULL, 0); /* checked by the parser */
      if (gid < 0 || gid > UINT32_MAX)
        return berth_fail (err, 0, "additional-gids must be a positive number %lld", gid);
      p->user.additional_gids = realloc (p->user.additional_gids, (p->user.n_additional_gids + 1) * sizeof (uint32_t));
      if (p->user.additional_gids == NULL)
        abort ();
      p->user.additional_gids[p->user.n_additional_gids++] = (uint32_t)gid;
    }
  return 0;
}

static int
add_caps (struct berth_process *p, const struct berth_flag_value *caps, berth_err *err)
{
  if (caps->n_list > 0 && p->capabilities == NULL)
    {
      p->capabilities = calloc (1, sizeof (*p->capabilities));
      if (p->capabilities == NULL)
        abort ();
    }
  for (size_t i = 0; i < caps->n_list; i++)
    {
      int cap = berth_capability_from_name (caps->list[i]);
      if (cap < 0 || cap > 63)
        return berth_fail (err, 0, "unknown capability \"%s\"", caps->list[i]);
      uint64_t bit = UINT64_C (1) << cap;
      p->capabilities->bounding |= bit;
      p->capabilities->effective |= bit;
      p->capabilities->permitted |= bit;
      /* Ambient needs inheritable, which --cap does not add. */
      if (p->capabilities->inheritable != 0)
        p->capabilities->ambient |= bit;
    }
  return 0;
}

static int
apply_overrides (struct berth_process *p, const struct berth_args *args, berth_err *err)
{
  const struct berth_flag_value *env = FLAG ("env");

  berth_strvp (&p->args);
  p->n_args = args->n_positional - 1;
  p->args = calloc (p->n_args + 1, sizeof (char *));
  if (p->args == NULL)
    abort ();
  for (size_t i = 0; i < p->n_args; i++)
    p->args[i] = xstrdup (args->positional[i + 1]);

  if (FLAG ("cwd")->s != NULL && FLAG ("cwd")->s[0] != '\0')
    set_string (&p->cwd, FLAG ("cwd")->s);
  if (FLAG ("apparmor")->s != NULL && FLAG ("apparmor")->s[0] != '\0')
    set_string (&p->apparmor_profile, FLAG ("apparmor")->s);
  if (FLAG ("process-label")->s != NULL && FLAG ("process-label")->s[0] != '\0')
    set_string (&p->selinux_label, FLAG ("process-label")->s);
  if (add_caps (p, FLAG ("cap"), err) < 0)
    return -1;
  for (size_t i = 0; i < env->n_list; i++)
    set_env (p, env->list[i]);
  p->terminal = FLAG ("tty")->set ? FLAG ("tty")->b : false;
  if (FLAG ("no-new-privs")->set)
    p->no_new_privileges = FLAG ("no-new-privs")->b;
  if (FLAG ("user")->s != NULL && FLAG ("user")->s[0] != '\0' && set_user (p, FLAG ("user")->s, err) < 0)
    return -1;
  return add_gids (p, FLAG ("additional-gids"), err);
}

/* runc's validateProcessSpec. */
static int
validate_process (const struct berth_process *p, berth_err *err)
{
  if (p->cwd == NULL || p->cwd[0] == '\0')
    return berth_fail (err, 0, "Cwd property must not be empty");
  if (p->cwd[0] != '/')
    return berth_fail (err, 0, "Cwd must be an absolute path");
  if (p->n_args == 0)
    return berth_fail (err, 0, "args must not be empty");
  return 0;
}

static struct berth_process *
load_process_file (const char *path, berth_err *err)
{
  json_error_t jerr;
  json_t *obj = json_load_file (path, 0, &jerr);
  struct berth_process *p;

  if (obj == NULL && jerr.line < 0) /* could not read it: jansson's text names the path */
    return berth_fail (err, 0, "%s", jerr.text), NULL;
  if (obj == NULL)
    return berth_fail (err, 0, "%s:%d: %s", path, jerr.line, jerr.text), NULL;
  p = berth_process_parse (obj, "", err);
  json_decref (obj);
  if (p == NULL)
    berth_wrap (err, "%s", path);
  return p;
}

static struct berth_process *
build_process (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  const char *path = FLAG ("process")->s;
  struct berth_process *p;

  if (path != NULL && path[0] != '\0')
    p = load_process_file (path, err);
  else
    {
      p = berth_container_load_process (&cli->ctx, args->positional[0], err);
      if (p != NULL && apply_overrides (p, args, err) < 0)
        berth_process_free (p), p = NULL;
    }
  if (p != NULL && validate_process (p, err) < 0)
    berth_process_free (p), p = NULL;
  return p;
}

/* runc refuses these before reading the process. */
static int
check_container (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  struct berth_container_info *info = NULL;
  int ret = 0;

  if (berth_container_state (&cli->ctx, args->positional[0], &info, err) < 0)
    return -1;
  if (info->status == BERTH_STATUS_STOPPED)
    ret = berth_fail (err, 0, "cannot exec in a stopped container");
  else if (info->status == BERTH_STATUS_PAUSED && !FLAG ("ignore-paused")->b)
    ret = berth_fail (err, 0, "cannot exec in a paused container (use --ignore-paused to override)");
  else if ((FLAG ("process")->s == NULL || FLAG ("process")->s[0] == '\0') && args->n_positional == 1)
    ret = berth_fail (err, 0, "process args cannot be empty");
  else if (FLAG ("cgroup")->n_list > 0)
    ret = berth_fail (err, 0, "exec --cgroup is not supported by berth");
  berth_container_info_free (info);
  return ret;
}

static int
run_exec (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  struct berth_exec_options opts = { 0 };
  cleanup_free char *pid_file = NULL;
  const struct berth_flag_value *preserve = FLAG ("preserve-fds");
  int status = 0;
  int ret;

  if (check_container (cli, args, err) < 0)
    return -1;
  if (preserve->i < 0 || preserve->i > 1 << 20)
    return berth_fail (err, 0, "invalid --preserve-fds value: %s", preserve->s);
  pid_file = berth_cli_abs_path (FLAG ("pid-file")->s, err);
  if (FLAG ("pid-file")->s != NULL && pid_file == NULL)
    return -1;
  opts.process = build_process (cli, args, err);
  if (opts.process == NULL)
    return -1;
  opts.console_socket = FLAG ("console-socket")->s;
  if (opts.console_socket != NULL && opts.console_socket[0] == '\0')
    opts.console_socket = NULL;
  opts.pid_file = pid_file;
  opts.detach = FLAG ("detach")->b;
  opts.preserve_fds = (int)preserve->i;
  ret = berth_container_exec (&cli->ctx, args->positional[0], &opts, &status, err);
  berth_process_free (opts.process);
  if (ret < 0)
    return -1;
  return opts.detach ? 0 : status;
}

const struct berth_cli_command berth_cmd_exec = {
  .sealed_exe = true,
  .error_status = 255,
  .name = "exec",
  .summary = "execute new process inside the container",
  .usage = "<container-id> <command> [command options]  || -p process.json <container-id>\n\n"
           "Where \"<container-id>\" is the name for the instance of the container and\n"
           "\"<command>\" is the command to be executed in the container.\n"
           "\"<command>\" can't be empty unless a \"-p\" flag provided.\n\n"
           "EXAMPLE:\n"
           "For example, if the container is configured to run the linux ps command the\n"
           "following will output a list of processes running in the container:\n\n"
           "       # berth exec <container-id> ps",
  .flags = exec_flags,
  .n_flags = BERTH_N_FLAGS (exec_flags),
  .min_args = 1,
  .max_args = -1,
  .skip_reorder = true,
  .run = run_exec,
};
