/* The first half of every helper that runs a process in a running
 * container for berthd (ExecSync: monitor_exec.c; the streaming Exec:
 * stream_exec.c): see exec_launch.h. */
#include "daemon/exec_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/monitor_internal.h"
#include "runtime/container.h"
#include "util/file.h"

/* The config's process with argv instead of its args, and the tty asked. */
static int
set_process (struct berth_process *p, const struct exec_launch *l)
{
  size_t n = 0;

  while (l->argv[n])
    n++;
  for (size_t i = 0; i < p->n_args; i++)
    free (p->args[i]);
  free (p->args);
  p->args = calloc (n + 1, sizeof (char *));
  p->n_args = 0;
  if (p->args == NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    if ((p->args[i] = strdup (l->argv[i])) == NULL)
      return -1;
  p->n_args = n;
  p->terminal = l->console != NULL;
  p->has_console_size = p->terminal && l->rows && l->cols;
  p->console_height = l->rows;
  p->console_width = l->cols;
  return 0;
}

pid_t
exec_launch_in_helper (const struct exec_launch *l, int *report_fd, berth_err *err)
{
  struct berth_context ctx = { .state_root = l->state_root };
  struct berth_exec_options eo = { .detach = true, .pid_file = l->pid_path, .console_socket = l->console };
  struct berth_process *proc;
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  int status;
  pid_t pid = -1;

  if (null < 0)
    _exit (127);
  for (int i = 0; i < 3; i++)
    if (dup2 (l->stdio[i] >= 0 ? l->stdio[i] : null, i) < 0)
      _exit (127);
  *report_fd = monitor_isolate_fds (*report_fd, false);
  monitor_reset_signals ();
  if (*report_fd < 0)
    _exit (127);
  if (l->on_term)
    sigaction (SIGTERM, &(struct sigaction){ .sa_handler = l->on_term }, NULL);
  proc = berth_container_load_process (&ctx, l->id, err);
  if (proc == NULL)
    return -1;
  if (set_process (proc, l) < 0)
    berth_fail (err, ENOMEM, "exec in `%s`: args", l->id);
  else
    {
      eo.process = proc;
      if (berth_container_exec (&ctx, l->id, &eo, &status, err) == 0
          && (pid = berth_read_pid_file (l->pid_path)) <= 0)
        {
          berth_fail (err, 0, "exec in `%s`: no pid in `%s`", l->id, l->pid_path);
          pid = -1;
        }
    }
  berth_process_free (proc);
  return pid;
}

void
exec_launch_drop_stdio (void)
{
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);

  for (int i = 0; null >= 0 && i < 3; i++)
    dup2 (null, i);
  if (null > 2)
    close (null);
}
