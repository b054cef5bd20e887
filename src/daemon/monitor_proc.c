/* The monitor process (monitor.h draws the protocol): creates the
 * container with its stdio on pipes (or a pty) we own, reports, relays the
 * output into the CRI log until the init has exited and the output is
 * drained, writes the exit file and exits.
 *
 * Signals: during create SIGUSR1 only sets a flag (a handler, not SIG_IGN,
 * since an ignored disposition would survive into the container's exec);
 * afterwards SIGCHLD, SIGUSR1, SIGTERM, SIGINT, SIGHUP and SIGPIPE are read
 * from a signalfd.  The monitor ends with its container only: SIGTERM,
 * SIGINT and SIGHUP are ignored.
 */
#include "daemon/monitor_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/container.h"
#include "runtime/state.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/file.h"
#include "util/proc.h"

/* After the init exits, output still held open by a process outside its
 * pid namespace (or none) is read for this long, then dropped. */
#define DRAIN_MS 2000
#define CONSOLE_WAIT_MS 5000

struct mon
{
  const struct monitor_opts *o;
  struct berth_context ctx;
  struct cri_log log;
  bool log_created;
  struct cri_log_stream out, err;
  int out_fd, err_fd; /* read ends; with a tty out_fd is the pty master */
  int stdin_w;        /* the container's stdin, our end; -1: none */
  int fifo_fd;        /* the stdin fifo: O_RDWR so it never reads EOF, or (stdin_once) O_RDONLY */
  bool fifo_made;
  char pending[65536]; /* read from the fifo, not yet written to stdin_w */
  size_t pending_len, pending_off;
  int console_dirfd; /* tty: the exit file's directory, holding the socket */
  char console_name[64];
  int console_listen;
  bool created;
  pid_t init_pid;
  char *oom_dir; /* memory cgroup of the container, for the OOM count */
  bool oom_v2;
  unsigned long long oom_base;
  int sig_fd;
  struct mon_attach attach; /* monitor_attach.c */
};

static volatile sig_atomic_t reopen_wanted;

static void
on_usr1 (int sig)
{
  (void)sig;
  reopen_wanted = 1;
}

/* ---- OOM count, best effort: v1 memory.oom_control or v2 memory.events ---- */

static unsigned long long
read_oom_kills (const struct mon *m)
{
  char path[4096], buf[2048];
  cleanup_close int fd = -1;
  ssize_t n;
  char *p;

  if (m->oom_dir == NULL)
    return 0;
  snprintf (path, sizeof (path), "%s/%s", m->oom_dir, m->oom_v2 ? "memory.events" : "memory.oom_control");
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (n = read (fd, buf, sizeof (buf) - 1)) <= 0)
    return 0;
  buf[n] = '\0';
  p = strstr (buf, "oom_kill ");
  return p ? strtoull (p + 9, NULL, 10) : 0;
}

/* The init's pid and memory cgroup from the state dir libberth wrote. */
static int
load_container (struct mon *m, berth_err *err)
{
  cleanup_close int dirfd = berth_state_dir_open (m->o->state_root, m->o->id, false, err);
  struct berth_state *st;
  const char *dir;

  if (dirfd < 0 || (st = berth_state_load (dirfd, m->o->id, err)) == NULL)
    return -1;
  m->init_pid = st->pid;
  dir = st->cgroup ? berth_cgroup_memory_dir (st->cgroup, &m->oom_v2) : NULL;
  m->oom_dir = dir ? strdup (dir) : NULL;
  berth_state_free (st);
  m->oom_base = read_oom_kills (m);
  return 0;
}

/* ---- set-up: log, stdin fifo, stdio pipes or console socket ---- */

