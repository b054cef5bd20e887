/* Attach, the monitor's half (monitor.h has the protocol): a unix socket
 * next to the exit file whose clients get the container's live output and
 * may resize its pty; and berthd's connect.
 *
 * The socket's path can be longer than sun_path: both sides reach it as
 * /proc/self/fd/DIRFD/NAME, as the console socket is bound.  Each client has
 * a bounded queue (MONITOR_ATTACH_MAX_BEHIND); the monitor never blocks on
 * a client, it drops one that falls that far behind.
 */
#include "daemon/monitor_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util/cleanup.h"

/* sun_path for `path` through an O_PATH fd of its directory. */
static int
proc_path (const char *path, int *dirfd, char *name, size_t name_size, struct sockaddr_un *addr, berth_err *err)
{
  cleanup_free char *copy = strdup (path), *copy2 = strdup (path);

  if (copy == NULL || copy2 == NULL)
    return berth_fail (err, ENOMEM, "attach socket");
  *dirfd = open (dirname (copy), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*dirfd < 0)
    return berth_fail (err, errno, "attach socket `%s`: open its directory", path);
  snprintf (name, name_size, "%s", basename (copy2));
  memset (addr, 0, sizeof (*addr));
  addr->sun_family = AF_UNIX;
  if ((size_t)snprintf (addr->sun_path, sizeof (addr->sun_path), "/proc/self/fd/%d/%s", *dirfd, name)
      >= sizeof (addr->sun_path))
    {
      close (*dirfd);
      *dirfd = -1;
      return berth_fail (err, ENAMETOOLONG, "attach socket `%s`", path);
    }
  return 0;
}

int
mon_attach_open (struct mon_attach *a, const char *path, berth_err *err)
{
  struct sockaddr_un addr;

  memset (a, 0, sizeof (*a));
  a->listen_fd = a->dirfd = a->master = -1;
  if (path == NULL)
    return 0;
  if (proc_path (path, &a->dirfd, a->name, sizeof (a->name), &addr, err) < 0)
    return -1;
  unlinkat (a->dirfd, a->name, 0);
  a->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (a->listen_fd < 0)
    return berth_fail (err, errno, "attach socket: socket");
  /* Only root (berthd) may attach: the socket carries the container's output. */
  if (bind (a->listen_fd, (struct sockaddr *)&addr, sizeof (addr)) < 0 || fchmodat (a->dirfd, a->name, 0600, 0) < 0
      || listen (a->listen_fd, 8) < 0)
    return berth_fail (err, errno, "attach socket `%s`", path);
  a->made = true;
  return 0;
}

static void
drop (struct mon_attach *a, size_t i)
{
  close (a->c[i].fd);
  free (a->c[i].buf);
  a->c[i] = a->c[--a->n];
}

int
mon_attach_fds (struct mon_attach *a, struct pollfd *p, int max)
{
  int n = 0;

  if (a->listen_fd >= 0 && n < max)
    p[n++] = (struct pollfd){ .fd = a->listen_fd, .events = POLLIN };
  for (size_t i = 0; i < a->n && n < max; i++)
    p[n++] = (struct pollfd){ .fd = a->c[i].fd, .events = POLLIN | (a->c[i].len ? POLLOUT : 0) };
  return n;
}

static void
flush (struct mon_attach *a, size_t i)
{
  struct mon_attach_client *c = &a->c[i];
  ssize_t n;

  if (c->len == 0)
    return;
  n = send (c->fd, c->buf, c->len, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0)
    {
      memmove (c->buf, c->buf + n, c->len - n);
      c->len -= n;
    }
}

