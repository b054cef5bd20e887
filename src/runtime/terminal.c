/* Console handling, as runc does it.
 *
 *   container process (devpts mounted)          console socket peer
 *   ----------------------------------          -------------------
 *   open /dev/ptmx, unlockpt
 *   TIOCGPTPEER (or ptsname + open) -> peer
 *   setsid, TIOCSCTTY peer
 *   dup2 peer -> 0, 1, 2
 *   [TIOCSWINSZ process.consoleSize]
 *   sendmsg data "<pty name>" ───────────────▶ --console-socket owner
 *           SCM_RIGHTS master                  (containerd shim, conmon), or
 *   close master, carry on to execve           berth itself (foreground run
 *                                              or exec: a socketpair, then
 *                                              terminal_relay on the master)
 *
 * The pty is made inside the container so that its devpts instance, not
 * the host's, owns it.
 */
#include "runtime/terminal.h"

#include "runtime/signals.h"
#include "util/cleanup.h"
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO ('T', 0x41)
#endif

static int
open_peer (int master, berth_err *err)
{
  char name[64];
  int fd;

  fd = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd >= 0 || (errno != EINVAL && errno != ENOTTY))
    return fd >= 0 ? fd : berth_fail (err, errno, "open the pty peer (TIOCGPTPEER)");
  /* Kernels before 4.13. */
  if (ptsname_r (master, name, sizeof (name)) != 0)
    return berth_fail (err, errno, "ptsname");
  fd = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail (err, errno, "open `%s`", name);
  return fd;
}

/* The peer must end up as 0, 1 and 2 without O_CLOEXEC: dup2 onto itself
 * would keep the flag, so move a peer that is already one of them. */
static int
peer_to_stdio (int *peer, berth_err *err)
{
  if (*peer <= STDERR_FILENO)
    {
      int moved = fcntl (*peer, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
      if (moved < 0)
        return berth_fail (err, errno, "dup the pty peer");
      close (*peer);
      *peer = moved;
    }
  for (int i = STDIN_FILENO; i <= STDERR_FILENO; i++)
    if (dup2 (*peer, i) < 0)
      return berth_fail (err, errno, "dup2 the pty peer to fd %d", i);
  return 0;
}

int
terminal_setup_in_container (int *master_out, berth_err *err)
{
  cleanup_close int master = -1;
  cleanup_close int peer = -1;

  master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return berth_fail (err, errno, "open `/dev/ptmx`");
  if (unlockpt (master) < 0)
    return berth_fail (err, errno, "unlockpt");
  peer = open_peer (master, err);
  if (peer < 0)
    return -1;
  /* EPERM: already a process group leader; fine if we lead the session. */
  if (setsid () < 0 && !(errno == EPERM && getsid (0) == getpid ()))
    return berth_fail (err, errno, "setsid");
  if (ioctl (peer, TIOCSCTTY, 0) < 0)
    return berth_fail (err, errno, "make the pty the controlling terminal (TIOCSCTTY)");
  if (peer_to_stdio (&peer, err) < 0)
    return -1;
  *master_out = steal_fd (&master);
  return 0;
}

int
terminal_set_size (int master, unsigned rows, unsigned cols, berth_err *err)
{
  struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };

  if (rows > 0xffff || cols > 0xffff)
    return berth_fail (err, EINVAL, "console size %ux%u", rows, cols);
  if (ioctl (master, TIOCSWINSZ, &ws) < 0)
    return berth_fail (err, errno, "set console size %ux%u", rows, cols);
  return 0;
}

int
terminal_send_master (int sockfd, int master, const char *name, berth_err *err)
{
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  /* SOCK_STREAM carries no ancillary data without at least one byte. */
  const char *payload = name != NULL && name[0] != '\0' ? name : "\0";
  size_t len = name != NULL && name[0] != '\0' ? strlen (name) : 1;
  struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
  struct msghdr msg = {
    .msg_iov = &iov,
    .msg_iovlen = 1,
    .msg_control = u.buf,
    .msg_controllen = sizeof (u.buf),
  };
  struct cmsghdr *cmsg;
  ssize_t n;

  memset (&u, 0, sizeof (u));
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &master, sizeof (int));
  do
    n = sendmsg (sockfd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return berth_fail (err, errno, "send the console master to the console socket");
  if ((size_t)n != len)
    return berth_fail (err, EIO, "send the console master: short write");
  return 0;
}

int
terminal_connect_console_socket (const char *path, berth_err *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int fd = -1;

  if (strlen (path) >= sizeof (addr.sun_path))
    return berth_fail (err, ENAMETOOLONG, "connect to console socket `%s`", path);
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return berth_fail (err, errno, "connect to console socket `%s`: socket", path);
  if (connect (fd, (struct sockaddr *)&addr, sizeof (addr)) < 0)
    return berth_fail (err, errno, "connect to console socket `%s`", path);
  return steal_fd (&fd);
}

