/* The streaming server: a TCP listener (loopback by default), the one-time
 * tokens the RPCs hand out, the HTTP/1.1 upgrade to SPDY/3.1, and the SPDY
 * session each connection then runs (stream.h draws the whole exchange).
 *
 * Threads: one accepts (poll on the listener and a wake-up pipe); each
 * connection gets a detached thread of its own, at most
 * STREAM_MAX_CONNECTIONS at once (more are refused with 503).  The head
 * must arrive within HEAD_TIMEOUT_S; until the 101 nothing but a head is
 * read.  Tokens: 16 bytes from getrandom(2), hex; a token is removed when
 * used (whatever the outcome) and after STREAM_TOKEN_TTL_S.
 */
#include "daemon/stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/stream_http.h"
#include "util/log.h"

#define HEAD_TIMEOUT_S 10
#define SEND_TIMEOUT_S 60
#define TOKEN_BYTES 16
#define MAX_HEADER_BLOCK (64 * 1024)

struct pending
{
  char token[TOKEN_BYTES * 2 + 1];
  time_t expires; /* CLOCK_MONOTONIC seconds */
  struct stream_request *rq;
};

struct stream_server
{
  struct daemon *d;
  int listen_fd;
  int wake[2];
  pthread_t thread;
  char address[80]; /* HOST:PORT as bound, for URLs */

  pthread_mutex_t mu;
  pthread_cond_t cond;
  struct pending *pending;
  size_t n_pending;
  unsigned connections; /* threads running */
};

void
stream_request_free (struct stream_request *rq)
{
  if (rq == NULL)
    return;
  free (rq->container_id);
  if (rq->cmd)
    for (char **p = rq->cmd; *p; p++)
      free (*p);
  free (rq->cmd);
  free (rq->runtime_root);
  free (rq->stdin_fifo);
  free (rq->attach_socket);
  free (rq->exit_file);
  free (rq->netns_path);
  free (rq);
}

static time_t
mono_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

/* ---- tokens ---- */

/* Under mu: drop expired requests. */
static void
expire_locked (struct stream_server *s)
{
  time_t now = mono_s ();
  size_t k = 0;

  for (size_t i = 0; i < s->n_pending; i++)
    if (s->pending[i].expires <= now)
      stream_request_free (s->pending[i].rq);
    else
      s->pending[k++] = s->pending[i];
  s->n_pending = k;
}

char *
stream_server_put (struct stream_server *s, struct stream_request *rq, berth_err *err)
{
  static const char *const kinds[] = { "exec", "attach", "portforward" };
  unsigned char raw[TOKEN_BYTES];
  struct pending p = { 0 };
  char *url = NULL;

  if (getrandom (raw, sizeof (raw), 0) != (ssize_t)sizeof (raw))
    {
      stream_request_free (rq);
      berth_fail (err, errno, "streaming token: getrandom");
      return NULL;
    }
  for (size_t i = 0; i < sizeof (raw); i++)
    snprintf (p.token + 2 * i, 3, "%02x", raw[i]);
  p.expires = mono_s () + STREAM_TOKEN_TTL_S;
  p.rq = rq;
  pthread_mutex_lock (&s->mu);
  expire_locked (s);
  if (s->n_pending == STREAM_MAX_PENDING)
    {
      pthread_mutex_unlock (&s->mu);
      stream_request_free (rq);
      berth_fail (err, EAGAIN, "too many streaming requests waiting (%d)", STREAM_MAX_PENDING);
      return NULL;
    }
  s->pending[s->n_pending++] = p;
  pthread_mutex_unlock (&s->mu);
  if (asprintf (&url, "http://%s/%s/%s", s->address, kinds[rq->kind], p.token) < 0)
    abort ();
  return url;
}

/* In time independent of where they differ. */
static bool
token_equal (const char *want, const char *got)
{
  unsigned char diff = strlen (got) != TOKEN_BYTES * 2;

  for (size_t i = 0; i < TOKEN_BYTES * 2; i++)
    {
      diff |= (unsigned char)(want[i] ^ got[i]);
      if (got[i] == '\0')
        break;
    }
  return diff == 0;
}

