/* Exec for the streaming server: a process in a running container whose
 * stdio stays connected to the caller (pipes, or a pty with tty).
 *
 *   connection thread                   helper H (forked)                process P
 *   -----------------                   -----------------                ---------
 *   pipes in/out/err (or a console
 *   socket in a private /tmp dir), report
 *   fork ─────────────────────────────▶ stdio = pipes (/dev/null for a
 *                                       stream not asked for), fds
 *                                       closed, signals reset
 *                                       berth_container_exec (detach,
 *                                       pid file, console socket) ──────▶ joins the container
 *   accept console, receive the  ◀──────────────────────────────────────  (tty: the pty master
 *   pty master                                                            comes over the socket)
 *   ◀─ report {STARTED, pid} ────────── waitpid(P)
 *   pumps stdio (stream_server.c)
 *   ◀─ report {EXITED, code} ─────────── _exit
 *   waitpid(H)
 *
 * As for ExecSync (monitor_exec.c) H, not the connection thread, is P's
 * parent and reaps it, so the pid the thread may SIGKILL (the client went
 * away) names P until H has reported its exit.  H's first half is
 * exec_launch.h's, shared with ExecSync.
 */
#include "daemon/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/exec_launch.h"
#include "runtime/container.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/file.h"

#define CONSOLE_WAIT_MS 10000

/* H's SIGTERM (the client went away): SIGKILL P, which H has not reaped
 * yet (it waits with WNOWAIT first), so the pid cannot name another
 * process.  A SIGTERM before P exists is remembered. */
static volatile sig_atomic_t helper_target, helper_term;

static void
helper_on_term (int sig)
{
  (void)sig;
  helper_term = 1;
  if (helper_target > 0)
    kill (helper_target, SIGKILL);
}

static void
report (int fd, int32_t kind, int32_t value, const char *text)
{
  struct stream_exec_report r = { .kind = kind, .value = value, .msg_len = text ? (uint32_t)strlen (text) : 0 };

  if (berth_write_all (fd, &r, sizeof (r)) == 0 && r.msg_len)
    berth_write_all (fd, text, r.msg_len);
}

__attribute__ ((noreturn)) static void
helper_main (const struct stream_exec_opts *o, const char *pid_path, const char *console, int fds[3], int res_w)
{
  struct exec_launch l = { .state_root = o->state_root, .id = o->id, .argv = o->argv, .pid_path = pid_path,
                           .console = console, .rows = o->rows, .cols = o->cols,
                           .stdio = { fds[0], fds[1], fds[2] }, .on_term = helper_on_term };
  berth_err err = NULL;
  int status;
  pid_t pid = exec_launch_in_helper (&l, &res_w, &err);

  if (pid < 0)
    {
      report (res_w, STREAM_EXEC_FAILED, 0, err->msg);
      _exit (1);
    }
  exec_launch_drop_stdio ();
  report (res_w, STREAM_EXEC_STARTED, pid, NULL);
  helper_target = pid;
  if (helper_term)
    kill (pid, SIGKILL);
  {
    siginfo_t si;
    sigset_t term;
    while (waitid (P_PID, pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
      ;
    sigemptyset (&term);
    sigaddset (&term, SIGTERM);
    sigprocmask (SIG_BLOCK, &term, NULL);
    helper_target = 0;
  }
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  report (res_w, STREAM_EXEC_EXITED, WIFSIGNALED (status) ? 128 + WTERMSIG (status) : WEXITSTATUS (status), NULL);
  _exit (0);
}

/* Reads one report (blocking, the helper writes it whole). */
int
stream_exec_read_report (struct stream_exec *x, struct stream_exec_report *r, char **text)
{
  size_t got = 0;

  *text = NULL;
  while (got < sizeof (*r))
    {
      ssize_t n = read (x->res_r, (char *)r + got, sizeof (*r) - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      got += n;
    }
  if (r->msg_len)
    {
      size_t len = r->msg_len > 65536 ? 65536 : r->msg_len;
      *text = calloc (1, len + 1);
      if (*text == NULL || berth_read_exact (x->res_r, *text, len) < 0)
        return -1;
    }
  return 0;
}

/* tty: the pty master from the console socket, or the helper's failure. */
static int
receive_master (struct stream_exec *x, int listen_fd, berth_err *err)
{
  struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN }, { .fd = x->res_r, .events = POLLIN } };
  cleanup_close int conn = -1;
  int r;

  do
    r = poll (p, 2, CONSOLE_WAIT_MS);
  while (r < 0 && errno == EINTR);
  if (r <= 0)
    return berth_fail (err, 0, "exec in `%s`: no pty from the container", x->id);
  if (!(p[0].revents & POLLIN))
    return 1; /* the helper reported first (a failure): the caller reads it */
  conn = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0)
    return berth_fail (err, errno, "exec in `%s`: console socket: accept", x->id);
  x->master = terminal_recv_fd (conn, err);
  return x->master < 0 ? -1 : 0;
}

