/* Exec and Attach after the upgrade: k8s.io's remotecommand protocols over
 * a SPDY session (stream.h).
 *
 *   client                                     berthd
 *   SYN_STREAM streamType=error  ───────────▶  (v4: gets the status JSON at the end)
 *   SYN_STREAM streamType=stdin  ───────────▶  only when the request had stdin
 *   SYN_STREAM streamType=stdout ───────────▶  only when it had stdout
 *   SYN_STREAM streamType=stderr ───────────▶  only when it had stderr (never with tty)
 *   SYN_STREAM streamType=resize ───────────▶  tty, v3 and later: {"Width":W,"Height":H} ...
 *                     (each answered by a SYN_REPLY; all must come within STREAMS_WAIT_S)
 *   DATA stdin ... FIN  ────────────────────▶  the process' stdin (FIN: its EOF; no EOF with a tty)
 *   ◀──────────────────────────────────────── DATA stdout / stderr ... FIN
 *   ◀──────────────────────────────────────── DATA error {"metadata":{},"status":"Success"} FIN
 *                                             or Failure, reason NonZeroExitCode,
 *                                             details.causes [{reason: ExitCode, message: "N"}]
 *
 * v1-v3 write no status on success and the error's text on failure.
 * Attach talks to the container's monitor (monitor_attach.c): its output
 * comes framed over the monitor's attach socket, stdin goes to the stdin
 * fifo, a resize goes to the monitor, which owns the pty.  Attach ends when
 * the container does (the socket's EOF) or the client goes away; a process
 * Exec started is SIGKILLed when its client goes away (containerd does).
 */
#include "daemon/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "daemon/monitor.h"
#include "util/clock.h"
#include "util/log.h"

#define STREAMS_WAIT_S 30 /* the kubelet's stream creation timeout */
#define DRAIN_MS 1000
#define RESIZE_WAIT_MS 500
#define STDIN_BUF (2 * (SESSION_MAX_FRAME + SPDY_HEADER_LEN))

struct remote
{
  struct stream_request *rq;
  int version;
  struct sstream *err_s, *in_s, *out_s, *stderr_s, *resize_s;
  uint8_t inbuf[STDIN_BUF]; /* from the client, not yet written */
  size_t in_len;
  bool in_eof; /* the client ended stdin */
  int in_fd;   /* the process' stdin: pipe, pty master or the stdin fifo; -1 */
  char rsz[1024];
  size_t rsz_len;
  /* what a resize does: exec tty, the pty master; attach, the monitor */
  unsigned rows, cols; /* the last size the client sent (0: none yet) */
  int master;
  int attach_fd;
  uint8_t abuf[5 + 65536]; /* attach: one frame from the monitor */
  size_t alen;
};

static int
on_stream (void *user, struct session *s, struct sstream *st, const struct spdy_headers *h)
{
  struct remote *r = user;
  struct sstream **slot = NULL;

  (void)s;
  (void)h;
  switch (st->type)
    {
    case ST_ERROR:
      slot = &r->err_s;
      break;
    case ST_STDIN:
      slot = r->rq->in ? &r->in_s : NULL;
      break;
    case ST_STDOUT:
      slot = r->rq->out ? &r->out_s : NULL;
      break;
    case ST_STDERR:
      slot = r->rq->err && !r->rq->tty ? &r->stderr_s : NULL;
      break;
    case ST_RESIZE:
      slot = r->rq->tty ? &r->resize_s : NULL;
      break;
    default:
      break;
    }
  if (slot == NULL || *slot != NULL)
    return -1; /* not asked for, a duplicate, or unknown */
  *slot = st;
  st->held = true;
  return 0;
}

