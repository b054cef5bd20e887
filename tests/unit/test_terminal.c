/* Console pty, console socket, terminal relay and signal forwarding.
 *
 * Children play the container process: they run terminal_setup_in_container
 * against the host's /dev/ptmx and send the master back over a socketpair,
 * as the container init does over --console-socket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/signals.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

typedef void (*in_pty_fn) (void);

static void
on_sigterm (int signo)
{
  _exit (42);
}

/* Forks a child that sets up the pty, runs fn with it as stdio and exits
 * with what fn returns; the parent gets the master (and its name). */
static pid_t
fork_in_pty (in_pty_fn fn, int *master, char **name)
{
  berth_err err = NULL;
  int sv[2];
  pid_t pid;

  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      int m = -1;
      char ptname[64];

      close (sv[0]);
      /* Before the master is sent: the parent may forward SIGTERM as soon
       * as it has it. */
      signal (SIGTERM, on_sigterm);
      if (terminal_setup_in_container (&m, &err) < 0)
        _exit (100);
      if (ptsname_r (m, ptname, sizeof (ptname)) != 0)
        _exit (101);
      if (terminal_send_master (sv[1], m, ptname, &err) < 0)
        _exit (102);
      close (m);
      close (sv[1]);
      fn ();
      _exit (103);
    }
  close (sv[1]);
  *master = terminal_recv_fd_name (sv[0], name, &err);
  if (err != NULL)
    fail_msg ("%s", err->msg);
  close (sv[0]);
  return pid;
}

/* Reads the master until EIO (every peer fd closed). */
static void
read_master (int master, char *buf, size_t size)
{
  size_t len = 0;
  ssize_t n;

  while (len < size - 1)
    {
      struct pollfd p = { .fd = master, .events = POLLIN };
      assert_true (poll (&p, 1, 5000) > 0);
      n = read (master, buf + len, size - 1 - len);
      if (n <= 0)
        break;
      len += (size_t)n;
    }
  buf[len] = '\0';
}

static int
wait_status (pid_t pid)
{
  int status;
  assert_int_equal (waitpid (pid, &status, 0), pid);
  return process_exit_status (status);
}

static void
child_reports_tty (void)
{
  char out[128];
  int flags = 0;

  for (int i = 0; i < 3; i++)
    flags |= (fcntl (i, F_GETFD) & FD_CLOEXEC) << i;
  snprintf (out, sizeof (out), "hello tty=%d%d%d sid=%d pgrp=%d cloexec=%d\n", isatty (0), isatty (1), isatty (2),
            getsid (0) == getpid (), tcgetpgrp (0) == getpid (), flags);
  if (write (STDOUT_FILENO, out, strlen (out)) < 0)
    _exit (104);
  _exit (0);
}

static void
test_setup_in_container_gives_controlling_pty (void **state)
{
  cleanup_close int master = -1;
  cleanup_free char *name = NULL;
  char buf[512];
  pid_t pid = fork_in_pty (child_reports_tty, &master, &name);

  assert_true (master >= 0);
  assert_true (fcntl (master, F_GETFD) & FD_CLOEXEC);
  assert_non_null (strstr (name, "/dev/pts/"));
  read_master (master, buf, sizeof (buf));
  assert_int_equal (wait_status (pid), 0);
  assert_non_null (strstr (buf, "hello tty=111 sid=1 pgrp=1 cloexec=0"));
}

static void
test_send_master_without_name_and_recv (void **state)
{
  berth_err err = NULL;
  cleanup_close int pt = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  cleanup_close int got = -1;
  cleanup_free char *name = NULL;
  struct stat a, b;
  int sv[2];

  assert_true (pt >= 0);
  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal (terminal_send_master (sv[0], pt, NULL, &err), 0);
  got = terminal_recv_fd_name (sv[1], &name, &err);
  assert_null (err);
  assert_string_equal (name, "");
  assert_int_equal (fstat (pt, &a), 0);
  assert_int_equal (fstat (got, &b), 0);
  assert_true (a.st_ino == b.st_ino && a.st_rdev == b.st_rdev);
  assert_true (fcntl (got, F_GETFD) & FD_CLOEXEC);
  close (sv[0]);
  close (sv[1]);
}

