/* berth ps ID [ps options]: the container's processes.  json: the pid list;
 * table: the host's `ps` (default `-ef`) output, header plus the lines whose
 * PID column is one of the container's, as runc does. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"

extern char **environ;

static const struct berth_flag ps_flags[] = {
  { "format, f", BERTH_FLAG_STRING, "select one of: table or json", "table" },
};

/* Runs `ps args...` and returns its stdout and stderr together. */
static char *
run_host_ps (char *const *ps_args, size_t n_args, berth_err *err)
{
  cleanup_free char **argv = calloc (n_args + 2, sizeof (char *));
  posix_spawn_file_actions_t actions;
  int fds[2];
  char *out = NULL;
  size_t len = 0;
  FILE *mem;
  pid_t pid;
  int status = 0;
  int r;

  if (argv == NULL || (mem = open_memstream (&out, &len)) == NULL)
    return berth_fail (err, ENOMEM, "ps"), NULL;
  argv[0] = (char *)"ps";
  memcpy (argv + 1, ps_args, n_args * sizeof (char *));
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return fclose (mem), free (out), berth_fail (err, errno, "pipe"), NULL;
  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_adddup2 (&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2 (&actions, fds[1], STDERR_FILENO);
  r = posix_spawnp (&pid, "ps", &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&actions);
  close (fds[1]);
  if (r != 0)
    {
      close (fds[0]);
      fclose (mem);
      free (out);
      return berth_fail (err, 0, "exec: \"ps\": executable file not found in $PATH: "), NULL;
    }
  for (;;)
    {
      char chunk[4096];
      ssize_t n = read (fds[0], chunk, sizeof (chunk));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      fwrite (chunk, 1, n, mem);
    }
  close (fds[0]);
  fclose (mem);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return out;
  if (WIFEXITED (status))
    berth_fail (err, 0, "exit status %d: %s", WEXITSTATUS (status), out);
  else
    berth_fail (err, 0, "signal: %s: %s", strsignal (WTERMSIG (status)), out);
  free (out);
  return NULL;
}

/* Index of the "PID" field of the header, or -1. */
static int
pid_field_index (const char *header)
{
  cleanup_free char *copy = strdup (header);
  char *save = NULL;
  int i = 0;

  for (char *f = strtok_r (copy, " \t", &save); f != NULL; f = strtok_r (NULL, " \t", &save), i++)
    if (strcmp (f, "PID") == 0)
      return i;
  return -1;
}

static int
print_matching_lines (char *output, const pid_t *pids, size_t n_pids, berth_err *err)
{
  char *save = NULL;
  char *header = strtok_r (output, "\n", &save);
  int index = header != NULL ? pid_field_index (header) : -1;

  if (index < 0)
    return berth_fail (err, 0, "couldn't find PID field in ps output");
  printf ("%s\n", header);
  for (char *line = strtok_r (NULL, "\n", &save); line != NULL; line = strtok_r (NULL, "\n", &save))
    {
      cleanup_free char *copy = strdup (line);
      char *fsave = NULL;
      char *field = strtok_r (copy, " \t", &fsave);
      char *end = NULL;
      for (int i = 0; i < index && field != NULL; i++)
        field = strtok_r (NULL, " \t", &fsave);
      long pid = field != NULL ? strtol (field, &end, 10) : 0;
      if (field == NULL || *end != '\0')
        return berth_fail (err, 0, "unable to parse pid: %s", field != NULL ? field : line);
      for (size_t i = 0; i < n_pids; i++)
        if (pids[i] == (pid_t)pid)
          {
            printf ("%s\n", line);
            break;
          }
    }
  return 0;
}

static int
run_ps (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  const char *format = berth_cli_flag (&berth_cmd_ps, args, "format")->s;
  static char *default_args[] = { (char *)"-ef" };
  cleanup_free pid_t *pids = NULL;
  cleanup_free char *output = NULL;
  size_t n = 0;

  if (berth_container_pids (&cli->ctx, args->positional[0], &pids, &n, err) < 0)
    return -1;
  if (format == NULL || strcmp (format, "table") == 0)
    ;
  else if (strcmp (format, "json") == 0)
    {
      json_t *array = n > 0 ? json_array () : json_null ();
      for (size_t i = 0; i < n; i++)
        json_array_append_new (array, json_integer (pids[i]));
      int ret = berth_cli_print_json (array, 0, true, err);
      json_decref (array);
      return ret < 0 ? -1 : 0;
    }
  else
    return berth_fail (err, 0, "invalid format option");

  if (args->n_positional > 1)
    output = run_host_ps (args->positional + 1, args->n_positional - 1, err);
  else
    output = run_host_ps (default_args, 1, err);
  if (output == NULL)
    return -1;
  fflush (stdout);
  return print_matching_lines (output, pids, n, err) < 0 ? -1 : 0;
}

const struct berth_cli_command berth_cmd_ps = {
  .name = "ps",
  .summary = "ps displays the processes running inside a container",
  .usage = "<container-id> [ps options]",
  .flags = ps_flags,
  .n_flags = BERTH_N_FLAGS (ps_flags),
  .min_args = 1,
  .max_args = -1,
  .skip_reorder = true,
  .run = run_ps,
};