static int
setup_console_socket (struct mon *m, char *path, size_t size, berth_err *err)
{
  cleanup_free char *copy = strdup (m->o->exit_file);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  const char *dir = dirname (copy);

  /* Bound through /proc/self/fd/N so the path fits sun_path whatever the
     length of the directory's name; create connects from this process. */
  m->console_dirfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (m->console_dirfd < 0)
    return berth_fail (err, errno, "open directory `%s` of the exit file", dir);
  snprintf (m->console_name, sizeof (m->console_name), ".console-%d.sock", (int)getpid ());
  unlinkat (m->console_dirfd, m->console_name, 0);
  if ((size_t)snprintf (path, size, "/proc/self/fd/%d/%s", m->console_dirfd, m->console_name) >= size
      || strlen (path) >= sizeof (addr.sun_path))
    return berth_fail (err, ENAMETOOLONG, "console socket `%s`", path);
  memcpy (addr.sun_path, path, strlen (path) + 1);
  m->console_listen = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (m->console_listen < 0)
    return berth_fail (err, errno, "console socket: socket");
  if (bind (m->console_listen, (struct sockaddr *)&addr, sizeof (addr)) < 0)
    return berth_fail (err, errno, "bind console socket `%s/%s`", dir, m->console_name);
  if (listen (m->console_listen, 1) < 0)
    return berth_fail (err, errno, "listen on console socket `%s/%s`", dir, m->console_name);
  return 0;
}

static int
setup_pipes (struct mon *m, berth_err *err)
{
  int outp[2], errp[2], inp[2];

  if (pipe2 (outp, O_CLOEXEC) < 0 || pipe2 (errp, O_CLOEXEC) < 0)
    return berth_fail (err, errno, "stdio pipes");
  /* 0-2 are what the init inherits; our copies go back to /dev/null after
     create so that EOF comes when the container's last writer is gone. */
  if (dup2 (outp[1], 1) < 0 || dup2 (errp[1], 2) < 0)
    return berth_fail (err, errno, "dup2 stdio");
  close (outp[1]);
  close (errp[1]);
  m->out_fd = outp[0];
  m->err_fd = errp[0];
  if (m->fifo_fd >= 0)
    {
      if (pipe2 (inp, O_CLOEXEC) < 0 || dup2 (inp[0], 0) < 0)
        return berth_fail (err, errno, "stdin pipe");
      close (inp[0]);
      m->stdin_w = inp[1];
    }
  return 0;
}

static int
setup (struct mon *m, char *console_path, size_t size, berth_err *err)
{
  const struct monitor_opts *o = m->o;
  cleanup_free char *copy = strdup (o->exit_file);
  const char *dir = dirname (copy);
  struct stat sb;

  /* Checked now: an exit file that cannot be written at the end is lost,
     and an old one would say the new container has exited. */
  if (access (dir, W_OK) < 0)
    return berth_fail (err, errno, "exit file directory `%s`", dir);
  if (lstat (o->exit_file, &sb) == 0)
    return berth_fail (err, EEXIST, "exit file `%s`", o->exit_file);
  if (cri_log_open (&m->log, o->log_path, o->max_line, &m->log_created, err) < 0
      || cri_log_stream_init (&m->out, "stdout", m->log.max_line) < 0
      || cri_log_stream_init (&m->err, "stderr", m->log.max_line) < 0)
    return -1;
  if (o->stdin_fifo)
    {
      if (mkfifo (o->stdin_fifo, 0600) == 0)
        m->fifo_made = true;
      else if (errno != EEXIST)
        return berth_fail (err, errno, "stdin fifo `%s`", o->stdin_fifo);
      /* stdin_once: read-only, so the last writer's close is seen (monitor.h). */
      m->fifo_fd = open (o->stdin_fifo, (o->stdin_once ? O_RDONLY : O_RDWR) | O_NONBLOCK | O_CLOEXEC);
      if (m->fifo_fd < 0)
        return berth_fail (err, errno, "open stdin fifo `%s`", o->stdin_fifo);
      if (fstat (m->fifo_fd, &sb) < 0 || !S_ISFIFO (sb.st_mode))
        return berth_fail (err, 0, "stdin fifo `%s`: not a fifo", o->stdin_fifo);
    }
  if (mon_attach_open (&m->attach, o->attach_socket, err) < 0)
    return -1;
  if (o->tty)
    return setup_console_socket (m, console_path, size, err);
  return setup_pipes (m, err);
}

/* tty: the init sent the pty master on the socket while create ran; the
 * connection waits in the backlog. */