/* Removes and returns the request of `token` if it is of `kind` and not
 * expired; the token is gone either way. */
static struct stream_request *
take (struct stream_server *s, const char *token, enum stream_kind kind)
{
  struct stream_request *rq = NULL;

  pthread_mutex_lock (&s->mu);
  expire_locked (s);
  for (size_t i = 0; i < s->n_pending; i++)
    if (token_equal (s->pending[i].token, token))
      {
        rq = s->pending[i].rq;
        s->pending[i] = s->pending[--s->n_pending];
        break;
      }
  pthread_mutex_unlock (&s->mu);
  if (rq && rq->kind != kind)
    {
      stream_request_free (rq);
      rq = NULL;
    }
  return rq;
}

const char *
stream_server_address (const struct stream_server *s)
{
  return s->address;
}

/* ---- I/O helpers ---- */

static int
send_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;

  while (len)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      p += n;
      len -= n;
    }
  return 0;
}

static void
http_error (int fd, int code, const char *reason, const char *msg)
{
  char buf[1024];
  int n = snprintf (buf, sizeof (buf),
                    "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n%s\n",
                    code, reason, strlen (msg) + 1, msg);
  if (n > 0)
    send_all (fd, buf, (size_t)n < sizeof (buf) ? (size_t)n : sizeof (buf) - 1);
}

static const char *
reason_of (int code)
{
  switch (code)
    {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
    }
}

/* Ends a connection without losing what was sent: a close(2) with unread
 * input resets it, and the peer may then drop our last bytes. */
static void
linger_close (int fd)
{
  char buf[4096];
  struct pollfd p = { .fd = fd, .events = POLLIN };
  time_t end = mono_s () + 2;

  shutdown (fd, SHUT_WR);
  while (mono_s () < end && poll (&p, 1, 200) >= 0)
    {
      if (p.revents && recv (fd, buf, sizeof (buf), MSG_DONTWAIT) <= 0)
        break;
    }
  close (fd);
}

/* ---- the SPDY session ---- */

struct sstream *
session_stream (struct session *s, uint32_t id)
{
  for (size_t i = 0; i < s->n_streams; i++)
    if (s->streams[i].id == id)
      return &s->streams[i];
  return NULL;
}

static int
session_write (struct session *s, const void *buf, size_t len)
{
  if (s->closed)
    return -1;
  if (send_all (s->sock, buf, len) < 0)
    {
      s->closed = true;
      return -1;
    }
  return 0;
}

int
session_send_data (struct session *s, struct sstream *st, const void *data, size_t len, bool fin)
{
  uint8_t hdr[SPDY_HEADER_LEN];
  const uint8_t *p = data;

  if (st->local_fin)
    return 0;
  do
    {
      size_t chunk = len > 32768 ? 32768 : len;
      bool last = chunk == len;
      spdy_build_data (hdr, st->id, fin && last ? SPDY_FLAG_FIN : 0, NULL, 0);
      hdr[5] = chunk >> 16;
      hdr[6] = chunk >> 8;
      hdr[7] = chunk;
      if (session_write (s, hdr, sizeof (hdr)) < 0 || (chunk && session_write (s, p, chunk) < 0))
        return -1;
      p += chunk;
      len -= chunk;
    }
  while (len);
  if (fin)
    st->local_fin = true;
  return 0;
}

int
session_reset (struct session *s, struct sstream *st, uint32_t status)
{
  uint8_t f[16];

  st->local_fin = st->remote_fin = true;
  return session_write (s, f, spdy_build_rst (f, st->id, status));
}