/* {"Width":W,"Height":H} objects, one after another (Go's json.Encoder). */
static void
apply_resizes (struct remote *r)
{
  size_t start = 0;

  for (size_t i = 0; i < r->rsz_len; i++)
    if (r->rsz[i] == '}')
      {
        char obj[256];
        size_t n = i + 1 - start;
        const char *w, *h;
        if (n < sizeof (obj))
          {
            memcpy (obj, r->rsz + start, n);
            obj[n] = '\0';
            w = strstr (obj, "\"Width\"");
            h = strstr (obj, "\"Height\"");
            if (w && h && (w = strchr (w, ':')) && (h = strchr (h, ':')))
              {
                long cols = strtol (w + 1, NULL, 10), rows = strtol (h + 1, NULL, 10);
                if (cols > 0 && rows > 0 && cols < 65536 && rows < 65536)
                  {
                    r->rows = (unsigned)rows;
                    r->cols = (unsigned)cols;
                    struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
                    uint8_t msg[5] = { 'r', rows >> 8, rows & 0xff, cols >> 8, cols & 0xff };
                    if (r->master >= 0)
                      ioctl (r->master, TIOCSWINSZ, &ws);
                    else if (r->attach_fd >= 0 && send (r->attach_fd, msg, sizeof (msg), MSG_NOSIGNAL) < 0)
                      berth_log (BERTH_LOG_DEBUG, "attach: resize: %s", strerror (errno));
                  }
              }
          }
        start = i + 1;
      }
  memmove (r->rsz, r->rsz + start, r->rsz_len - start);
  r->rsz_len -= start;
  if (r->rsz_len == sizeof (r->rsz))
    r->rsz_len = 0; /* garbage without a '}': drop it */
}

/* The recorded size to where it applies now (the process or the monitor
 * came after the client sent it). */
static void
push_size (struct remote *r)
{
  struct winsize ws = { .ws_row = (unsigned short)r->rows, .ws_col = (unsigned short)r->cols };
  uint8_t msg[5] = { 'r', r->rows >> 8, r->rows & 0xff, r->cols >> 8, r->cols & 0xff };

  if (r->rows == 0)
    return;
  if (r->master >= 0)
    ioctl (r->master, TIOCSWINSZ, &ws);
  else if (r->attach_fd >= 0 && send (r->attach_fd, msg, sizeof (msg), MSG_NOSIGNAL) < 0)
    berth_log (BERTH_LOG_DEBUG, "attach: resize: %s", strerror (errno));
}

static void
on_data (void *user, struct session *s, struct sstream *st, const uint8_t *data, size_t len, bool fin)
{
  struct remote *r = user;

  (void)s;
  if (st == r->in_s)
    {
      /* session_pump is called only while inbuf has room for all one
         pump can deliver (SESSION_MAX_FRAME + a header): nothing is cut. */
      size_t room = sizeof (r->inbuf) - r->in_len, n = len < room ? len : room;
      memcpy (r->inbuf + r->in_len, data, n);
      r->in_len += n;
      if (fin)
        r->in_eof = true;
    }
  else if (st == r->resize_s)
    {
      size_t room = sizeof (r->rsz) - r->rsz_len, n = len < room ? len : room;
      memcpy (r->rsz + r->rsz_len, data, n);
      r->rsz_len += n;
      apply_resizes (r);
    }
}

static void
on_reset (void *user, struct session *s, struct sstream *st)
{
  struct remote *r = user;

  (void)s;
  if (st == r->in_s)
    r->in_eof = true;
}

static const struct session_ops ops = { on_stream, on_data, on_reset };

static bool
all_streams (const struct remote *r)
{
  return r->err_s && (!r->rq->in || r->in_s) && (!r->rq->out || r->out_s) && (!r->rq->err || r->rq->tty || r->stderr_s)
         && (r->version < 3 || !r->rq->tty || r->resize_s);
}

static int
wait_streams (struct session *s, struct remote *r)
{
  long long end = berth_monotonic_ms () + STREAMS_WAIT_S * 1000LL;

  while (!all_streams (r))
    {
      struct pollfd p = { .fd = s->sock, .events = POLLIN };
      long long left = end - berth_monotonic_ms ();
      if (left <= 0)
        return -1;
      if (poll (&p, 1, (int)left) > 0 && session_pump (s, &ops, r) < 0)
        return -1;
    }
  return 0;
}