static int
receive_master (struct mon *m, berth_err *err)
{
  struct pollfd p = { .fd = m->console_listen, .events = POLLIN };
  cleanup_close int conn = -1;
  int master;

  if (poll (&p, 1, CONSOLE_WAIT_MS) <= 0)
    return berth_fail (err, 0, "console socket: no connection from the container");
  conn = accept4 (m->console_listen, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0)
    return berth_fail (err, errno, "console socket: accept");
  master = terminal_recv_fd (conn, err);
  if (master < 0)
    return -1;
  m->out_fd = master;
  m->attach.master = master;
  if (m->fifo_fd >= 0 && (m->stdin_w = fcntl (master, F_DUPFD_CLOEXEC, 3)) < 0)
    return berth_fail (err, errno, "dup pty master");
  return 0;
}

static void
remove_console_socket (struct mon *m)
{
  if (m->console_listen >= 0)
    close (m->console_listen);
  m->console_listen = -1;
  if (m->console_dirfd >= 0)
    {
      unlinkat (m->console_dirfd, m->console_name, 0);
      close (m->console_dirfd);
    }
  m->console_dirfd = -1;
}

static int
create (struct mon *m, const char *console_path, berth_err *err)
{
  const struct monitor_opts *o = m->o;
  struct berth_create_options co = {
    .id = o->id,
    .bundle = o->bundle,
    .config_path = o->config_path,
    .console_socket = o->tty ? console_path : NULL,
  };
  int null;

  if (berth_container_create (&m->ctx, &co, err) < 0)
    return -1;
  m->created = true;
  null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i <= 2; i++)
    dup2 (null, i);
  close (null);
  if (o->tty && receive_master (m, err) < 0)
    return -1;
  remove_console_socket (m);
  return load_container (m, err);
}

/* Undo a half-done spawn: the container (libberth undid its own failed
 * create already), and the files we made. */
static void
undo (struct mon *m)
{
  berth_err ignored = NULL;

  if (m->created && berth_container_delete (&m->ctx, m->o->id, true, &ignored) < 0)
    berth_err_free (&ignored);
  remove_console_socket (m);
  mon_attach_close (&m->attach);
  if (m->log_created)
    unlink (m->o->log_path);
  if (m->fifo_made)
    unlink (m->o->stdin_fifo);
}

static void
send_report (int fd, bool ok, const struct mon *m, const char *text)
{
  struct monitor_report r = {
    .ok = ok,
    .monitor_pid = getpid (),
    .init_pid = m->init_pid,
    .msg_len = text ? strlen (text) : 0,
    .start_time = berth_proc_start_time (getpid ()),
  };

  /* berthd may be gone (SIGKILL during create): EPIPE is fine. */
  if (berth_write_all (fd, &r, sizeof (r)) == 0 && r.msg_len > 0)
    berth_write_all (fd, text, r.msg_len);
}

static int
open_signalfd (struct mon *m)
{
  sigset_t set;

  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  sigaddset (&set, SIGUSR1);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGHUP);
  sigaddset (&set, SIGPIPE);
  if (sigprocmask (SIG_BLOCK, &set, NULL) < 0)
    return -1;
  m->sig_fd = signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  return m->sig_fd;
}

/* ---- the relay loop ---- */

struct wait_state
{
  bool exited;
  int wstatus;
  struct timespec exited_at; /* CLOCK_REALTIME, for the record */
  struct timespec drain_end; /* CLOCK_MONOTONIC */
};

static void
close_stdin (struct mon *m)
{
  if (m->stdin_w >= 0)
    close (m->stdin_w);
  if (m->fifo_fd >= 0)
    close (m->fifo_fd);
  m->stdin_w = m->fifo_fd = -1;
  m->pending_len = m->pending_off = 0;
}

static void
reap (struct mon *m, struct wait_state *w)
{
  int status;
  pid_t pid;

  /* Anything orphaned in the container comes to us (subreaper): reap all. */
  while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
    if (pid == m->init_pid && !w->exited)
      {
        w->exited = true;
        w->wstatus = status;
        clock_gettime (CLOCK_REALTIME, &w->exited_at);
        clock_gettime (CLOCK_MONOTONIC, &w->drain_end);
        w->drain_end.tv_sec += DRAIN_MS / 1000;
        close_stdin (m);
      }
}