static int
reply (struct session *s, uint32_t id)
{
  uint8_t *block = NULL, *f;
  size_t len = 0;
  int r;

  if (spdy_headers_encode (&s->z, NULL, NULL, 0, &block, &len) < 0)
    return -1;
  f = malloc (SPDY_HEADER_LEN + 10 + len);
  if (f == NULL)
    {
      free (block);
      return -1;
    }
  r = session_write (s, f, spdy_build_headers_frame (f, SPDY_SYN_REPLY, 0, id, 0, block, len));
  free (block);
  free (f);
  return r;
}

static enum stream_type
type_of (const char *v)
{
  static const struct
  {
    const char *name;
    enum stream_type t;
  } names[] = { { "error", ST_ERROR },   { "stdin", ST_STDIN },   { "stdout", ST_STDOUT },
                { "stderr", ST_STDERR }, { "resize", ST_RESIZE }, { "data", ST_DATA } };

  for (size_t i = 0; v && i < sizeof (names) / sizeof (names[0]); i++)
    if (strcmp (v, names[i].name) == 0)
      return names[i].t;
  return ST_NONE;
}

static int
on_syn (struct session *s, const struct spdy_frame *f, const struct session_ops *ops, void *user)
{
  struct spdy_headers h;
  const char *why = NULL, *v;
  struct sstream *st = NULL, tmp = { .id = f->stream_id };
  uint8_t rst[16];

  /* Header blocks share one zlib stream: decode even a refused one. */
  if (spdy_headers_decode (&s->z, f->data, f->len, MAX_HEADER_BLOCK, &h, &why) < 0)
    {
      berth_log (BERTH_LOG_DEBUG, "streaming: %s", why);
      return -1;
    }
  /* A slot: a new one, or one of a stream closed both ways that nobody
     holds (a port-forward connection opens two streams per request, for
     as long as it lives). */
  if (s->n_streams < SESSION_MAX_STREAMS)
    st = &s->streams[s->n_streams];
  else
    for (size_t i = 0; i < s->n_streams && st == NULL; i++)
      if (s->streams[i].local_fin && s->streams[i].remote_fin && !s->streams[i].held)
        st = &s->streams[i];
  if (f->stream_id % 2 == 0 || f->stream_id <= s->last_id || st == NULL)
    {
      spdy_headers_free (&h);
      return session_write (
          s, rst, spdy_build_rst (rst, f->stream_id, st == NULL ? SPDY_RST_REFUSED_STREAM : SPDY_RST_PROTOCOL_ERROR));
    }
  s->last_id = f->stream_id;
  if (st == &s->streams[s->n_streams])
    s->n_streams++;
  *st = tmp;
  st->type = type_of (spdy_headers_get (&h, "streamtype"));
  if ((v = spdy_headers_get (&h, "port")))
    snprintf (st->port, sizeof (st->port), "%s", v);
  if ((v = spdy_headers_get (&h, "requestid")))
    snprintf (st->request, sizeof (st->request), "%s", v);
  if (f->flags & SPDY_FLAG_FIN)
    st->remote_fin = true;
  if (reply (s, st->id) < 0)
    {
      spdy_headers_free (&h);
      return -1;
    }
  if (ops->on_stream (user, s, st, &h) < 0)
    session_reset (s, st, SPDY_RST_REFUSED_STREAM);
  else if (st->remote_fin && ops->on_data)
    ops->on_data (user, s, st, NULL, 0, true);
  spdy_headers_free (&h);
  return 0;
}

