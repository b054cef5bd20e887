/* ExecSync: a process in a running container, its output captured.
 *
 *   caller's thread                     helper H (forked)                 process P
 *   ---------------                     -----------------                 ---------
 *   pipes out, err, result
 *   fork ─────────────────────────────▶ stdio = pipes, fds closed,
 *                                       signals reset
 *                                       berth_container_exec (detach,
 *                                       pid file) ──────────────────────▶ joins the container,
 *                                                                          execs argv; stdout/err
 *   reads out/err (capped)  ◀──────────────────────────────────────────── are the pipes
 *                                       pidfd poll (timeout) -> SIGKILL P
 *                                       waitpid(P)
 *   reads result ◀───────────────────── {ok, exit code, timed out} | error text
 *   waitpid(H); drains out/err until EOF (DRAIN_MS at most: P's own
 *   children may keep them open)
 *
 * H, not the caller, waits for P: P is H's child (libberth clones it), and
 * the caller is a berthd worker thread that must not reap by accident.  The
 * pid file lives in a private directory under /tmp, removed at the end.
 * H's first half (stdio, fds, signals, the exec) is exec_launch.h's, shared
 * with the streaming Exec.
 */
#include "daemon/monitor_internal.h"
#include "daemon/exec_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/file.h"

#define DRAIN_MS 1000
#define MAX_RESULT_TEXT (64 * 1024)

struct exec_report
{
  int32_t ok;
  int32_t exit_code;
  int32_t timed_out;
  uint32_t msg_len;
};

static void
helper_report (int fd, const struct exec_report *r, const char *text)
{
  if (berth_write_all (fd, r, sizeof (*r)) == 0 && r->msg_len > 0)
    berth_write_all (fd, text, r->msg_len);
}