static void
test_recv_without_fd_fails (void **state)
{
  berth_err err = NULL;
  int sv[2];

  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal (write (sv[0], "x", 1), 1);
  assert_int_equal (terminal_recv_fd (sv[1], &err), -1);
  assert_non_null (strstr (err->msg, "expected exactly one file descriptor"));
  berth_err_free (&err);
  close (sv[0]);
  assert_int_equal (terminal_recv_fd (sv[1], &err), -1);
  berth_err_free (&err);
  close (sv[1]);
}

static void
test_set_size_reaches_tiocgwinsz (void **state)
{
  berth_err err = NULL;
  cleanup_close int pt = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  cleanup_close int peer = -1;
  struct winsize ws;

  assert_true (pt >= 0);
  assert_int_equal (unlockpt (pt), 0);
  peer = open (ptsname (pt), O_RDWR | O_NOCTTY | O_CLOEXEC);
  assert_true (peer >= 0);
  assert_int_equal (terminal_set_size (pt, 24, 132, &err), 0);
  assert_int_equal (ioctl (peer, TIOCGWINSZ, &ws), 0);
  assert_int_equal (ws.ws_row, 24);
  assert_int_equal (ws.ws_col, 132);
  assert_int_equal (terminal_set_size (pt, 70000, 80, &err), -1);
  assert_int_equal (err->errnum, EINVAL);
  berth_err_free (&err);
}

static void
test_connect_console_socket (void **state)
{
  berth_err err = NULL;
  char dir[] = "/tmp/berth-term-XXXXXX";
  char path[100], expected[256];
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int lfd = -1, cfd = -1, afd = -1, pt = -1, got = -1;
  cleanup_free char *name = NULL;

  assert_non_null (mkdtemp (dir));
  snprintf (path, sizeof (path), "%s/console.sock", dir);
  assert_int_equal (terminal_connect_console_socket (path, &err), -1);
  snprintf (expected, sizeof (expected), "connect to console socket `%s`: no such file or directory", path);
  assert_string_equal (err->msg, expected);
  berth_err_free (&err);

  snprintf (addr.sun_path, sizeof (addr.sun_path), "%s", path);
  lfd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal (bind (lfd, (struct sockaddr *)&addr, sizeof (addr)), 0);
  assert_int_equal (listen (lfd, 1), 0);
  cfd = terminal_connect_console_socket (path, &err);
  assert_null (err);
  assert_true (fcntl (cfd, F_GETFD) & FD_CLOEXEC);
  afd = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
  assert_true (afd >= 0);
  pt = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  assert_int_equal (terminal_send_master (cfd, pt, "/dev/pts/7", &err), 0);
  got = terminal_recv_fd_name (afd, &name, &err);
  assert_null (err);
  assert_true (got >= 0);
  assert_string_equal (name, "/dev/pts/7");
  unlink (path);
  rmdir (dir);
}

static void
test_wait_returns_exit_code (void **state)
{
  berth_err err = NULL;
  int status = -1;
  pid_t pid = fork ();

  if (pid == 0)
    _exit (3);
  assert_int_equal (process_wait_forwarding_signals (pid, &status, &err), 0);
  assert_int_equal (status, 3);
}

static void
test_wait_killed_by_sigkill_is_137 (void **state)
{
  berth_err err = NULL;
  int status = -1;
  pid_t pid = fork ();

  if (pid == 0)
    {
      raise (SIGKILL);
      _exit (0);
    }
  assert_int_equal (process_wait_forwarding_signals (pid, &status, &err), 0);
  assert_int_equal (status, 137);
}

/* A child that exits 42 on SIGTERM; returns once its handler is set. */
static pid_t
fork_sigterm_catcher (void)
{
  int p[2];
  char c;
  pid_t pid;

  assert_int_equal (pipe2 (p, O_CLOEXEC), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      signal (SIGTERM, on_sigterm);
      if (write (p[1], "r", 1) != 1)
        _exit (1);
      for (;;)
        pause ();
    }
  close (p[1]);
  assert_int_equal (read (p[0], &c, 1), 1);
  close (p[0]);
  return pid;
}

/* Leaves SIGTERM pending on this process, as if a user had sent it. */
static void
sigterm_pending (sigset_t *old)
{
  sigset_t set;

  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  assert_int_equal (sigprocmask (SIG_BLOCK, &set, old), 0);
  assert_int_equal (kill (getpid (), SIGTERM), 0);
}