static int
dispatch (struct session *s, const struct spdy_frame *f, const struct session_ops *ops, void *user)
{
  struct sstream *st;
  uint8_t out[16];

  switch (f->type)
    {
    case SPDY_DATA:
      st = session_stream (s, f->stream_id);
      if (st == NULL || st->remote_fin)
        return session_write (s, out, spdy_build_rst (out, f->stream_id, SPDY_RST_INVALID_STREAM));
      if (f->flags & SPDY_FLAG_FIN)
        st->remote_fin = true;
      ops->on_data (user, s, st, f->data, f->len, f->flags & SPDY_FLAG_FIN);
      return 0;
    case SPDY_SYN_STREAM:
      return on_syn (s, f, ops, user);
    case SPDY_RST_STREAM:
      st = session_stream (s, f->stream_id);
      if (st && !(st->local_fin && st->remote_fin))
        {
          st->local_fin = st->remote_fin = true;
          if (ops->on_reset)
            ops->on_reset (user, s, st);
        }
      return 0;
    case SPDY_PING:
      /* Odd ids are the client's own pings: echo them. */
      if (f->value % 2 == 1)
        return session_write (s, out, spdy_build_ping (out, f->value));
      return 0;
    case SPDY_GOAWAY:
      s->closed = true;
      return -1;
    case SPDY_HEADERS:
      {
        /* Nothing to do with them, but the zlib stream must see them. */
        struct spdy_headers h;
        const char *why;
        if (spdy_headers_decode (&s->z, f->data, f->len, MAX_HEADER_BLOCK, &h, &why) < 0)
          return -1;
        spdy_headers_free (&h);
        return 0;
      }
    case SPDY_SYN_REPLY: /* we open no streams */
      return -1;
    default: /* SETTINGS, WINDOW_UPDATE, unknown: ignored (spdy.h) */
      return 0;
    }
}

int
session_pump (struct session *s, const struct session_ops *ops, void *user)
{
  size_t off = 0;
  ssize_t n;

  n = recv (s->sock, s->rbuf + s->rlen, SESSION_MAX_FRAME + SPDY_HEADER_LEN - s->rlen, MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (n <= 0)
    {
      s->closed = true;
      return -1;
    }
  s->rlen += n;
  for (;;)
    {
      struct spdy_frame f;
      const char *why = NULL;
      int r = spdy_parse (s->rbuf + off, s->rlen - off, SESSION_MAX_FRAME, &f, &why);
      if (r < 0)
        {
          uint8_t g[16];
          berth_log (BERTH_LOG_DEBUG, "streaming: %s", why);
          session_write (s, g, spdy_build_goaway (g, s->last_id, 1));
          s->closed = true;
          return -1;
        }
      if (r == 0)
        break;
      off += f.frame_len;
      if (dispatch (s, &f, ops, user) < 0 || s->closed)
        {
          s->closed = true;
          return -1;
        }
    }
  memmove (s->rbuf, s->rbuf + off, s->rlen - off);
  s->rlen -= off;
  return 0;
}

/* ---- HTTP: the head, the upgrade ---- */

struct conn
{
  struct stream_server *srv;
  int fd;
};

static const char *const remote_protocols[]
    = { "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io", NULL };
static const char *const forward_protocols[] = { "portforward.k8s.io", NULL };

/* The first protocol of the client's (in its order) that we speak, as the
 * kubelet's httpstream.Handshake picks it; "" when it offered none. */
static const char *
negotiate (const struct http_request *r, const char *const *ours)
{
  if (r->n_protocols == 0)
    return "";
  for (size_t i = 0; i < r->n_protocols; i++)
    {
      /* A header may hold a comma-separated list. */
      char copy[64], *save = NULL;
      snprintf (copy, sizeof (copy), "%s", r->protocols[i]);
      for (char *t = strtok_r (copy, ", ", &save); t; t = strtok_r (NULL, ", ", &save))
        for (const char *const *o = ours; *o; o++)
          if (strcmp (t, *o) == 0)
            return *o;
    }
  return NULL;
}

static int
read_head (int fd, struct http_request *r, int *status, const char **why)
{
  char buf[HTTP_MAX_HEAD];
  size_t len = 0;
  time_t end = mono_s () + HEAD_TIMEOUT_S;

  for (;;)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      int left = (int)(end - mono_s ()), pr;
      ssize_t n;

      if (left <= 0)
        {
          *status = 408;
          *why = "timed out waiting for the request head";
          return -1;
        }
      pr = poll (&p, 1, left * 1000);
      if (pr < 0 && errno == EINTR)
        continue;
      if (pr <= 0)
        continue;
      /* Peek, so bytes after the head (SPDY frames sent early) stay queued. */
      n = recv (fd, buf + len, sizeof (buf) - len, MSG_PEEK);
      if (n <= 0)
        return -2;
      int rr = http_parse_request (buf, len + n, r, status, why);
      if (rr != 0)
        {
          /* Consume the head (or what we looked at, on error). */
          size_t take = rr > 0 ? r->head_len - len : (size_t)n;
          if (recv (fd, buf + len, take, 0) != (ssize_t)take)
            return -2;
          return rr > 0 ? 0 : -1;
        }
      if (recv (fd, buf + len, n, 0) != n)
        return -2;
      len += n;
    }
}