/* 1 when pid exited within timeout_ms (-1: forever), 0 when not. */
static int
wait_exit_timeout (pid_t pid, int timeout_ms)
{
  int pidfd = (int)syscall (SYS_pidfd_open, pid, 0);
  struct pollfd p;
  int r;

  if (pidfd < 0)
    {
      /* No pidfd (kernels before 5.3): poll waitpid. */
      for (long waited = 0; timeout_ms < 0 || waited < timeout_ms; waited += 10)
        {
          siginfo_t si = { 0 };
          if (waitid (P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
            return 1;
          nanosleep (&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
        }
      return 0;
    }
  p = (struct pollfd){ .fd = pidfd, .events = POLLIN };
  do
    r = poll (&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  close (pidfd);
  return r > 0 ? 1 : 0;
}

__attribute__ ((noreturn)) static void
helper_main (const struct monitor_exec_opts *o, const char *pid_path, int out_w, int err_w, int res_w)
{
  /* ExecSync has no tty and no stdin. */
  struct exec_launch l = { .state_root = o->state_root, .id = o->id, .argv = o->argv, .pid_path = pid_path,
                           .stdio = { -1, out_w, err_w } };
  struct exec_report r = { 0 };
  berth_err err = NULL;
  int status;
  pid_t pid = exec_launch_in_helper (&l, &res_w, &err);

  if (pid < 0)
    {
      r.msg_len = strlen (err->msg);
      helper_report (res_w, &r, err->msg);
      _exit (1);
    }
  exec_launch_drop_stdio ();
  if (!wait_exit_timeout (pid, o->timeout_s ? (int)o->timeout_s * 1000 : -1))
    {
      kill (pid, SIGKILL);
      r.timed_out = 1;
    }
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  r.ok = 1;
  r.exit_code = WIFSIGNALED (status) ? 128 + WTERMSIG (status) : WEXITSTATUS (status);
  helper_report (res_w, &r, NULL);
  _exit (0);
}

/* A capped buffer for one stream. */
struct capture
{
  int fd;
  char *buf;
  size_t len, cap, max;
  bool truncated;
};

static void
capture_read (struct capture *c)
{
  char chunk[65536];
  ssize_t n = read (c->fd, chunk, sizeof (chunk));
  size_t keep;

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0)
    {
      close (c->fd);
      c->fd = -1;
      return;
    }
  keep = c->max - c->len < (size_t)n ? c->max - c->len : (size_t)n;
  if (keep < (size_t)n)
    c->truncated = true;
  if (c->len + keep + 1 > c->cap)
    {
      size_t cap = c->cap ? c->cap : 4096;
      while (cap < c->len + keep + 1)
        cap *= 2;
      char *nb = realloc (c->buf, cap);
      if (nb == NULL)
        {
          c->truncated = true;
          return;
        }
      c->buf = nb;
      c->cap = cap;
    }
  memcpy (c->buf + c->len, chunk, keep);
  c->len += keep;
  c->buf[c->len] = '\0';
}

/* Reads out, err and the result until the helper has reported and the
 * streams end (or DRAIN_MS after the report).  0 when the report came. */
static int
collect (struct capture *cs, int *res_fd, struct exec_report *r, char **text, long long hard_end)
{
  size_t got = 0;
  long long drain_end = -1;

  for (;;)
    {
      struct pollfd p[3];
      int n = 0, idx[3], timeout = -1;
      long long now = berth_monotonic_ms ();

      if (*res_fd < 0 && cs[0].fd < 0 && cs[1].fd < 0)
        break;
      if (drain_end >= 0)
        timeout = drain_end > now ? (int)(drain_end - now) : 0;
      if (hard_end >= 0 && (timeout < 0 || hard_end - now < timeout))
        timeout = hard_end > now ? (int)(hard_end - now) : 0;
      if (timeout == 0)
        break;
      for (int i = 0; i < 2; i++)
        if (cs[i].fd >= 0)
          {
            idx[n] = i;
            p[n++] = (struct pollfd){ .fd = cs[i].fd, .events = POLLIN };
          }
      if (*res_fd >= 0)
        {
          idx[n] = 2;
          p[n++] = (struct pollfd){ .fd = *res_fd, .events = POLLIN };
        }
      if (poll (p, n, timeout) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      for (int k = 0; k < n; k++)
        {
          if (!p[k].revents)
            continue;
          if (idx[k] < 2)
            {
              capture_read (&cs[idx[k]]);
              continue;
            }
          /* The report: header then text, then EOF as the helper exits. */
          char buf[4096];
          ssize_t m = read (*res_fd, buf, sizeof (buf));
          if (m < 0 && errno == EINTR)
            continue;
          if (m <= 0)
            {
              close (*res_fd);
              *res_fd = -1;
              drain_end = berth_monotonic_ms () + DRAIN_MS;
              continue;
            }
          for (ssize_t j = 0; j < m; j++, got++)
            {
              if (got < sizeof (*r))
                ((char *)r)[got] = buf[j];
              else if (got - sizeof (*r) < MAX_RESULT_TEXT)
                {
                  if (*text == NULL && (*text = calloc (1, MAX_RESULT_TEXT + 1)) == NULL)
                    return -1;
                  (*text)[got - sizeof (*r)] = buf[j];
                }
            }
        }
    }
  return got >= sizeof (*r) ? 0 : -1;
}

int
monitor_exec_sync (const struct monitor_exec_opts *o, struct monitor_exec_result *out, berth_err *err)
{
  char dir[] = "/tmp/berth-exec-XXXXXX";
  char pid_path[64];
  int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, resp[2] = { -1, -1 };
  size_t max = o->max_output ? o->max_output : MONITOR_DEFAULT_MAX_OUTPUT;
  struct capture cs[2] = { { .fd = -1, .max = max }, { .fd = -1, .max = max } };
  struct exec_report r = { 0 };
  cleanup_free char *text = NULL;
  long long hard_end = -1;
  int status, ret = -1;
  pid_t h;

  memset (out, 0, sizeof (*out));
  if (o->argv == NULL || o->argv[0] == NULL)
    return berth_fail (err, 0, "exec in `%s`: cmd: required", o->id);
  if (mkdtemp (dir) == NULL)
    return berth_fail (err, errno, "exec in `%s`: mkdtemp `%s`", o->id, dir);
  snprintf (pid_path, sizeof (pid_path), "%s/pid", dir);
  if (pipe2 (outp, O_CLOEXEC) < 0 || pipe2 (errp, O_CLOEXEC) < 0 || pipe2 (resp, O_CLOEXEC) < 0)
    {
      berth_fail (err, errno, "exec in `%s`: pipes", o->id);
      goto out;
    }
  h = fork ();
  if (h < 0)
    {
      berth_fail (err, errno, "exec in `%s`: fork", o->id);
      goto out;
    }
  if (h == 0)
    helper_main (o, pid_path, outp[1], errp[1], resp[1]);
  close (outp[1]);
  close (errp[1]);
  close (resp[1]);
  outp[1] = errp[1] = resp[1] = -1;
  cs[0].fd = outp[0];
  cs[1].fd = errp[0];
  outp[0] = errp[0] = -1;
  /* The helper enforces the timeout; this bound only guards against a
     helper that hangs in exec itself. */
  if (o->timeout_s)
    hard_end = berth_monotonic_ms () + o->timeout_s * 1000LL + 10000;
  if (collect (cs, &resp[0], &r, &text, hard_end) < 0)
    {
      kill (h, SIGKILL);
      berth_fail (err, 0, "exec in `%s`: the exec helper died without a result", o->id);
    }
  while (waitpid (h, &status, 0) < 0 && errno == EINTR)
    ;
  if (*err == NULL && !r.ok)
    berth_fail (err, 0, "%s", text ? text : "exec failed");
  if (*err == NULL)
    {
      out->exit_code = r.exit_code;
      out->timed_out = r.timed_out;
      out->truncated = cs[0].truncated || cs[1].truncated;
      out->out = cs[0].buf ? cs[0].buf : strdup ("");
      out->out_len = cs[0].len;
      out->err = cs[1].buf ? cs[1].buf : strdup ("");
      out->err_len = cs[1].len;
      cs[0].buf = cs[1].buf = NULL;
      ret = 0;
    }
out:
  for (int i = 0; i < 2; i++)
    {
      if (cs[i].fd >= 0)
        close (cs[i].fd);
      free (cs[i].buf);
    }
  for (int i = 0; i < 2; i++)
    {
      if (outp[i] >= 0)
        close (outp[i]);
      if (errp[i] >= 0)
        close (errp[i]);
      if (resp[i] >= 0)
        close (resp[i]);
    }
  unlink (pid_path);
  rmdir (dir);
  return ret;
}

void
monitor_exec_result_clear (struct monitor_exec_result *r)
{
  free (r->out);
  free (r->err);
  r->out = r->err = NULL;
}