static void
json_escape (char *out, size_t size, const char *in)
{
  size_t o = 0;

  for (; *in && o + 7 < size; in++)
    {
      unsigned char c = (unsigned char)*in;
      if (c == '"' || c == '\\')
        {
          out[o++] = '\\';
          out[o++] = c;
        }
      else if (c < 0x20)
        o += snprintf (out + o, size - o, "\\u%04x", c);
      else
        out[o++] = c;
    }
  out[o] = '\0';
}

/* The end: the status on the error stream, FIN on every stream we write. */
static void
finish (struct session *s, struct remote *r, int exit_code, const char *failure)
{
  char buf[2048], esc[1024];
  int n = 0;

  if (r->out_s)
    session_send_data (s, r->out_s, NULL, 0, true);
  if (r->stderr_s)
    session_send_data (s, r->stderr_s, NULL, 0, true);
  if (r->err_s == NULL)
    return;
  if (failure)
    {
      json_escape (esc, sizeof (esc), failure);
      if (r->version >= 4)
        n = snprintf (buf, sizeof (buf),
                      "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"%s\",\"reason\":\"InternalError\","
                      "\"details\":{\"causes\":[{\"message\":\"%s\"}]},\"code\":500}",
                      esc, esc);
      else
        n = snprintf (buf, sizeof (buf), "%s", failure);
    }
  else if (exit_code != 0)
    {
      if (r->version >= 4)
        n = snprintf (buf, sizeof (buf),
                      "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero exit "
                      "code: error executing command, exit code %d\",\"reason\":\"NonZeroExitCode\",\"details\":"
                      "{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"%d\"}]}}",
                      exit_code, exit_code);
      else
        n = snprintf (buf, sizeof (buf), "command terminated with non-zero exit code: exit code %d", exit_code);
    }
  else if (r->version >= 4)
    n = snprintf (buf, sizeof (buf), "{\"metadata\":{},\"status\":\"Success\"}");
  if (n < 0 || (size_t)n >= sizeof (buf))
    n = 0;
  session_send_data (s, r->err_s, buf, n, true);
}

/* Writes what the client sent into in_fd; closes it at the client's EOF
 * (not a pty: that would hang it up). */
static void
feed_stdin (struct remote *r, bool is_pty)
{
  if (r->in_fd < 0)
    r->in_len = 0; /* nowhere to go (no stdin, or it was closed): dropped */
  if (r->in_fd >= 0 && r->in_len)
    {
      ssize_t n = write (r->in_fd, r->inbuf, r->in_len);
      if (n > 0)
        {
          memmove (r->inbuf, r->inbuf + n, r->in_len - n);
          r->in_len -= n;
        }
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        r->in_len = 0, r->in_eof = true; /* the reader is gone */
    }
  if (r->in_fd >= 0 && r->in_eof && r->in_len == 0 && !is_pty)
    {
      close (r->in_fd);
      r->in_fd = -1;
    }
}

/* Reads fd into a stream; -1 at EOF (or a pty's EIO). */
static int
forward (struct session *s, int fd, struct sstream *st)
{
  char buf[32768];
  ssize_t n = read (fd, buf, sizeof (buf));

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (n <= 0)
    return -1;
  if (st)
    session_send_data (s, st, buf, n, false);
  return 0;
}