/* Closes every fd carried by msg (when more than one was sent). */
static void
close_received (struct msghdr *msg)
{
  for (struct cmsghdr *c = CMSG_FIRSTHDR (msg); c != NULL; c = CMSG_NXTHDR (msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
        {
          int fd;
          memcpy (&fd, CMSG_DATA (c) + i * sizeof (int), sizeof (int));
          close (fd);
        }
}

int
terminal_recv_fd_name (int sockfd, char **name_out, berth_err *err)
{
  union
  {
    char buf[CMSG_SPACE (4 * sizeof (int))];
    struct cmsghdr align;
  } u;
  char data[4096];
  struct iovec iov = { .iov_base = data, .iov_len = sizeof (data) - 1 };
  struct msghdr msg = {
    .msg_iov = &iov,
    .msg_iovlen = 1,
    .msg_control = u.buf,
    .msg_controllen = sizeof (u.buf),
  };
  struct cmsghdr *cmsg;
  ssize_t n;
  int fd;

  do
    n = recvmsg (sockfd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return berth_fail (err, errno, "receive the console master");
  cmsg = CMSG_FIRSTHDR (&msg);
  if (n == 0 || cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS
      || cmsg->cmsg_len != CMSG_LEN (sizeof (int)) || (msg.msg_flags & MSG_CTRUNC))
    {
      close_received (&msg);
      return berth_fail (err, 0, "receive the console master: expected exactly one file descriptor");
    }
  memcpy (&fd, CMSG_DATA (cmsg), sizeof (int));
  if (name_out != NULL)
    {
      data[n] = '\0';
      *name_out = strdup (data);
      if (*name_out == NULL)
        {
          close (fd);
          return berth_fail (err, ENOMEM, "receive the console master");
        }
    }
  return fd;
}

int
terminal_recv_fd (int sockfd, berth_err *err)
{
  return terminal_recv_fd_name (sockfd, NULL, err);
}

/* --- terminal_relay ---------------------------------------------------- */

/* How long the relay keeps draining the master once the child is gone: a
 * process the child left behind may hold the pty open for ever. */
#define RELAY_DRAIN_MS 100

struct relay
{
  int master;
  pid_t child;
  int *exit_status;
  bool stdin_open;
  bool master_open;
  bool child_done;
  char in[4096]; /* read from stdin, not yet written to the master */
  size_t in_len;
  size_t in_off;
};

static void
copy_window_size (int master)
{
  struct winsize ws;

  if (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0 || ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
    ioctl (master, TIOCSWINSZ, &ws);
}

static int
relay_signals (struct relay *r, struct signal_forward *sf, berth_err *err)
{
  int signo, ret;

  while ((signo = signal_forward_read (sf, err)) > 0)
    {
      if (signo == SIGWINCH)
        copy_window_size (r->master);
      else if (signal_is_forwarded (signo) && !r->child_done && kill (r->child, signo) < 0 && errno != ESRCH)
        return berth_fail (err, errno, "forward signal %d to %d", signo, (int)r->child);
    }
  if (signo < 0)
    return -1;
  if (!r->child_done)
    {
      ret = process_reap_nohang (r->child, r->exit_status, err);
      if (ret < 0)
        return -1;
      r->child_done = ret > 0;
    }
  return 0;
}

static void
relay_stdin (struct relay *r)
{
  ssize_t n = read (STDIN_FILENO, r->in, sizeof (r->in));

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0)
    {
      r->stdin_open = false; /* EOF: stop reading, the child goes on */
      return;
    }
  r->in_len = (size_t)n;
  r->in_off = 0;
}

static void
relay_to_master (struct relay *r)
{
  ssize_t n = write (r->master, r->in + r->in_off, r->in_len - r->in_off);

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n < 0)
    {
      r->in_len = r->in_off = 0;
      return;
    }
  r->in_off += (size_t)n;
  if (r->in_off == r->in_len)
    r->in_len = r->in_off = 0;
}

static void
relay_from_master (struct relay *r)
{
  char buf[8192];
  ssize_t n = read (r->master, buf, sizeof (buf));

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0)
    {
      r->master_open = false; /* EIO: every peer fd is closed */
      return;
    }
  (void)berth_write_all (STDOUT_FILENO, buf, (size_t)n); /* stdout gone: keep draining the master */
}

static int
relay_loop (struct relay *r, struct signal_forward *sf, berth_err *err)
{
  if (relay_signals (r, sf, err) < 0)
    return -1;
  while (!r->child_done || r->master_open)
    {
      struct pollfd p[3] = {
        { .fd = sf->fd, .events = POLLIN },
        { .fd = r->stdin_open && r->master_open && r->in_len == 0 ? STDIN_FILENO : -1, .events = POLLIN },
        { .fd = r->master_open ? r->master : -1, .events = POLLIN | (r->in_len ? POLLOUT : 0) },
      };
      int n = poll (p, 3, r->child_done ? RELAY_DRAIN_MS : -1);

      if (n < 0 && errno != EINTR)
        return berth_fail (err, errno, "poll");
      if (n == 0)
        break; /* the child is gone and the master stayed quiet */
      if (n < 0)
        continue;
      if (p[0].revents && relay_signals (r, sf, err) < 0)
        return -1;
      if (p[1].revents)
        relay_stdin (r);
      if (p[2].revents & POLLOUT)
        relay_to_master (r);
      if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
        relay_from_master (r);
    }
  return 0;
}

int
terminal_relay (int master, pid_t child, int *exit_status, berth_err *err)
{
  struct relay r = {
    .master = master,
    .child = child,
    .exit_status = exit_status,
    .stdin_open = true,
    .master_open = true,
  };
  struct signal_forward sf;
  struct termios saved_tio, raw;
  bool raw_mode = false;
  int flags, ret;

  flags = fcntl (master, F_GETFL);
  if (flags < 0 || fcntl (master, F_SETFL, flags | O_NONBLOCK) < 0)
    return berth_fail (err, errno, "set the console master non-blocking");
  if (isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &saved_tio) == 0)
    {
      raw = saved_tio;
      cfmakeraw (&raw);
      raw_mode = tcsetattr (STDIN_FILENO, TCSANOW, &raw) == 0;
    }
  if (signal_forward_begin (&sf, true, err) < 0)
    {
      ret = -1;
      goto out;
    }
  copy_window_size (master);
  /* Returns 0 only once the child is reaped. */
  ret = relay_loop (&r, &sf, err);
  signal_forward_end (&sf);

out:
  if (raw_mode)
    tcsetattr (STDIN_FILENO, TCSANOW, &saved_tio);
  return ret;
}