static void
handle_signals (struct mon *m, struct wait_state *w)
{
  struct signalfd_siginfo si;
  berth_err ignored = NULL;

  while (read (m->sig_fd, &si, sizeof (si)) == sizeof (si))
    {
      if (si.ssi_signo == SIGCHLD)
        reap (m, w);
      else if (si.ssi_signo == SIGUSR1 && cri_log_reopen (&m->log, &ignored) < 0)
        berth_err_free (&ignored); /* lines are dropped until the next reopen works */
    }
}

/* Read what is there; at EOF (or EIO: a pty whose last user closed it) the
 * stream's last partial line goes out and the fd is closed. */
static void
relay (struct mon *m, int *fd, struct cri_log_stream *s)
{
  char buf[65536];
  ssize_t n = read (*fd, buf, sizeof (buf));

  if (n > 0)
    {
      cri_log_feed (&m->log, s, buf, n);
      mon_attach_send (&m->attach, s == &m->err ? 2 : 1, buf, n);
      return;
    }
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  cri_log_finish (&m->log, s);
  close (*fd);
  *fd = -1;
}

/* stdin_once: the first session is over (its writers are gone and what
 * they wrote is relayed): EOF for the container, and no fifo for a later
 * writer to block on. */
static void
end_stdin_once (struct mon *m)
{
  close_stdin (m);
  unlink (m->o->stdin_fifo);
}

static void
feed_stdin (struct mon *m, bool fifo_ready, bool stdin_ready)
{
  ssize_t n;

  if (fifo_ready && m->pending_len == 0)
    {
      n = read (m->fifo_fd, m->pending, sizeof (m->pending));
      if (n > 0)
        {
          m->pending_len = n;
          m->pending_off = 0;
        }
      /* 0: no writer left, and (poll said so) one had come; only a
         read-only fifo (stdin_once) ever reads it. */
      else if (n == 0 && m->o->stdin_once)
        {
          end_stdin_once (m);
          return;
        }
    }
  if ((stdin_ready || fifo_ready) && m->pending_len > m->pending_off)
    {
      n = write (m->stdin_w, m->pending + m->pending_off, m->pending_len - m->pending_off);
      if (n > 0)
        m->pending_off += n;
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        close_stdin (m); /* the container closed its stdin */
      if (m->pending_off == m->pending_len)
        m->pending_len = m->pending_off = 0;
    }
}

static int
ms_until (const struct timespec *end)
{
  struct timespec now;
  long long ms;

  clock_gettime (CLOCK_MONOTONIC, &now);
  ms = (end->tv_sec - now.tv_sec) * 1000LL + (end->tv_nsec - now.tv_nsec) / 1000000;
  return ms < 0 ? 0 : (int)ms;
}

static void
run_loop (struct mon *m, struct wait_state *w)
{
  if (m->stdin_w >= 0)
    fcntl (m->stdin_w, F_SETFL, fcntl (m->stdin_w, F_GETFL) | O_NONBLOCK);
  reap (m, w); /* a SIGCHLD may have come before the signalfd */
  for (;;)
    {
      struct pollfd p[5 + 1 + MONITOR_ATTACH_MAX_CLIENTS];
      int n = 0, i_out = -1, i_err = -1, i_fifo = -1, i_in = -1, timeout = -1, i_att, n_att;

      if (w->exited && m->out_fd < 0 && m->err_fd < 0)
        return;
      if (w->exited && (timeout = ms_until (&w->drain_end)) == 0)
        return;
      p[n++] = (struct pollfd){ .fd = m->sig_fd, .events = POLLIN };
      if (m->out_fd >= 0)
        p[i_out = n++] = (struct pollfd){ .fd = m->out_fd, .events = POLLIN };
      if (m->err_fd >= 0)
        p[i_err = n++] = (struct pollfd){ .fd = m->err_fd, .events = POLLIN };
      if (m->fifo_fd >= 0 && m->pending_len == 0)
        p[i_fifo = n++] = (struct pollfd){ .fd = m->fifo_fd, .events = POLLIN };
      if (m->stdin_w >= 0 && m->pending_len > 0)
        p[i_in = n++] = (struct pollfd){ .fd = m->stdin_w, .events = POLLOUT };
      i_att = n;
      n_att = mon_attach_fds (&m->attach, p + n, 1 + MONITOR_ATTACH_MAX_CLIENTS);
      n += n_att;
      if (poll (p, n, timeout) < 0)
        {
          if (errno == EINTR)
            continue;
          return;
        }
      if (p[0].revents)
        handle_signals (m, w);
      if (i_out >= 0 && p[i_out].revents)
        relay (m, &m->out_fd, &m->out);
      if (i_err >= 0 && p[i_err].revents)
        relay (m, &m->err_fd, &m->err);
      if ((i_fifo >= 0 && p[i_fifo].revents) || (i_in >= 0 && p[i_in].revents))
        feed_stdin (m, i_fifo >= 0 && p[i_fifo].revents, i_in >= 0 && p[i_in].revents);
      mon_attach_events (&m->attach, p + i_att, n_att);
    }
}