static void
serve (struct conn *c)
{
  static const struct
  {
    const char *prefix;
    enum stream_kind kind;
  } routes[] = { { "/exec/", STREAM_EXEC }, { "/attach/", STREAM_ATTACH }, { "/portforward/", STREAM_PORTFORWARD } };
  struct http_request r;
  struct stream_request *rq = NULL;
  const char *why = NULL, *proto, *token = NULL;
  int status = 400, kind = -1, hr;
  char msg[512], resp[256];
  struct session s = { .sock = c->fd };

  hr = read_head (c->fd, &r, &status, &why);
  if (hr == -2)
    return;
  if (hr < 0)
    {
      http_error (c->fd, status, status == 408 ? "Request Timeout" : reason_of (status), why);
      return;
    }
  for (size_t i = 0; i < sizeof (routes) / sizeof (routes[0]); i++)
    if (strncmp (r.path, routes[i].prefix, strlen (routes[i].prefix)) == 0)
      {
        kind = routes[i].kind;
        token = r.path + strlen (routes[i].prefix);
      }
  if (kind < 0 || token[0] == '\0' || strchr (token, '/') || strchr (token, '?'))
    {
      snprintf (msg, sizeof (msg), "%s: not found (the paths are /exec/TOKEN, /attach/TOKEN, /portforward/TOKEN)",
                r.path);
      http_error (c->fd, 404, reason_of (404), msg);
      return;
    }
  if (strcmp (r.method, "GET") != 0 && strcmp (r.method, "POST") != 0)
    {
      snprintf (msg, sizeof (msg), "method %s not allowed (GET or POST)", r.method);
      http_error (c->fd, 405, reason_of (405), msg);
      return;
    }
  /* The token is used up by this request, whatever comes next (kubelet). */
  rq = take (c->srv, token, (enum stream_kind)kind);
  if (rq == NULL)
    {
      http_error (c->fd, 404, reason_of (404), "unknown or expired token");
      return;
    }
  if (!r.connection_upgrade || !r.upgrade_spdy)
    {
      http_error (c->fd, 400, reason_of (400),
                  !r.connection_upgrade ? "unable to upgrade: missing \"Connection: Upgrade\""
                                        : "unable to upgrade: missing \"Upgrade: SPDY/3.1\" (only SPDY/3.1 is spoken)");
      goto out;
    }
  proto = negotiate (&r, kind == STREAM_PORTFORWARD ? forward_protocols : remote_protocols);
  if (proto == NULL)
    {
      snprintf (msg, sizeof (msg),
                "unable to upgrade: unable to negotiate protocol: client supports %s, server supports %s",
                r.protocols[0],
                kind == STREAM_PORTFORWARD ? "[portforward.k8s.io]"
                                           : "[v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]");
      http_error (c->fd, 403, reason_of (403), msg);
      goto out;
    }
  snprintf (resp, sizeof (resp),
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n%s%s%s\r\n",
            proto[0] ? "X-Stream-Protocol-Version: " : "", proto, proto[0] ? "\r\n" : "");
  if (send_all (c->fd, resp, strlen (resp)) < 0)
    goto out;
  if (spdy_zlib_init (&s.z) < 0 || (s.rbuf = malloc (SESSION_MAX_FRAME + SPDY_HEADER_LEN)) == NULL)
    goto out_session;
  s.protocol = proto;
  if (kind == STREAM_PORTFORWARD)
    stream_serve_portforward (&s, rq);
  else
    {
      int version = strncmp (proto, "v4.", 3) == 0   ? 4
                    : strncmp (proto, "v3.", 3) == 0 ? 3
                    : strncmp (proto, "v2.", 3) == 0 ? 2
                                                     : 1;
      stream_serve_remotecommand (&s, rq, version);
    }
  if (!s.closed)
    {
      uint8_t g[16];
      session_write (&s, g, spdy_build_goaway (g, s.last_id, 0));
    }
out_session:
  spdy_zlib_free (&s.z);
  free (s.rbuf);
out:
  stream_request_free (rq);
}

