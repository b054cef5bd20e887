#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

char *
berth_read_fd (int fd, size_t limit, size_t *len, const char *what, berth_err *err)
{
  size_t cap = 8192, off = 0;
  char *buf = malloc (cap + 1);

  for (;;)
    {
      ssize_t n;
      if (off == cap)
        {
          if (cap >= limit)
            {
              free (buf);
              return (berth_fail (err, 0, "%s: larger than %zu bytes", what, limit), NULL);
            }
          cap *= 2;
          buf = realloc (buf, cap + 1);
        }
      n = read (fd, buf + off, cap - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int e = errno;
          free (buf);
          return (berth_fail (err, e, "read %s", what), NULL);
        }
      if (n == 0)
        break;
      off += (size_t)n;
    }
  buf[off] = '\0';
  *len = off;
  return buf;
}

json_t *
berth_json_load_fd (int fd, const char *what, berth_err *err)
{
  json_error_t jerr;
  size_t len;
  char *text = berth_read_fd (fd, 64 * 1024 * 1024, &len, what, err);
  json_t *doc;

  if (text == NULL)
    return NULL;
  doc = json_loadb (text, len, 0, &jerr);
  free (text);
  if (doc == NULL)
    berth_fail (err, 0, "%s is corrupt: line %d: %s", what, jerr.line, jerr.text);
  return doc;
}

int
berth_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      p += n;
      len -= (size_t)n;
    }
  return 0;
}

int
berth_read_exact (int fd, void *buf, size_t len)
{
  char *p = buf;

  while (len > 0)
    {
      ssize_t n = read (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      p += n;
      len -= (size_t)n;
    }
  return 0;
}

pid_t
berth_read_pid_file (const char *path)
{
  char buf[32] = { 0 };
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -1;
  n = read (fd, buf, sizeof (buf) - 1);
  close (fd);
  return n > 0 ? (pid_t)atoi (buf) : -1;
}
