#include "runtime/sync.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SYNC_MAX_PAYLOAD 8192

struct sync_header
{
  uint32_t type;
  uint32_t len;
};

int
sync_send (int fd, enum sync_type type, const char *payload, berth_err *err)
{
  char buf[sizeof (struct sync_header) + SYNC_MAX_PAYLOAD];
  struct sync_header h = { .type = type, .len = payload ? strlen (payload) : 0 };
  ssize_t n;

  if (h.len > SYNC_MAX_PAYLOAD)
    h.len = SYNC_MAX_PAYLOAD;
  memcpy (buf, &h, sizeof (h));
  if (h.len)
    memcpy (buf + sizeof (h), payload, h.len);
  do
    n = send (fd, buf, sizeof (h) + h.len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return berth_fail (err, errno, "send to sync socket");
  return 0;
}

int
sync_send_fd (int fd, enum sync_type type, int passed_fd, berth_err *err)
{
  struct sync_header h = { .type = type, .len = 0 };
  struct iovec iov = { .iov_base = &h, .iov_len = sizeof (h) };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof (control.buf) };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&msg);
  ssize_t n;

  memset (&control, 0, sizeof (control));
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &passed_fd, sizeof (int));
  do
    n = sendmsg (fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return berth_fail (err, errno, "send fd on sync socket");
  return 0;
}

int
sync_recv (int fd, enum sync_type *type, char **payload, berth_err *err)
{
  return sync_recv_fd (fd, type, payload, NULL, err);
}

int
sync_recv_fd (int fd, enum sync_type *type, char **payload, int *fd_out, berth_err *err)
{
  char buf[sizeof (struct sync_header) + SYNC_MAX_PAYLOAD + 1];
  struct sync_header h;
  ssize_t n;
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof (buf) - 1 };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof (control.buf) };

  if (payload)
    *payload = NULL;
  if (fd_out)
    *fd_out = -1;
  do
    n = recvmsg (fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    for (struct cmsghdr *cm = CMSG_FIRSTHDR (&msg); cm; cm = CMSG_NXTHDR (&msg, cm))
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        {
          int got;
          memcpy (&got, CMSG_DATA (cm), sizeof (int));
          if (fd_out)
            *fd_out = got;
          else
            close (got); /* nobody asked for it: never leak it */
        }
  if (n < 0 && errno == ECONNRESET)
    n = 0;
  if (n < 0)
    return berth_fail (err, errno, "receive from sync socket");
  if (n == 0)
    {
      *type = SYNC_EOF;
      return 0;
    }
  if ((size_t)n < sizeof (h))
    return berth_fail (err, 0, "short message on sync socket (%zd bytes)", n);
  memcpy (&h, buf, sizeof (h));
  if (h.len != (size_t)n - sizeof (h))
    return berth_fail (err, 0, "malformed message on sync socket");
  *type = h.type;
  if (payload)
    {
      buf[n] = '\0';
      *payload = strdup (buf + sizeof (h));
    }
  return 0;
}

void
sync_child_fail (int fd, berth_err *err)
{
  berth_err ignored = NULL;
  sync_send (fd, SYNC_ERROR, (err && *err) ? (*err)->msg : "unknown error", &ignored);
  _exit (1);
}