static void *
conn_thread (void *arg)
{
  struct conn *c = arg;
  struct stream_server *srv = c->srv;

  serve (c);
  linger_close (c->fd);
  free (c);
  pthread_mutex_lock (&srv->mu);
  srv->connections--;
  pthread_cond_broadcast (&srv->cond);
  pthread_mutex_unlock (&srv->mu);
  return NULL;
}

static void *
accept_thread (void *arg)
{
  struct stream_server *s = arg;

  for (;;)
    {
      struct pollfd p[2] = { { .fd = s->listen_fd, .events = POLLIN }, { .fd = s->wake[0], .events = POLLIN } };
      struct conn *c;
      pthread_attr_t attr;
      pthread_t t;
      int fd, one = 1;
      struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };

      if (poll (p, 2, -1) < 0)
        continue;
      if (p[1].revents)
        break;
      fd = accept4 (s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (fd < 0)
        {
          if (errno == EMFILE || errno == ENFILE)
            poll (NULL, 0, 100);
          continue;
        }
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
      setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof (tv));
      pthread_mutex_lock (&s->mu);
      if (s->connections >= STREAM_MAX_CONNECTIONS)
        {
          pthread_mutex_unlock (&s->mu);
          http_error (fd, 503, reason_of (503), "too many streaming connections");
          close (fd);
          continue;
        }
      s->connections++;
      pthread_mutex_unlock (&s->mu);
      c = calloc (1, sizeof (*c));
      if (c)
        {
          c->srv = s;
          c->fd = fd;
        }
      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      if (c == NULL || pthread_create (&t, &attr, conn_thread, c) != 0)
        {
          free (c);
          close (fd);
          pthread_mutex_lock (&s->mu);
          s->connections--;
          pthread_mutex_unlock (&s->mu);
        }
      pthread_attr_destroy (&attr);
    }
  return NULL;
}

