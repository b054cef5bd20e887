/* Running a process in a running container from a helper forked by berthd,
 * shared by ExecSync (monitor_exec.c) and the streaming Exec
 * (stream_exec.c), which differ only in what they do once it runs.
 *
 * The helper, not berthd, becomes the process's parent: libberth's exec
 * clones it from the calling process, and a berthd worker thread must not
 * reap by accident.  So the helper prepares the stdio and the signal state
 * the process will inherit, runs `exec --detach --pid-file`, and gets its
 * pid from the file. */
#ifndef BERTH_DAEMON_EXEC_LAUNCH_H
#define BERTH_DAEMON_EXEC_LAUNCH_H

#include <sys/types.h>

#include "util/error.h"

struct exec_launch
{
  const char *state_root; /* berth's --root */
  const char *id;         /* the container */
  char *const *argv;      /* replaces the config's process args */
  const char *pid_path;   /* where exec writes the pid (a private dir of the caller's) */
  const char *console;    /* tty: the console socket exec sends the pty master to; NULL: no tty */
  unsigned rows, cols;    /* tty: the initial size (0: unset) */
  int stdio[3];           /* the process's stdin, stdout, stderr; -1: /dev/null */
  void (*on_term) (int);  /* the helper's SIGTERM handler from before the exec, or NULL
                             (exec(2) resets a handled signal to its default in the process) */
};

/* In the forked helper: stdio from l->stdio, every other fd closed but
 * *report_fd (moved, the new number stored back), signals reset, then the
 * exec.  Returns the process's pid, or -1 with *err (for the report). */
pid_t exec_launch_in_helper (const struct exec_launch *l, int *report_fd, berth_err *err);

/* Then: the helper's copies of the stdio go (to /dev/null), so the caller
 * sees EOF with the process's last writer. */
void exec_launch_drop_stdio (void);

#endif