static void
record_exit (struct mon *m, const struct wait_state *w)
{
  struct monitor_exit e = { .pid = m->init_pid };
  char when[64];
  berth_err ignored = NULL;

  if (WIFSIGNALED (w->wstatus))
    {
      e.signal = WTERMSIG (w->wstatus);
      e.exit_code = 128 + e.signal;
    }
  else
    e.exit_code = WEXITSTATUS (w->wstatus);
  e.oom_killed = m->oom_dir != NULL && read_oom_kills (m) > m->oom_base;
  e.reason = (char *)(e.oom_killed ? "OOMKilled" : e.exit_code == 0 ? "Completed" : "Error");
  cri_log_format_time (when, sizeof (when), &w->exited_at);
  e.exited_at = when;
  if (monitor_exit_write (m->o->exit_file, m->o->id, &e, &ignored) < 0)
    berth_err_free (&ignored); /* nobody to tell: berthd sees no exit file */
}

void
monitor_process_main (const struct monitor_opts *o, int report_fd)
{
  struct mon m = {
    .o = o,
    .ctx = { .state_root = o->state_root, .systemd_cgroup = o->systemd_cgroup },
    .out_fd = -1,
    .err_fd = -1,
    .stdin_w = -1,
    .fifo_fd = -1,
    .console_dirfd = -1,
    .console_listen = -1,
    .sig_fd = -1,
    .attach = { .listen_fd = -1, .dirfd = -1, .master = -1 },
  };
  struct wait_state w = { 0 };
  struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
  char console_path[128];
  berth_err err = NULL;
  int report;

  report = monitor_isolate_fds (report_fd, true);
  monitor_reset_signals ();
  sigaction (SIGUSR1, &sa, NULL);
  prctl (PR_SET_NAME, "berth-monitor", 0, 0, 0);
  if (report < 0)
    _exit (1);
  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    berth_fail (&err, errno, "monitor `%s`: PR_SET_CHILD_SUBREAPER", o->id);
  if (err != NULL || setup (&m, console_path, sizeof (console_path), &err) < 0 || create (&m, console_path, &err) < 0
      || open_signalfd (&m) < 0)
    {
      if (err == NULL)
        berth_fail (&err, errno, "monitor `%s`: signalfd", o->id);
      undo (&m);
      send_report (report, false, &m, err->msg);
      _exit (1);
    }
  /* A SIGUSR1 that came during create, before the signalfd. */
  if (reopen_wanted && cri_log_reopen (&m.log, &err) < 0)
    berth_err_free (&err);
  send_report (report, true, &m, NULL);
  close (report);
  /* Hold no directory of the caller's busy (a bundle on a mount). */
  if (chdir ("/") < 0)
    _exit (1);
  run_loop (&m, &w);
  if (m.out_fd >= 0)
    cri_log_finish (&m.log, &m.out);
  if (m.err_fd >= 0)
    cri_log_finish (&m.log, &m.err);
  if (w.exited)
    record_exit (&m, &w);
  mon_attach_close (&m.attach); /* attach clients see EOF once the exit is on record */
  cri_log_close (&m.log);
  _exit (0);
}
