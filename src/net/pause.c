/* The pause process: pid 1 of a pod's shared pid namespace.
 *
 *   berthd ── fork ──▶ middle                         pause (pid 1 of new ns)
 *                      setns net, ipc, uts
 *                      unshare (CLONE_NEWPID)
 *                      fork ─────────────────────▶    setsid, close fds,
 *     read {stage, errno, pid} ◀── write                signals, pause () loop
 *     waitpid (middle)           _exit (0)
 *
 * A pid namespace lives only as long as its init, so it cannot be pinned by a
 * bind mount like net/ipc/uts.  The middle process exits at once, so the pause
 * is reparented to init (or the nearest subreaper) and outlives berthd; no
 * parent-death signal is set.  Both children run async-signal-safe calls only
 * (berthd is multi-threaded when it forks), which is why there is no exec of a
 * separate pause binary: berth ships none, and the forked copy shares berthd's
 * pages copy-on-write.
 */
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/proc.h"

enum pause_stage
{
  PAUSE_OK = 0,
  PAUSE_SETNS_NET,
  PAUSE_SETNS_IPC,
  PAUSE_SETNS_UTS,
  PAUSE_UNSHARE,
  PAUSE_FORK,
};

static const char *const stage_names[] = {
  [PAUSE_OK] = "ok",
  [PAUSE_SETNS_NET] = "join net namespace",
  [PAUSE_SETNS_IPC] = "join ipc namespace",
  [PAUSE_SETNS_UTS] = "join uts namespace",
  [PAUSE_UNSHARE] = "unshare pid namespace",
  [PAUSE_FORK] = "fork pid 1",
};

struct pause_status
{
  int stage;
  int errnum;
  pid_t pid;
};

static void
pause_on_term (int sig)
{
  _exit (0);
}

/* Reaps every exited child: processes of the pod whose parent died. */
static void
pause_on_chld (int sig)
{
  int saved = errno;
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
  errno = saved;
}

static void __attribute__ ((noreturn)) pause_main (void)
{
  struct sigaction sa;
  sigset_t all;
  int null;

  setsid ();
  prctl (PR_SET_NAME, "pause", 0, 0, 0);
  /* Hold nothing of berthd: its sockets and files would stay open as long
     as the pod lives. */
  null = open ("/dev/null", O_RDWR);
  if (null >= 0)
    {
      dup2 (null, 0);
      dup2 (null, 1);
      dup2 (null, 2);
    }
  close_range (3, ~0U, 0);

  memset (&sa, 0, sizeof (sa));
  sigfillset (&sa.sa_mask);
  for (int sig = 1; sig < NSIG; sig++)
    {
      sa.sa_handler = SIG_DFL;
      sigaction (sig, &sa, NULL); /* fails harmlessly for SIGKILL, SIGSTOP and glibc's own */
    }
  /* pid 1 gets only the signals it has handlers for, even from the host. */
  sa.sa_handler = pause_on_term;
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  sa.sa_handler = pause_on_chld;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigaction (SIGCHLD, &sa, NULL);
  sigemptyset (&all);
  sigprocmask (SIG_SETMASK, &all, NULL);
  for (;;)
    pause ();
}

static void
send_status (int sock, int stage, int errnum, pid_t pid)
{
  struct pause_status st = { stage, errnum, pid };
  while (write (sock, &st, sizeof (st)) < 0 && errno == EINTR)
    ;
}

static void __attribute__ ((noreturn)) middle_main (int sock, const int fds[3])
{
  static const int stages[3] = { PAUSE_SETNS_NET, PAUSE_SETNS_IPC, PAUSE_SETNS_UTS };
  static const int flags[3] = { CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS };
  pid_t pid;

  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0 && setns (fds[i], flags[i]) < 0)
      {
        send_status (sock, stages[i], errno, -1);
        _exit (1);
      }
  if (unshare (CLONE_NEWPID) < 0)
    {
      send_status (sock, PAUSE_UNSHARE, errno, -1);
      _exit (1);
    }
  pid = fork ();
  if (pid == 0)
    pause_main ();
  if (pid < 0)
    send_status (sock, PAUSE_FORK, errno, -1);
  else
    send_status (sock, PAUSE_OK, 0, pid);
  _exit (pid < 0);
}

static int
open_ns (const char *path, int *fd, berth_err *err)
{
  *fd = -1;
  if (path == NULL)
    return 0;
  if (!net_ns_path_is_pinned (path))
    return berth_fail (err, ENOENT, "start pause: `%s` is not a pinned namespace", path);
  *fd = open (path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0)
    return berth_fail (err, errno, "start pause: open `%s`", path);
  return 0;
}