/* "HOST:PORT" or "[V6]:PORT" into a sockaddr. */
static int
parse_address (const char *addr, struct sockaddr_storage *ss, socklen_t *len, berth_err *err)
{
  char host[64];
  const char *colon, *h = addr;
  size_t hl;
  char *end;
  long port;

  if (addr[0] == '[')
    {
      const char *close = strchr (addr, ']');
      if (close == NULL || close[1] != ':')
        return berth_fail (err, 0, "stream_server_address `%s`: expected HOST:PORT", addr);
      h = addr + 1;
      hl = close - h;
      colon = close + 1;
    }
  else
    {
      colon = strrchr (addr, ':');
      if (colon == NULL)
        return berth_fail (err, 0, "stream_server_address `%s`: expected HOST:PORT", addr);
      hl = colon - addr;
    }
  if (hl == 0 || hl >= sizeof (host))
    return berth_fail (err, 0, "stream_server_address `%s`: expected HOST:PORT", addr);
  memcpy (host, h, hl);
  host[hl] = '\0';
  errno = 0;
  port = strtol (colon + 1, &end, 10);
  if (colon[1] == '\0' || *end || errno || port < 0 || port > 65535)
    return berth_fail (err, 0, "stream_server_address `%s`: bad port", addr);
  memset (ss, 0, sizeof (*ss));
  if (inet_pton (AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1)
    {
      ((struct sockaddr_in *)ss)->sin_family = AF_INET;
      ((struct sockaddr_in *)ss)->sin_port = htons ((uint16_t)port);
      *len = sizeof (struct sockaddr_in);
      return 0;
    }
  if (inet_pton (AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
    {
      ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
      ((struct sockaddr_in6 *)ss)->sin6_port = htons ((uint16_t)port);
      *len = sizeof (struct sockaddr_in6);
      return 0;
    }
  return berth_fail (err, 0, "stream_server_address `%s`: the host must be an IP address", addr);
}

int
stream_server_start (struct daemon *d, const char *addr, struct stream_server **out, berth_err *err)
{
  struct stream_server *s = calloc (1, sizeof (*s));
  struct sockaddr_storage ss, bound;
  socklen_t len = 0, blen = sizeof (bound);
  char host[INET6_ADDRSTRLEN];
  int one = 1;

  if (s == NULL)
    return berth_fail (err, ENOMEM, "streaming server");
  s->d = d;
  s->listen_fd = s->wake[0] = s->wake[1] = -1;
  pthread_mutex_init (&s->mu, NULL);
  pthread_cond_init (&s->cond, NULL);
  s->pending = calloc (STREAM_MAX_PENDING, sizeof (*s->pending));
  if (s->pending == NULL || parse_address (addr, &ss, &len, err) < 0)
    goto fail;
  s->listen_fd = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd < 0)
    {
      berth_fail (err, errno, "stream_server_address `%s`: socket", addr);
      goto fail;
    }
  setsockopt (s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof (one));
  if (bind (s->listen_fd, (struct sockaddr *)&ss, len) < 0 || listen (s->listen_fd, 64) < 0
      || getsockname (s->listen_fd, (struct sockaddr *)&bound, &blen) < 0)
    {
      berth_fail (err, errno, "stream_server_address `%s`: bind", addr);
      goto fail;
    }
  if (bound.ss_family == AF_INET)
    {
      inet_ntop (AF_INET, &((struct sockaddr_in *)&bound)->sin_addr, host, sizeof (host));
      snprintf (s->address, sizeof (s->address), "%s:%u", host, ntohs (((struct sockaddr_in *)&bound)->sin_port));
    }
  else
    {
      inet_ntop (AF_INET6, &((struct sockaddr_in6 *)&bound)->sin6_addr, host, sizeof (host));
      snprintf (s->address, sizeof (s->address), "[%s]:%u", host, ntohs (((struct sockaddr_in6 *)&bound)->sin6_port));
    }
  if (pipe2 (s->wake, O_CLOEXEC) < 0)
    {
      berth_fail (err, errno, "streaming server: pipe");
      goto fail;
    }
  if ((errno = pthread_create (&s->thread, NULL, accept_thread, s)) != 0)
    {
      berth_fail (err, errno, "streaming server: thread");
      goto fail;
    }
  *out = s;
  return 0;
fail:
  if (s->listen_fd >= 0)
    close (s->listen_fd);
  if (s->wake[0] >= 0)
    {
      close (s->wake[0]);
      close (s->wake[1]);
    }
  free (s->pending);
  free (s);
  return -1;
}

/* Stops accepting; connections still running are left to the process
 * exit (their processes die with their helpers' SIGTERM, or outlive it as
 * an exec'd process outlives a kubelet that went away). */
void
stream_server_stop (struct stream_server *s)
{
  if (s == NULL)
    return;
  if (write (s->wake[1], "x", 1) < 0)
    return;
  pthread_join (s->thread, NULL);
  close (s->listen_fd);
  s->listen_fd = -1;
  pthread_mutex_lock (&s->mu);
  for (size_t i = 0; i < s->n_pending; i++)
    stream_request_free (s->pending[i].rq);
  s->n_pending = 0;
  pthread_mutex_unlock (&s->mu);
}