static void
assert_sigterm_consumed (const sigset_t *old)
{
  sigset_t pending, mask;

  assert_int_equal (sigprocmask (SIG_SETMASK, NULL, &mask), 0);
  assert_true (sigismember (&mask, SIGTERM)); /* the caller's mask is back */
  assert_int_equal (sigpending (&pending), 0);
  assert_false (sigismember (&pending, SIGTERM));
  assert_int_equal (sigprocmask (SIG_SETMASK, old, NULL), 0);
}

static void
test_wait_forwards_sigterm (void **state)
{
  berth_err err = NULL;
  int status = -1;
  sigset_t old;
  pid_t pid = fork_sigterm_catcher ();

  sigterm_pending (&old);
  assert_int_equal (process_wait_forwarding_signals (pid, &status, &err), 0);
  assert_int_equal (status, 42);
  assert_sigterm_consumed (&old);
}

static void
child_echoes_line (void)
{
  char line[64] = "", out[96];
  ssize_t n = read (STDIN_FILENO, line, sizeof (line) - 1);

  if (n <= 0)
    _exit (105);
  line[strcspn (line, "\r\n")] = '\0';
  snprintf (out, sizeof (out), "got:%s\n", line);
  if (write (STDOUT_FILENO, out, strlen (out)) < 0)
    _exit (104);
  _exit (7);
}

/* Runs terminal_relay with stdin reading `input` and stdout captured. */
static int
relay_with_pipes (int master, pid_t pid, const char *input, char *out, size_t size, int *status)
{
  berth_err err = NULL;
  int in[2], outp[2];
  int saved0 = dup (0), saved1 = dup (1);
  int ret;
  ssize_t n;

  assert_int_equal (pipe2 (in, O_CLOEXEC), 0);
  assert_int_equal (pipe2 (outp, O_CLOEXEC), 0);
  assert_int_equal (write (in[1], input, strlen (input)), (ssize_t)strlen (input));
  close (in[1]);
  fflush (stdout);
  dup2 (in[0], 0);
  dup2 (outp[1], 1);
  close (in[0]);
  close (outp[1]);
  ret = terminal_relay (master, pid, status, &err);
  dup2 (saved0, 0);
  dup2 (saved1, 1);
  close (saved0);
  close (saved1);
  if (err != NULL)
    fail_msg ("%s", err->msg);
  n = read (outp[0], out, size - 1);
  out[n > 0 ? n : 0] = '\0';
  close (outp[0]);
  return ret;
}

static void
test_relay_copies_io_and_returns_status (void **state)
{
  cleanup_close int master = -1;
  cleanup_free char *name = NULL;
  char out[512];
  int status = -1;
  pid_t pid = fork_in_pty (child_echoes_line, &master, &name);

  assert_int_equal (relay_with_pipes (master, pid, "ping\n", out, sizeof (out), &status), 0);
  assert_int_equal (status, 7);
  assert_non_null (strstr (out, "got:ping"));
}

static void
child_waits_for_sigterm (void)
{
  /* fork_in_pty set the SIGTERM handler (exit 42). */
  for (;;)
    pause ();
}

static void
test_relay_forwards_sigterm (void **state)
{
  cleanup_close int master = -1;
  cleanup_free char *name = NULL;
  char out[512];
  int status = -1;
  sigset_t old;
  pid_t pid;

  pid = fork_in_pty (child_waits_for_sigterm, &master, &name);
  sigterm_pending (&old);
  assert_int_equal (relay_with_pipes (master, pid, "", out, sizeof (out), &status), 0);
  assert_int_equal (status, 42);
  assert_sigterm_consumed (&old);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_setup_in_container_gives_controlling_pty),
    cmocka_unit_test (test_send_master_without_name_and_recv),
    cmocka_unit_test (test_recv_without_fd_fails),
    cmocka_unit_test (test_set_size_reaches_tiocgwinsz),
    cmocka_unit_test (test_connect_console_socket),
    cmocka_unit_test (test_wait_returns_exit_code),
    cmocka_unit_test (test_wait_killed_by_sigkill_is_137),
    cmocka_unit_test (test_wait_forwards_sigterm),
    cmocka_unit_test (test_relay_copies_io_and_returns_status),
    cmocka_unit_test (test_relay_forwards_sigterm),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