static void
serve_exec (struct session *s, struct remote *r)
{
  struct stream_request *rq = r->rq;
  struct stream_exec_opts o = { .state_root = rq->runtime_root,
                                .id = rq->container_id,
                                .argv = rq->cmd,
                                .tty = rq->tty,
                                .in = rq->in,
                                .out = rq->out,
                                .err = rq->err && !rq->tty };
  struct stream_exec x;
  berth_err err = NULL;
  int out_fd, err_fd, exit_code = 0;
  bool exited = false;
  long long drain_end = -1;

  /* kubectl and crictl send the terminal's size just after opening the
     resize stream: wait a moment for it, so the process starts with it
     (process.consoleSize) rather than racing a TIOCSWINSZ. */
  for (long long end = berth_monotonic_ms () + RESIZE_WAIT_MS; rq->tty && r->resize_s && r->rows == 0 && !s->closed;)
    {
      struct pollfd p = { .fd = s->sock, .events = POLLIN };
      long long left = end - berth_monotonic_ms ();
      if (left <= 0 || poll (&p, 1, (int)left) <= 0 || session_pump (s, &ops, r) < 0)
        break;
    }
  o.rows = r->rows;
  o.cols = r->cols;
  if (stream_exec_start (&o, &x, &err) < 0)
    {
      finish (s, r, 0, err->msg);
      berth_err_free (&err);
      return;
    }
  r->master = x.master;
  if (rq->tty)
    {
      out_fd = x.master;
      err_fd = -1;
      r->in_fd = rq->in ? x.master : -1;
      push_size (r); /* one that came after the process was asked for */
    }
  else
    {
      out_fd = x.out_r;
      err_fd = x.err_r;
      r->in_fd = x.in_w;
      if (r->in_fd >= 0)
        fcntl (r->in_fd, F_SETFL, fcntl (r->in_fd, F_GETFL) | O_NONBLOCK);
    }
  for (;;)
    {
      struct pollfd p[5];
      int n = 0, i_sock = -1, i_out = -1, i_err = -1, i_in = -1, i_res = -1, timeout = -1;

      feed_stdin (r, rq->tty);
      if (exited && out_fd < 0 && err_fd < 0)
        break;
      if (drain_end >= 0 && (timeout = (int)(drain_end - berth_monotonic_ms ())) <= 0)
        break;
      if (!s->closed && sizeof (r->inbuf) - r->in_len >= SESSION_MAX_FRAME + SPDY_HEADER_LEN)
        p[i_sock = n++] = (struct pollfd){ .fd = s->sock, .events = POLLIN };
      if (out_fd >= 0)
        p[i_out = n++] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
      if (err_fd >= 0)
        p[i_err = n++] = (struct pollfd){ .fd = err_fd, .events = POLLIN };
      if (r->in_fd >= 0 && r->in_len)
        p[i_in = n++] = (struct pollfd){ .fd = r->in_fd, .events = POLLOUT };
      if (!exited)
        p[i_res = n++] = (struct pollfd){ .fd = x.res_r, .events = POLLIN };
      if (poll (p, n, timeout) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (i_sock >= 0 && p[i_sock].revents && session_pump (s, &ops, r) < 0)
        break; /* the client went away */
      if (i_out >= 0 && p[i_out].revents && forward (s, out_fd, r->out_s) < 0)
        {
          if (out_fd == x.master)
            r->in_fd = -1;
          out_fd = -1; /* closed with x */
        }
      if (i_err >= 0 && p[i_err].revents && forward (s, err_fd, r->stderr_s) < 0)
        err_fd = -1;
      if (i_res >= 0 && p[i_res].revents)
        {
          struct stream_exec_report rep;
          char *text = NULL;
          exited = true;
          if (stream_exec_read_report (&x, &rep, &text) == 0 && rep.kind == STREAM_EXEC_EXITED)
            exit_code = rep.value;
          else
            exit_code = 255;
          free (text);
          drain_end = berth_monotonic_ms () + DRAIN_MS;
        }
      if (s->closed)
        break;
    }
  if (!rq->tty && r->in_fd < 0)
    x.in_w = -1; /* feed_stdin closed it */
  r->in_fd = -1; /* x holds it and closes it */
  if (!exited || s->closed)
    {
      stream_exec_end (&x, true);
      return;
    }
  stream_exec_end (&x, false);
  finish (s, r, exit_code, NULL);
}

/* ---- attach ---- */

static int
attach_read (struct session *s, struct remote *r)
{
  ssize_t n = read (r->attach_fd, r->abuf + r->alen, sizeof (r->abuf) - r->alen);
  size_t off = 0;

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (n <= 0)
    return -1;
  r->alen += n;
  /* frames: stream (1: stdout, 2: stderr), length (32, big endian), data */
  while (r->alen - off >= 5)
    {
      uint8_t *f = r->abuf + off;
      size_t len = (size_t)f[1] << 24 | (size_t)f[2] << 16 | (size_t)f[3] << 8 | f[4];
      if (len > sizeof (r->abuf) - 5)
        return -1;
      if (r->alen - off < 5 + len)
        break;
      struct sstream *st = f[0] == 2 ? (r->rq->tty ? r->out_s : r->stderr_s) : r->out_s;
      if (st && len)
        session_send_data (s, st, f + 5, len, false);
      off += 5 + len;
    }
  memmove (r->abuf, r->abuf + off, r->alen - off);
  r->alen -= off;
  return 0;
}

static void
serve_attach (struct session *s, struct remote *r)
{
  struct stream_request *rq = r->rq;
  berth_err err = NULL;

  r->attach_fd = monitor_attach_connect (rq->attach_socket, &err);
  if (r->attach_fd < 0)
    {
      finish (s, r, 0, err->msg);
      berth_err_free (&err);
      return;
    }
  if (rq->in && rq->stdin_fifo)
    {
      r->in_fd = open (rq->stdin_fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (r->in_fd < 0)
        berth_log (BERTH_LOG_DEBUG, "attach: stdin fifo `%s`: %s", rq->stdin_fifo, strerror (errno));
    }
  push_size (r);
  for (;;)
    {
      struct pollfd p[3];
      int n = 0, i_sock = -1, i_att, i_in = -1;

      feed_stdin (r, false);
      if (!s->closed && sizeof (r->inbuf) - r->in_len >= SESSION_MAX_FRAME + SPDY_HEADER_LEN)
        p[i_sock = n++] = (struct pollfd){ .fd = s->sock, .events = POLLIN };
      p[i_att = n++] = (struct pollfd){ .fd = r->attach_fd, .events = POLLIN };
      if (r->in_fd >= 0 && r->in_len)
        p[i_in = n++] = (struct pollfd){ .fd = r->in_fd, .events = POLLOUT };
      if (poll (p, n, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (i_sock >= 0 && p[i_sock].revents && session_pump (s, &ops, r) < 0)
        break;
      if (p[i_att].revents && attach_read (s, r) < 0)
        {
          /* The monitor writes the exit file before it closes the socket:
             without one, it dropped us (monitor.h). */
          if (rq->exit_file && access (rq->exit_file, F_OK) == 0)
            finish (s, r, 0, NULL); /* the container ended: its output is all here */
          else
            finish (s, r, 0,
                    "attach: this session fell more than 1 MiB behind the container's output and was dropped "
                    "(the container's log has all of it)");
          break;
        }
      (void)i_in;
      if (s->closed)
        break;
    }
  if (r->in_fd >= 0)
    close (r->in_fd);
  close (r->attach_fd);
}

void
stream_serve_remotecommand (struct session *s, struct stream_request *rq, int version)
{
  struct remote *r = calloc (1, sizeof (*r));

  if (r == NULL)
    return;
  r->rq = rq;
  r->version = version;
  r->in_fd = r->master = r->attach_fd = -1;
  if (wait_streams (s, r) < 0)
    {
      berth_log (BERTH_LOG_DEBUG, "streaming: %s: the client did not open its streams in time",
                 rq->kind == STREAM_EXEC ? "exec" : "attach");
      free (r);
      return;
    }
  if (rq->kind == STREAM_EXEC)
    serve_exec (s, r);
  else
    serve_attach (s, r);
  free (r);
}
