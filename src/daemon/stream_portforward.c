/* PortForward after the upgrade: portforward.k8s.io over a SPDY session.
 *
 *   client                                               berthd
 *   SYN_STREAM streamType=error port=P requestID=N ───▶  \  a pair: once both are here,
 *   SYN_STREAM streamType=data  port=P requestID=N ───▶  /  connect to 127.0.0.1:P (or [::1]:P)
 *                                                          inside the pod's network namespace
 *   DATA data ... FIN ────────────────────────────────▶  the connection (FIN: shutdown(SHUT_WR))
 *   ◀──────────────────────────────────────────────────  DATA data ... FIN (the peer's EOF)
 *   ◀──────────────────────────────────────────────────  DATA error "..." FIN (only on failure;
 *                                                          else FIN alone at the end)
 *
 * A client without requestID (older ones) pairs by stream id: the data
 * stream is the error stream's id + 2, as the kubelet reads it.  The socket
 * is made by a short-lived thread that enters the pod's netns with
 * setns(2) (a per-thread attribute) and leaves with the thread; the socket
 * stays in that namespace.  Pairs come and go for the session's life.
 */
#include "daemon/stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

#define MAX_PAIRS 16
#define TO_SOCK_BUF (2 * (SESSION_MAX_FRAME + SPDY_HEADER_LEN))

struct pair
{
  bool used;
  char request[24];
  uint16_t port;
  struct sstream *err_s, *data_s;
  int fd;
  uint8_t *to_sock; /* TO_SOCK_BUF: from the client, not yet written */
  size_t to_len;
  bool client_eof, sock_eof, shut;
};

struct forward
{
  struct stream_request *rq;
  struct pair pairs[MAX_PAIRS];
};

struct dial
{
  const char *netns;
  uint16_t port;
  int fd;
  int err;
};