/* What a client sent: resizes. */
static int
client_read (struct mon_attach *a, struct mon_attach_client *c)
{
  uint8_t buf[64];
  ssize_t n = recv (c->fd, buf, sizeof (buf), MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 0;
  if (n <= 0)
    return -1;
  for (ssize_t k = 0; k < n; k++)
    {
      c->in[c->in_len++] = buf[k];
      if (c->in[0] != 'r')
        return -1;
      if (c->in_len == sizeof (c->in))
        {
          struct winsize ws = { .ws_row = (unsigned short)(c->in[1] << 8 | c->in[2]),
                                .ws_col = (unsigned short)(c->in[3] << 8 | c->in[4]) };
          if (a->master >= 0)
            ioctl (a->master, TIOCSWINSZ, &ws);
          c->in_len = 0;
        }
    }
  return 0;
}

void
mon_attach_events (struct mon_attach *a, const struct pollfd *p, int n)
{
  size_t n_before = a->n;
  int k = 0;

  if (a->listen_fd >= 0)
    {
      if (n > 0 && (p[0].revents & POLLIN))
        {
          int fd = accept4 (a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (fd >= 0 && a->n == MONITOR_ATTACH_MAX_CLIENTS)
            close (fd);
          else if (fd >= 0)
            a->c[a->n++] = (struct mon_attach_client){ .fd = fd };
        }
      k = 1;
    }
  /* p[k + i] is c[i] as polled; backwards, since drop() moves the last
     client into the hole (one not polled, or one already seen). */
  for (size_t i = n_before; i-- > 0;)
    {
      short rev = k + (int)i < n ? p[k + i].revents : 0;
      if (!rev)
        continue;
      if ((rev & (POLLIN | POLLHUP | POLLERR)) && client_read (a, &a->c[i]) < 0)
        {
          drop (a, i);
          continue;
        }
      if (rev & POLLOUT)
        flush (a, i);
    }
}

void
mon_attach_send (struct mon_attach *a, int stream, const void *data, size_t len)
{
  uint8_t hdr[5] = { (uint8_t)stream, len >> 24, len >> 16, len >> 8, len };

  for (size_t i = 0; i < a->n;)
    {
      struct mon_attach_client *c = &a->c[i];
      if (c->len + sizeof (hdr) + len > MONITOR_ATTACH_MAX_BEHIND)
        {
          drop (a, i); /* too slow: the log has it all */
          continue;
        }
      if (c->len + sizeof (hdr) + len > c->cap)
        {
          size_t cap = c->cap ? c->cap : 65536;
          uint8_t *nb;
          while (cap < c->len + sizeof (hdr) + len)
            cap *= 2;
          if ((nb = realloc (c->buf, cap)) == NULL)
            {
              drop (a, i);
              continue;
            }
          c->buf = nb;
          c->cap = cap;
        }
      memcpy (c->buf + c->len, hdr, sizeof (hdr));
      memcpy (c->buf + c->len + sizeof (hdr), data, len);
      c->len += sizeof (hdr) + len;
      flush (a, i);
      i++;
    }
}

void
mon_attach_close (struct mon_attach *a)
{
  /* What is queued goes out first (best effort, briefly). */
  for (size_t i = 0; i < a->n; i++)
    {
      for (int tries = 0; a->c[i].len && tries < 20; tries++)
        {
          struct pollfd p = { .fd = a->c[i].fd, .events = POLLOUT };
          if (poll (&p, 1, 50) > 0)
            flush (a, i);
        }
    }
  while (a->n)
    drop (a, 0);
  if (a->listen_fd >= 0)
    close (a->listen_fd);
  a->listen_fd = -1;
  if (a->dirfd >= 0)
    {
      if (a->made)
        unlinkat (a->dirfd, a->name, 0);
      close (a->dirfd);
    }
  a->dirfd = -1;
  a->made = false;
}

int
monitor_attach_connect (const char *path, berth_err *err)
{
  struct sockaddr_un addr;
  char name[256];
  int dirfd = -1, fd;

  if (proc_path (path, &dirfd, name, sizeof (name), &addr, err) < 0)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect (fd, (struct sockaddr *)&addr, sizeof (addr)) < 0)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      close (dirfd);
      return berth_fail (err, e, "attach socket `%s`%s", path,
                         e == ENOENT ? " (the container has exited, or its monitor predates Attach)" : "");
    }
  close (dirfd);
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
  return fd;
}
