/* The CRI streaming server: Exec, Attach and PortForward (stream_*.c).
 *
 *   kubelet / crictl            berthd worker (stream_service.c)      stream server thread(s)
 *   ----------------            --------------------------------      -----------------------
 *   Exec{container, cmd, ...} ▶ checks it, stores it under a random
 *                               one-time token (1 minute)
 *                             ◀ url = http://ADDR/exec/TOKEN
 *   POST /exec/TOKEN, Upgrade: SPDY/3.1, X-Stream-Protocol-Version ──▶ stream_server.c: head parsed
 *                                                                      (stream_http.c), token taken
 *   ◀──────────────────────────────────────────────────────────────── 101 Switching Protocols
 *   SYN_STREAM streamType=error|stdin|stdout|stderr|resize ─────────▶ SYN_REPLY each (spdy.c)
 *   DATA stdin / resize ────────────────────────────────────────────▶ process stdin / TIOCSWINSZ
 *   ◀──────────────────────────────────────────────────────────────── DATA stdout / stderr
 *   ◀──────────────────────────────────────────────────────────────── DATA error: v4 status JSON, FIN
 *
 * Exec and Attach speak k8s.io's remotecommand protocols (v4, v3, v2 and
 * v1 .channel.k8s.io; stream_remote.c), PortForward portforward.k8s.io
 * (stream_portforward.c).  One thread per connection, each a poll loop.
 */
#ifndef BERTH_DAEMON_STREAM_H
#define BERTH_DAEMON_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/daemon.h"
#include "daemon/spdy.h"

#define STREAM_TOKEN_TTL_S 60   /* the kubelet's cache keeps a request one minute */
#define STREAM_MAX_PENDING 1000 /* requests not yet used (the kubelet's cache size) */
#define STREAM_MAX_CONNECTIONS 128

enum stream_kind
{
  STREAM_EXEC,
  STREAM_ATTACH,
  STREAM_PORTFORWARD,
};

/* What an RPC stored for the connection that comes with its token. */
struct stream_request
{
  enum stream_kind kind;
  char *container_id; /* exec, attach: the full id */
  char **cmd;         /* exec: NULL-terminated */
  bool tty, in, out, err;
  char *runtime_root;  /* exec: libberth's --root */
  char *stdin_fifo;    /* attach: the container's stdin fifo, or NULL (no stdin) */
  char *attach_socket; /* attach: the monitor's attach socket */
  char *exit_file;     /* attach: the monitor's exit file (there before the socket closes) */
  char *netns_path;    /* portforward: the pod's network namespace; NULL: the host's */
};
void stream_request_free (struct stream_request *rq);

/* ---- stream_server.c ---- */

struct stream_server;
/* Listens on addr ("HOST:PORT", IPv4 or [IPv6]; port 0: any) and serves
 * in a thread of its own. */
int stream_server_start (struct daemon *d, const char *addr, struct stream_server **out, berth_err *err);
void stream_server_stop (struct stream_server *s);
/* Takes rq; returns the URL (malloc'd) for the client. */
char *stream_server_put (struct stream_server *s, struct stream_request *rq, berth_err *err);
/* "127.0.0.1:PORT" as bound. */
const char *stream_server_address (const struct stream_server *s);

/* ---- a SPDY session over one connection (stream_server.c) ---- */

enum stream_type
{
  ST_NONE,
  ST_ERROR,
  ST_STDIN,
  ST_STDOUT,
  ST_STDERR,
  ST_RESIZE,
  ST_DATA, /* portforward */
};

struct sstream
{
  uint32_t id;
  enum stream_type type;
  char port[8];     /* portforward */
  char request[24]; /* portforward requestID */
  bool remote_fin;  /* the client sent FIN (or RST) */
  bool local_fin;   /* we sent FIN (or RST) */
  bool held;        /* a session's owner points at it: the slot is not reused */
};

#define SESSION_MAX_STREAMS 64
#define SESSION_MAX_FRAME (256 * 1024)

struct session
{
  int sock;
  struct spdy_zlib z;
  uint8_t *rbuf; /* SESSION_MAX_FRAME + SPDY_HEADER_LEN */
  size_t rlen;
  struct sstream streams[SESSION_MAX_STREAMS];
  size_t n_streams;
  uint32_t last_id;
  bool closed; /* EOF, GOAWAY, or an error on the socket */
  const char *protocol;
};

/* Callbacks of a session's reader. */
struct session_ops
{
  /* A new stream (already answered with SYN_REPLY).  Return -1 to reset it. */
  int (*on_stream) (void *user, struct session *s, struct sstream *st, const struct spdy_headers *h);
  /* Data (len may be 0 with fin). */
  void (*on_data) (void *user, struct session *s, struct sstream *st, const uint8_t *data, size_t len, bool fin);
  void (*on_reset) (void *user, struct session *s, struct sstream *st);
};

/* Reads what the socket has (it must be readable, or this blocks) and
 * dispatches every whole frame.  0, or -1 when the session is over. */
int session_pump (struct session *s, const struct session_ops *ops, void *user);
int session_send_data (struct session *s, struct sstream *st, const void *data, size_t len, bool fin);
int session_reset (struct session *s, struct sstream *st, uint32_t status);
struct sstream *session_stream (struct session *s, uint32_t id);

/* ---- stream_remote.c, stream_portforward.c: after the 101 ---- */
void stream_serve_remotecommand (struct session *s, struct stream_request *rq, int version);
void stream_serve_portforward (struct session *s, struct stream_request *rq);

/* ---- stream_exec.c ---- */

struct stream_exec_opts
{
  const char *state_root; /* libberth's --root */
  const char *id;
  char *const *argv;
  bool tty, in, out, err;
  unsigned rows, cols; /* tty: the size it starts with (0: the pty's default) */
};

enum
{
  STREAM_EXEC_FAILED = 0,
  STREAM_EXEC_STARTED = 1,
  STREAM_EXEC_EXITED = 2,
};

struct stream_exec_report
{
  int32_t kind;  /* STREAM_EXEC_* */
  int32_t value; /* STARTED: P's pid; EXITED: its exit code (128 + signal) */
  uint32_t msg_len;
};

struct stream_exec
{
  char id[80];
  char dir[32];
  pid_t helper, pid;
  int in_w, out_r, err_r; /* -1 when not asked for */
  int master;             /* tty: the pty master (in and out), else -1 */
  int res_r;              /* the helper's reports */
};

int stream_exec_start (const struct stream_exec_opts *o, struct stream_exec *x, berth_err *err);
int stream_exec_read_report (struct stream_exec *x, struct stream_exec_report *r, char **text);
void stream_exec_end (struct stream_exec *x, bool kill_it);

#endif