int
net_start_pause (const struct pinned_ns *ns, struct net_pause *out, berth_err *err)
{
  int fds[3] = { -1, -1, -1 };
  cleanup_close int sock = -1;
  struct pause_status st;
  int sv[2], ret = -1;
  size_t off = 0;
  pid_t middle;

  if (open_ns (ns->net_path, &fds[0], err) < 0 || open_ns (ns->ipc_path, &fds[1], err) < 0
      || open_ns (ns->uts_path, &fds[2], err) < 0)
    goto out;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      berth_fail (err, errno, "start pause: socketpair");
      goto out;
    }
  middle = fork ();
  if (middle < 0)
    {
      berth_fail (err, errno, "start pause: fork");
      close (sv[0]);
      close (sv[1]);
      goto out;
    }
  if (middle == 0)
    {
      close (sv[0]);
      middle_main (sv[1], fds);
    }
  close (sv[1]);
  sock = sv[0];

  while (off < sizeof (st))
    {
      ssize_t n = read (sock, (char *)&st + off, sizeof (st) - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      off += (size_t)n;
    }
  while (waitpid (middle, NULL, 0) < 0 && errno == EINTR)
    ;
  if (off < sizeof (st))
    {
      berth_fail (err, 0, "start pause: child exited early");
      goto out;
    }
  if (st.stage != PAUSE_OK)
    {
      berth_fail (err, st.errnum, "start pause: %s",
                  st.stage > 0 && st.stage <= PAUSE_FORK ? stage_names[st.stage] : "unknown step");
      goto out;
    }

  memset (out, 0, sizeof (*out));
  out->pid = st.pid;
  out->start_time = berth_proc_start_time (st.pid);
  if (out->start_time == 0 || asprintf (&out->pidns_path, "/proc/%d/ns/pid", (int)st.pid) < 0)
    {
      int e = out->start_time == 0 ? ESRCH : ENOMEM;
      kill (st.pid, SIGKILL);
      out->pidns_path = NULL;
      berth_fail (err, e, "start pause: pid %d", (int)st.pid);
      goto out;
    }
  ret = 0;

out:
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  return ret;
}

bool
net_pause_alive (const struct net_pause *p)
{
  unsigned long long start;
  if (p == NULL || p->pid <= 0)
    return false;
  start = berth_proc_start_time (p->pid);
  return start != 0 && start == p->start_time;
}

/* Waits for the pidfd to report the exit; true when it did in time. */
static bool
wait_exit (int pidfd, int timeout_ms)
{
  struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
  for (;;)
    {
      int r = poll (&pfd, 1, timeout_ms);
      if (r < 0 && errno == EINTR)
        continue;
      return r > 0;
    }
}

/* Without pidfds (seccomp, valgrind): signal by pid after checking the start
   time, and poll.  A pid reused in between could get the signal; the window
   is one /proc read. */
static int
stop_by_pid (const struct net_pause *p, int timeout_ms, berth_err *err)
{
  int sig = SIGTERM;
  long long waited = 0;

  while (net_pause_alive (p))
    {
      if (waited == 0 || (sig == SIGTERM && waited >= timeout_ms))
        {
          if (waited > 0)
            sig = SIGKILL;
          if (kill (p->pid, sig) < 0 && errno != ESRCH)
            return berth_fail (err, errno, "stop pause %d", (int)p->pid);
        }
      if (sig == SIGKILL && waited >= (long long)timeout_ms + 10000)
        return berth_fail (err, ETIMEDOUT, "stop pause %d", (int)p->pid);
      usleep (10000);
      waited += 10;
    }
  waitpid (p->pid, NULL, WNOHANG);
  return 0;
}

int
net_stop_pause (const struct net_pause *p, int timeout_ms, berth_err *err)
{
  cleanup_close int pidfd = -1;

  if (p == NULL || p->pid <= 0)
    return 0;
  pidfd = pidfd_open (p->pid, 0);
  if (pidfd < 0)
    {
      if (errno == ESRCH)
        return 0;
      if (errno == ENOSYS || errno == EPERM)
        return stop_by_pid (p, timeout_ms, err);
      return berth_fail (err, errno, "stop pause %d: pidfd_open", (int)p->pid);
    }
  /* Checked after pidfd_open: the pidfd now pins this very process. */
  if (!net_pause_alive (p))
    return 0;
  if (pidfd_send_signal (pidfd, SIGTERM, NULL, 0) < 0 && errno != ESRCH)
    return berth_fail (err, errno, "stop pause %d: SIGTERM", (int)p->pid);
  if (!wait_exit (pidfd, timeout_ms))
    {
      if (pidfd_send_signal (pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
        return berth_fail (err, errno, "stop pause %d: SIGKILL", (int)p->pid);
      if (!wait_exit (pidfd, 10000))
        return berth_fail (err, ETIMEDOUT, "stop pause %d", (int)p->pid);
    }
  /* Ours to reap only when berthd is a subreaper; harmless otherwise. */
  waitpid (p->pid, NULL, WNOHANG);
  return 0;
}

void
net_pause_free (struct net_pause *p)
{
  if (p == NULL)
    return;
  free (p->pidns_path);
  memset (p, 0, sizeof (*p));
}