int
stream_exec_start (const struct stream_exec_opts *o, struct stream_exec *x, berth_err *err)
{
  char pid_path[64], console[64] = "";
  int p_in[2] = { -1, -1 }, p_out[2] = { -1, -1 }, p_err[2] = { -1, -1 }, res[2] = { -1, -1 };
  cleanup_close int listen_fd = -1;
  struct stream_exec_report r;
  cleanup_free char *text = NULL;
  int ret = -1;

  memset (x, 0, sizeof (*x));
  x->in_w = x->out_r = x->err_r = x->master = x->res_r = -1;
  x->pid = x->helper = -1;
  snprintf (x->id, sizeof (x->id), "%s", o->id);
  strcpy (x->dir, "/tmp/berth-exec-XXXXXX");
  if (mkdtemp (x->dir) == NULL)
    return berth_fail (err, errno, "exec in `%s`: mkdtemp", o->id);
  snprintf (pid_path, sizeof (pid_path), "%s/pid", x->dir);
  if (pipe2 (res, O_CLOEXEC) < 0)
    {
      berth_fail (err, errno, "exec in `%s`: pipe", o->id);
      goto out;
    }
  if (o->tty)
    {
      struct sockaddr_un addr = { .sun_family = AF_UNIX };
      snprintf (console, sizeof (console), "%s/console.sock", x->dir);
      snprintf (addr.sun_path, sizeof (addr.sun_path), "%s", console);
      listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (listen_fd < 0 || bind (listen_fd, (struct sockaddr *)&addr, sizeof (addr)) < 0 || listen (listen_fd, 1) < 0)
        {
          berth_fail (err, errno, "exec in `%s`: console socket", o->id);
          goto out;
        }
    }
  else if ((o->in && pipe2 (p_in, O_CLOEXEC) < 0) || (o->out && pipe2 (p_out, O_CLOEXEC) < 0)
           || (o->err && pipe2 (p_err, O_CLOEXEC) < 0))
    {
      berth_fail (err, errno, "exec in `%s`: pipes", o->id);
      goto out;
    }
  x->helper = fork ();
  if (x->helper < 0)
    {
      berth_fail (err, errno, "exec in `%s`: fork", o->id);
      goto out;
    }
  if (x->helper == 0)
    {
      int fds[3] = { p_in[0], p_out[1], p_err[1] };
      helper_main (o, pid_path, o->tty ? console : NULL, fds, res[1]);
    }
  close (res[1]);
  res[1] = -1;
  x->res_r = res[0];
  res[0] = -1;
  x->in_w = p_in[1];
  x->out_r = p_out[0];
  x->err_r = p_err[0];
  p_in[1] = p_out[0] = p_err[0] = -1;
  if (o->tty && receive_master (x, listen_fd, err) < 0)
    goto out;
  if (stream_exec_read_report (x, &r, &text) < 0)
    {
      berth_fail (err, 0, "exec in `%s`: the exec helper died without a result", o->id);
      goto out;
    }
  if (r.kind != STREAM_EXEC_STARTED)
    {
      berth_fail (err, 0, "%s", text ? text : "exec failed");
      goto out;
    }
  if (o->tty && x->master < 0)
    {
      berth_fail (err, 0, "exec in `%s`: no pty from the container", o->id);
      goto out;
    }
  x->pid = r.value;
  ret = 0;
out:
  for (int i = 0; i < 2; i++)
    {
      if (p_in[i] >= 0)
        close (p_in[i]);
      if (p_out[i] >= 0)
        close (p_out[i]);
      if (p_err[i] >= 0)
        close (p_err[i]);
      if (res[i] >= 0)
        close (res[i]);
    }
  if (ret < 0)
    stream_exec_end (x, true);
  return ret;
}

/* Closes what is left, kills P when asked (and not yet reaped), reaps H,
 * removes the private dir. */
void
stream_exec_end (struct stream_exec *x, bool kill_it)
{
  char path[96];
  int status;

  if (kill_it && x->helper > 0)
    kill (x->helper, SIGTERM); /* H kills P (helper_on_term) */
  if (x->in_w >= 0)
    close (x->in_w);
  if (x->out_r >= 0)
    close (x->out_r);
  if (x->err_r >= 0)
    close (x->err_r);
  if (x->master >= 0)
    close (x->master);
  if (x->res_r >= 0)
    close (x->res_r);
  x->in_w = x->out_r = x->err_r = x->master = x->res_r = -1;
  if (x->helper > 0)
    while (waitpid (x->helper, &status, 0) < 0 && errno == EINTR)
      ;
  x->helper = -1;
  if (x->dir[0])
    {
      snprintf (path, sizeof (path), "%s/pid", x->dir);
      unlink (path);
      snprintf (path, sizeof (path), "%s/console.sock", x->dir);
      unlink (path);
      rmdir (x->dir);
      x->dir[0] = '\0';
    }
}