static int
connect_local (uint16_t port, int *err)
{
  struct sockaddr_in v4
      = { .sin_family = AF_INET, .sin_port = htons (port), .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_port = htons (port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd >= 0 && connect (fd, (struct sockaddr *)&v4, sizeof (v4)) == 0)
    return fd;
  *err = errno;
  if (fd >= 0)
    close (fd);
  fd = socket (AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect (fd, (struct sockaddr *)&v6, sizeof (v6)) == 0)
    return fd;
  if (fd >= 0)
    close (fd);
  return -1; /* *err: the IPv4 attempt's */
}

static void *
dial_thread (void *arg)
{
  struct dial *d = arg;

  if (d->netns)
    {
      int ns = open (d->netns, O_RDONLY | O_CLOEXEC);
      if (ns < 0 || setns (ns, CLONE_NEWNET) < 0)
        {
          d->err = errno;
          if (ns >= 0)
            close (ns);
          return NULL;
        }
      close (ns);
    }
  d->fd = connect_local (d->port, &d->err);
  return NULL;
}

static int
dial (const char *netns, uint16_t port, int *err)
{
  struct dial d = { .netns = netns, .port = port, .fd = -1 };
  pthread_t t;

  if ((*err = pthread_create (&t, NULL, dial_thread, &d)) != 0)
    return -1;
  pthread_join (t, NULL);
  *err = d.err;
  return d.fd;
}

static struct pair *
pair_of (struct forward *f, const char *request)
{
  struct pair *free_slot = NULL;

  for (size_t i = 0; i < MAX_PAIRS; i++)
    if (f->pairs[i].used && strcmp (f->pairs[i].request, request) == 0)
      return &f->pairs[i];
    else if (!f->pairs[i].used && free_slot == NULL)
      free_slot = &f->pairs[i];
  if (free_slot == NULL)
    return NULL;
  memset (free_slot, 0, sizeof (*free_slot));
  free_slot->used = true;
  free_slot->fd = -1;
  snprintf (free_slot->request, sizeof (free_slot->request), "%s", request);
  return free_slot;
}

static void
pair_release (struct pair *p)
{
  if (p->err_s)
    p->err_s->held = false;
  if (p->data_s)
    p->data_s->held = false;
  if (p->fd >= 0)
    close (p->fd);
  free (p->to_sock);
  memset (p, 0, sizeof (*p));
  p->fd = -1;
}

static void
pair_fail (struct session *s, struct pair *p, const char *msg)
{
  if (p->err_s)
    session_send_data (s, p->err_s, msg, strlen (msg), true);
  if (p->data_s)
    session_send_data (s, p->data_s, NULL, 0, true);
  pair_release (p);
}

static int
on_stream (void *user, struct session *s, struct sstream *st, const struct spdy_headers *h)
{
  struct forward *f = user;
  char request[24], *end;
  long port;
  struct pair *p;
  int err = 0;

  (void)h;
  if (st->type != ST_ERROR && st->type != ST_DATA)
    return -1;
  errno = 0;
  port = strtol (st->port, &end, 10);
  if (st->port[0] == '\0' || *end || errno || port < 1 || port > 65535)
    return -1;
  if (st->request[0])
    snprintf (request, sizeof (request), "%s", st->request);
  else
    snprintf (request, sizeof (request), "#%u", st->type == ST_ERROR ? st->id : st->id - 2);
  p = pair_of (f, request);
  if (p == NULL)
    return -1;
  if ((st->type == ST_ERROR ? p->err_s : p->data_s) != NULL || (p->port && p->port != port))
    return -1;
  p->port = (uint16_t)port;
  if (st->type == ST_ERROR)
    p->err_s = st;
  else
    p->data_s = st;
  st->held = true;
  if (p->err_s == NULL || p->data_s == NULL)
    return 0;
  p->to_sock = malloc (TO_SOCK_BUF);
  p->fd = p->to_sock ? dial (f->rq->netns_path, p->port, &err) : -1;
  if (p->fd < 0)
    {
      char msg[256];
      snprintf (msg, sizeof (msg), "error forwarding port %u to the pod: dial 127.0.0.1:%u: %s", p->port, p->port,
                strerror (err ? err : ENOMEM));
      pair_fail (s, p, msg);
      return 0;
    }
  fcntl (p->fd, F_SETFL, fcntl (p->fd, F_GETFL) | O_NONBLOCK);
  return 0;
}

static struct pair *
pair_by_stream (struct forward *f, struct sstream *st)
{
  for (size_t i = 0; i < MAX_PAIRS; i++)
    if (f->pairs[i].used && (f->pairs[i].data_s == st || f->pairs[i].err_s == st))
      return &f->pairs[i];
  return NULL;
}

static void
on_data (void *user, struct session *s, struct sstream *st, const uint8_t *data, size_t len, bool fin)
{
  struct forward *f = user;
  struct pair *p = pair_by_stream (f, st);

  (void)s;
  if (p == NULL || st != p->data_s)
    return; /* nothing is read from the error stream */
  if (p->to_sock)
    {
      size_t room = TO_SOCK_BUF - p->to_len, n = len < room ? len : room;
      memcpy (p->to_sock + p->to_len, data, n);
      p->to_len += n;
    }
  if (fin)
    p->client_eof = true;
}

static void
on_reset (void *user, struct session *s, struct sstream *st)
{
  struct pair *p = pair_by_stream (user, st);

  if (p)
    {
      /* The client gave up on this request: drop it. */
      if (p->err_s && p->err_s != st)
        session_send_data (s, p->err_s, NULL, 0, true);
      if (p->data_s && p->data_s != st)
        session_reset (s, p->data_s, SPDY_RST_CANCEL);
      pair_release (p);
    }
}

static const struct session_ops ops = { on_stream, on_data, on_reset };

/* Client bytes into the socket; SHUT_WR at the client's EOF. */
static void
flush_to_sock (struct pair *p)
{
  if (p->fd < 0)
    return;
  if (p->to_len)
    {
      ssize_t n = send (p->fd, p->to_sock, p->to_len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0)
        {
          memmove (p->to_sock, p->to_sock + n, p->to_len - n);
          p->to_len -= n;
        }
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        p->to_len = 0, p->client_eof = true; /* the peer is gone: drop it */
    }
  if (p->client_eof && p->to_len == 0 && !p->shut)
    {
      shutdown (p->fd, SHUT_WR);
      p->shut = true;
    }
}

void
stream_serve_portforward (struct session *s, struct stream_request *rq)
{
  struct forward *f = calloc (1, sizeof (*f));

  if (f == NULL)
    return;
  f->rq = rq;
  for (size_t i = 0; i < MAX_PAIRS; i++)
    f->pairs[i].fd = -1;
  while (!s->closed)
    {
      struct pollfd p[1 + MAX_PAIRS];
      int idx[1 + MAX_PAIRS], n = 0;
      bool room = true;

      for (size_t i = 0; i < MAX_PAIRS; i++)
        {
          struct pair *pr = &f->pairs[i];
          if (!pr->used || pr->fd < 0)
            continue;
          flush_to_sock (pr);
          if (pr->sock_eof && pr->shut)
            {
              /* Both ways done: the request is over. */
              session_send_data (s, pr->err_s, NULL, 0, true);
              pair_release (pr);
              continue;
            }
          if (TO_SOCK_BUF - pr->to_len < SESSION_MAX_FRAME + SPDY_HEADER_LEN)
            room = false;
          short ev = (pr->sock_eof ? 0 : POLLIN) | (pr->to_len ? POLLOUT : 0);
          if (ev)
            {
              idx[n] = (int)i;
              p[n++] = (struct pollfd){ .fd = pr->fd, .events = ev };
            }
        }
      /* The client's socket only while every pair can take a whole pump. */
      idx[n] = -1;
      if (room)
        p[n++] = (struct pollfd){ .fd = s->sock, .events = POLLIN };
      if (poll (p, n, room ? -1 : 100) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      for (int k = 0; k < n; k++)
        {
          if (!p[k].revents)
            continue;
          if (idx[k] < 0)
            {
              if (session_pump (s, &ops, f) < 0)
                break;
              continue;
            }
          struct pair *pr = &f->pairs[idx[k]];
          if (!pr->used || pr->fd < 0)
            continue;
          if (p[k].revents & (POLLIN | POLLHUP | POLLERR))
            {
              char buf[32768];
              ssize_t m = recv (pr->fd, buf, sizeof (buf), MSG_DONTWAIT);
              if (m > 0)
                session_send_data (s, pr->data_s, buf, m, false);
              else if (m == 0 || (errno != EAGAIN && errno != EINTR))
                {
                  pr->sock_eof = true;
                  session_send_data (s, pr->data_s, NULL, 0, true);
                  if (!pr->client_eof)
                    {
                      /* The pod closed first: nothing more goes to it. */
                      pr->client_eof = true;
                      pr->to_len = 0;
                    }
                }
            }
        }
    }
  for (size_t i = 0; i < MAX_PAIRS; i++)
    if (f->pairs[i].used)
      pair_release (&f->pairs[i]);
  free (f);
}
