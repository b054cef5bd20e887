/* berthd's side of the monitor: spawn it and hear how create went, ask it
 * to reopen its log.  The protocol is drawn in monitor.h; the monitor's own
 * body is monitor_proc.c. */
#include "daemon/monitor_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"
#include "util/log.h"
#include "util/proc.h"

#define MAX_REPORT_TEXT (64 * 1024)

int
monitor_isolate_fds (int keep, bool null_stdio)
{
  berth_err ignored = NULL;
  int k, null;

  /* berthd's log fd is about to close: drop it while its number is still
     its own (reset closes it), and log to /dev/null afterwards, not to an
     fd number that will be a container's pipe. */
  berth_log_reset ();
  if (null_stdio)
    {
      null = open ("/dev/null", O_RDWR | O_CLOEXEC);
      if (null < 0)
        return -1;
      for (int i = 0; i <= 2; i++)
        if (null != i && dup2 (null, i) < 0)
          return -1;
      if (null > 2)
        close (null);
    }
  k = fcntl (keep, F_DUPFD_CLOEXEC, 3);
  if (k < 0)
    return -1;
  if (k > 3)
    close_range (3, k - 1, 0);
  close_range (k + 1, ~0U, 0);
  if (k != 3)
    {
      if (dup3 (k, 3, O_CLOEXEC) < 0)
        return -1;
      close (k);
    }
  if (berth_log_init ("/dev/null", NULL, false, &ignored) < 0)
    berth_err_free (&ignored);
  return 3;
}

/* The kernel's struct sigaction for rt_sigaction(2) on x86-64 and most
 * others (glibc's differs in layout). */
struct kernel_sigaction
{
  void (*handler) (int);
  unsigned long flags;
  void (*restorer) (void);
  unsigned long mask;
};

void
monitor_reset_signals (void)
{
  sigset_t none;

  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal (sig, SIG_DFL);
  /* glibc refuses signals 32 and 33 (its own, for thread cancellation and
   * setxid), so an ignored one inherited from berthd's parent would stay
   * ignored through exec into the container: undo that with the system
   * call itself.  Only SIG_IGN is reset: a handler there is glibc's. */
  for (int sig = 32; sig < SIGRTMIN; sig++)
    {
      struct kernel_sigaction old = { 0 }, dfl = { .handler = SIG_DFL };
      if (syscall (SYS_rt_sigaction, sig, NULL, &old, sizeof (old.mask)) == 0 && old.handler == SIG_IGN)
        syscall (SYS_rt_sigaction, sig, &dfl, NULL, sizeof (dfl.mask));
    }
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
}

static int
check_opts (const struct monitor_opts *o, berth_err *err)
{
  if (o->id == NULL || o->id[0] == '\0')
    return berth_fail (err, 0, "monitor: id: required");
  if (o->bundle == NULL || o->bundle[0] == '\0')
    return berth_fail (err, 0, "monitor `%s`: bundle: required", o->id);
  if (o->state_root == NULL || o->state_root[0] == '\0')
    return berth_fail (err, 0, "monitor `%s`: state_root: required", o->id);
  if (o->exit_file == NULL || o->exit_file[0] != '/')
    return berth_fail (err, 0, "monitor `%s`: exit_file: an absolute path is required", o->id);
  return 0;
}

int
monitor_spawn (const struct monitor_opts *o, struct monitor_info *out, berth_err *err)
{
  struct monitor_report r = { 0 };
  cleanup_free char *text = NULL;
  cleanup_close int rd = -1;
  int p[2], status;
  pid_t a;

  memset (out, 0, sizeof (*out));
  if (check_opts (o, err) < 0)
    return -1;
  if (pipe2 (p, O_CLOEXEC) < 0)
    return berth_fail (err, errno, "monitor `%s`: pipe", o->id);
  rd = p[0];
  a = fork ();
  if (a < 0)
    {
      int saved = errno;
      close (p[1]);
      return berth_fail (err, saved, "monitor `%s`: fork", o->id);
    }
  if (a == 0)
    {
      /* A: a new session, then the monitor, then gone, so the monitor is
         nobody's child in berthd and no terminal's. */
      pid_t m;
      close (p[0]);
      if (setsid () < 0)
        _exit (1);
      m = fork ();
      if (m == 0)
        monitor_process_main (o, p[1]);
      _exit (m < 0 ? 1 : 0);
    }
  close (p[1]);
  while (waitpid (a, &status, 0) < 0 && errno == EINTR)
    ;
  /* Read exactly the report: the init keeps a copy of the pipe open until
     it execs, so EOF would only come at start. */
  if (berth_read_exact (rd, &r, sizeof (r)) < 0)
    return berth_fail (err, 0, "monitor `%s`: exited before reporting how create went", o->id);
  if (r.msg_len > MAX_REPORT_TEXT)
    return berth_fail (err, 0, "monitor `%s`: report text too long (%u bytes)", o->id, r.msg_len);
  text = calloc (1, r.msg_len + 1);
  if (text == NULL || (r.msg_len > 0 && berth_read_exact (rd, text, r.msg_len) < 0))
    return berth_fail (err, 0, "monitor `%s`: truncated report", o->id);
  if (!r.ok)
    return berth_fail (err, 0, "%s", text[0] ? text : "create failed");
  out->pid = r.monitor_pid;
  out->start_time = r.start_time;
  out->init_pid = r.init_pid;
  return 0;
}

bool
monitor_alive (const struct monitor_info *m)
{
  return m->pid > 0 && m->start_time != 0 && berth_proc_start_time (m->pid) == m->start_time;
}

int
monitor_reopen_log (const struct monitor_info *m, const char *log_path, berth_err *err)
{
  struct stat sb;

  if (!monitor_alive (m))
    return berth_fail (err, 0, "container is not running (its monitor, pid %d, is gone)", (int)m->pid);
  if (kill (m->pid, SIGUSR1) < 0)
    return berth_fail (err, errno, "signal monitor %d", (int)m->pid);
  if (log_path == NULL)
    return 0;
  /* The monitor opens the path anew; the caller (the kubelet) renamed the
     old file away, so its reappearance is the answer. */
  for (int i = 0; i < 100; i++)
    {
      if (stat (log_path, &sb) == 0)
        return 0;
      if (!monitor_alive (m))
        break;
      nanosleep (&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
    }
  return berth_fail (err, 0, "log file `%s` was not reopened by monitor %d", log_path, (int)m->pid);
}
