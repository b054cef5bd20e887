/* The CRI log file: the kubelet reads it (`kubectl logs`) and rotates it,
 * so its format is containerd's to the byte (monitor_internal.h). */
#include "daemon/monitor_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

size_t
cri_log_format_time (char *buf, size_t size, const struct timespec *ts)
{
  struct tm tm;
  size_t n;

  gmtime_r (&ts->tv_sec, &tm);
  n = strftime (buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
  n += snprintf (buf + n, size - n, ".%09ldZ", ts->tv_nsec);
  return n < size ? n : size - 1;
}

static int
open_log (const char *path, bool *created, berth_err *err)
{
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0640);

  if (created)
    *created = fd >= 0;
  if (fd < 0 && errno == EEXIST)
    fd = open (path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return berth_fail (err, errno, "open log file `%s`", path);
  return fd;
}

int
cri_log_open (struct cri_log *l, const char *path, size_t max_line, bool *created, berth_err *err)
{
  l->fd = -1;
  l->path = NULL;
  l->max_line = max_line ? max_line : MONITOR_DEFAULT_MAX_LINE;
  *created = false;
  if (path == NULL)
    return 0;
  l->fd = open_log (path, created, err);
  if (l->fd < 0)
    return -1;
  l->path = strdup (path);
  return 0;
}

int
cri_log_reopen (struct cri_log *l, berth_err *err)
{
  if (l->path == NULL)
    return 0;
  if (l->fd >= 0)
    close (l->fd);
  l->fd = open_log (l->path, NULL, err);
  return l->fd < 0 ? -1 : 0;
}

void
cri_log_close (struct cri_log *l)
{
  if (l->fd >= 0)
    close (l->fd);
  l->fd = -1;
  free (l->path);
  l->path = NULL;
}

int
cri_log_stream_init (struct cri_log_stream *s, const char *name, size_t max_line)
{
  s->name = name;
  s->len = 0;
  s->buf = malloc (max_line ? max_line : MONITOR_DEFAULT_MAX_LINE);
  return s->buf ? 0 : -1;
}

void
cri_log_stream_free (struct cri_log_stream *s)
{
  free (s->buf);
  s->buf = NULL;
}

/* One line, one writev: O_APPEND keeps concurrent lines whole. */
static void
write_line (struct cri_log *l, const struct cri_log_stream *s, char tag, size_t len)
{
  char head[64];
  struct timespec now;
  size_t n;
  struct iovec iov[3];
  ssize_t w;

  if (l->fd < 0)
    return;
  clock_gettime (CLOCK_REALTIME, &now);
  n = cri_log_format_time (head, sizeof (head), &now);
  n += snprintf (head + n, sizeof (head) - n, " %s %c ", s->name, tag);
  iov[0] = (struct iovec){ head, n };
  iov[1] = (struct iovec){ s->buf, len };
  iov[2] = (struct iovec){ (char *)"\n", 1 };
  do
    w = writev (l->fd, iov, 3);
  while (w < 0 && errno == EINTR);
  /* A full disk loses lines; the container must not stall for it. */
}

void
cri_log_feed (struct cri_log *l, struct cri_log_stream *s, const char *data, size_t n)
{
  while (n > 0)
    {
      const char *nl;
      size_t seg;

      if (*data == '\n')
        {
          size_t len = s->len;
          if (len > 0 && s->buf[len - 1] == '\r')
            len--;
          write_line (l, s, 'F', len);
          s->len = 0;
          data++;
          n--;
          continue;
        }
      nl = memchr (data, '\n', n);
      seg = nl ? (size_t)(nl - data) : n;
      while (seg > 0)
        {
          size_t take;
          /* Full, and more of the line follows: a P piece (a line of
             exactly max_line bytes still ends as one F line). */
          if (s->len == l->max_line)
            {
              write_line (l, s, 'P', s->len);
              s->len = 0;
            }
          take = l->max_line - s->len < seg ? l->max_line - s->len : seg;
          memcpy (s->buf + s->len, data, take);
          s->len += take;
          data += take;
          n -= take;
          seg -= take;
        }
    }
}

void
cri_log_finish (struct cri_log *l, struct cri_log_stream *s)
{
  if (s->len > 0)
    write_line (l, s, 'P', s->len);
  s->len = 0;
}
