/* The transport: gRPC C core on a unix socket.
 *
 * One poller thread drives the completion queue; handlers run on a pool of
 * worker threads that grows on demand, so a slow call (PullImage) never
 * holds up another (Version).  One unary call, as tagged on the queue:
 *
 *   poller:  request_call ─▶ REQUESTED ─▶ (post the next request_call)
 *            RECV_MESSAGE ─▶ RECEIVED  ─▶ queued for a worker
 *   worker:  dispatch_call (unpack, handler, pack)
 *            SEND_INITIAL_METADATA + SEND_MESSAGE + SEND_STATUS_FROM_SERVER
 *            + RECV_CLOSE_ON_SERVER ─▶ SENT
 *   poller:  SENT ─▶ call freed
 *
 * Every struct call is counted in `live`, so stop can wait for the last.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

/* Requests posted ahead, so that several calls can arrive at once. */
#define PENDING_REQUESTS 8
/* Worker threads: enough for many slow calls at once; idle ones above
   WORKERS_KEEP exit after WORKER_IDLE_S. */
#define WORKERS_MAX 64
#define WORKERS_KEEP 4
#define WORKER_IDLE_S 30

enum call_stage
{
  STAGE_REQUESTED,
  STAGE_RECEIVED,
  STAGE_SENT,
};

struct call
{
  struct rpc_server *srv;
  enum call_stage stage;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  grpc_byte_buffer *recv, *send;
  grpc_slice status_details;
  bool have_status_details;
  int cancelled;
  struct call *next; /* in the work queue */
};

struct rpc_server
{
  struct daemon *d;
  grpc_server *server;
  grpc_completion_queue *cq;
  pthread_t poller;
  bool poller_started;
  int shutdown_tag; /* its address tags the shutdown notification */

  pthread_mutex_t mu;
  pthread_cond_t work_cond; /* work queued, or stopping */
  pthread_cond_t done_cond; /* shutdown notified, a call freed, a worker gone */
  struct call *head, *tail;
  int queued, threads, idle, live;
  bool stopping, shutdown_done;
};

/* --- calls ----------------------------------------------------------------- */

static struct call *
call_new (struct rpc_server *srv)
{
  struct call *c = calloc (1, sizeof (*c));

  if (c == NULL)
    abort ();
  c->srv = srv;
  grpc_call_details_init (&c->details);
  grpc_metadata_array_init (&c->md);
  pthread_mutex_lock (&srv->mu);
  srv->live++;
  pthread_mutex_unlock (&srv->mu);
  return c;
}

static void
call_free (struct call *c)
{
  struct rpc_server *srv = c->srv;

  if (c->call)
    grpc_call_unref (c->call);
  grpc_call_details_destroy (&c->details);
  grpc_metadata_array_destroy (&c->md);
  if (c->recv)
    grpc_byte_buffer_destroy (c->recv);
  if (c->send)
    grpc_byte_buffer_destroy (c->send);
  if (c->have_status_details)
    grpc_slice_unref (c->status_details);
  free (c);
  pthread_mutex_lock (&srv->mu);
  srv->live--;
  pthread_cond_broadcast (&srv->done_cond);
  pthread_mutex_unlock (&srv->mu);
}

static void
request_next (struct rpc_server *srv)
{
  struct call *c = call_new (srv);
  grpc_call_error e;

  c->stage = STAGE_REQUESTED;
  e = grpc_server_request_call (srv->server, &c->call, &c->details, &c->md, srv->cq, srv->cq, c);
  if (e != GRPC_CALL_OK)
    {
      berth_log (BERTH_LOG_ERROR, "grpc_server_request_call: error %d", (int)e);
      call_free (c);
    }
}

/* The last batch of a call: status, and the response when st is OK. */
static void
call_finish (struct call *c, const struct rpc_status *st, const uint8_t *resp, size_t resp_len)
{
  grpc_op ops[4];
  size_t n = 0;
  grpc_call_error e;

  memset (ops, 0, sizeof (ops));
  ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (st->code == GRPC_STATUS_OK)
    {
      grpc_slice s = grpc_slice_from_copied_buffer ((const char *)resp, resp_len);
      c->send = grpc_raw_byte_buffer_create (&s, 1);
      grpc_slice_unref (s);
      ops[n].op = GRPC_OP_SEND_MESSAGE;
      ops[n++].data.send_message.send_message = c->send;
    }
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = st->code;
  if (st->message)
    {
      c->status_details = grpc_slice_from_copied_string (st->message);
      c->have_status_details = true;
      ops[n].data.send_status_from_server.status_details = &c->status_details;
    }
  n++;
  ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
  c->stage = STAGE_SENT;
  e = grpc_call_start_batch (c->call, ops, n, c, NULL);
  if (e != GRPC_CALL_OK)
    {
      berth_log (BERTH_LOG_ERROR, "grpc_call_start_batch (reply): error %d", (int)e);
      call_free (c);
    }
}

/* Runs on a worker: the handler may take as long as it needs. */
static void
call_serve (struct call *c)
{
  struct rpc_status st = { GRPC_STATUS_OK, NULL };
  cleanup_free char *path = NULL;
  uint8_t *out = NULL;
  size_t out_len = 0;
  grpc_byte_buffer_reader reader;
  grpc_slice req;

  path = strndup ((const char *)GRPC_SLICE_START_PTR (c->details.method), GRPC_SLICE_LENGTH (c->details.method));
  if (!grpc_byte_buffer_reader_init (&reader, c->recv))
    {
      rpc_fail (&st, GRPC_STATUS_INTERNAL, "%s: cannot read the request message", path);
      call_finish (c, &st, NULL, 0);
      free (st.message);
      return;
    }
  req = grpc_byte_buffer_reader_readall (&reader);
  grpc_byte_buffer_reader_destroy (&reader);
  dispatch_call (c->srv->d, path, GRPC_SLICE_START_PTR (req), GRPC_SLICE_LENGTH (req), &out, &out_len, &st);
  grpc_slice_unref (req);
  call_finish (c, &st, out, out_len);
  free (out);
  free (st.message);
}

/* --- worker pool ------------------------------------------------------------ */

static void *
worker_main (void *arg)
{
  struct rpc_server *srv = arg;

  pthread_mutex_lock (&srv->mu);
  for (;;)
    {
      while (srv->head == NULL && !srv->stopping)
        {
          struct timespec deadline;
          int rc;
          clock_gettime (CLOCK_REALTIME, &deadline);
          deadline.tv_sec += WORKER_IDLE_S;
          srv->idle++;
          rc = pthread_cond_timedwait (&srv->work_cond, &srv->mu, &deadline);
          srv->idle--;
          if (rc == ETIMEDOUT && srv->head == NULL && srv->threads > WORKERS_KEEP)
            goto out;
        }
      if (srv->head == NULL) /* stopping and nothing left */
        break;
      struct call *c = srv->head;
      srv->queued--;
      srv->head = c->next;
      if (srv->head == NULL)
        srv->tail = NULL;
      pthread_mutex_unlock (&srv->mu);
      call_serve (c);
      pthread_mutex_lock (&srv->mu);
    }
out:
  srv->threads--;
  pthread_cond_broadcast (&srv->done_cond);
  pthread_mutex_unlock (&srv->mu);
  return NULL;
}

static void
queue_call (struct rpc_server *srv, struct call *c)
{
  pthread_mutex_lock (&srv->mu);
  c->next = NULL;
  if (srv->tail)
    srv->tail->next = c;
  else
    srv->head = c;
  srv->tail = c;
  srv->queued++;
  /* Each idle worker will take one queued call (a woken worker stays
     counted idle until it takes its call): start one more when the
     queue outgrows them. */
  if (srv->queued > srv->idle && srv->threads < WORKERS_MAX)
    {
      pthread_t t;
      pthread_attr_t attr;
      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      if (pthread_create (&t, &attr, worker_main, srv) == 0)
        srv->threads++;
      else
        berth_log (BERTH_LOG_WARNING, "cannot start a worker thread: %s", strerror (errno));
      pthread_attr_destroy (&attr);
    }
  pthread_cond_signal (&srv->work_cond);
  pthread_mutex_unlock (&srv->mu);
}

/* --- the poller --------------------------------------------------------------- */

static void
on_event (struct rpc_server *srv, struct call *c, bool ok)
{
  grpc_op op;

  switch (c->stage)
    {
    case STAGE_REQUESTED:
      if (!ok) /* the server is shutting down */
        {
          call_free (c);
          return;
        }
      request_next (srv);
      memset (&op, 0, sizeof (op));
      op.op = GRPC_OP_RECV_MESSAGE;
      op.data.recv_message.recv_message = &c->recv;
      c->stage = STAGE_RECEIVED;
      if (grpc_call_start_batch (c->call, &op, 1, c, NULL) != GRPC_CALL_OK)
        call_free (c);
      return;
    case STAGE_RECEIVED:
      if (!ok || c->recv == NULL)
        {
          /* Cancelled, or a client that half-closed without a message. */
          struct rpc_status st = { GRPC_STATUS_INVALID_ARGUMENT, (char *)"no request message" };
          call_finish (c, &st, NULL, 0);
          return;
        }
      queue_call (srv, c);
      return;
    case STAGE_SENT:
      call_free (c);
      return;
    }
}

static void *
poller_main (void *arg)
{
  struct rpc_server *srv = arg;

  for (;;)
    {
      grpc_event ev = grpc_completion_queue_next (srv->cq, gpr_inf_future (GPR_CLOCK_REALTIME), NULL);
      if (ev.type == GRPC_QUEUE_SHUTDOWN)
        break;
      if (ev.type != GRPC_OP_COMPLETE)
        continue;
      if (ev.tag == &srv->shutdown_tag)
        {
          pthread_mutex_lock (&srv->mu);
          srv->shutdown_done = true;
          pthread_cond_broadcast (&srv->done_cond);
          pthread_mutex_unlock (&srv->mu);
          continue;
        }
      on_event (srv, ev.tag, ev.success != 0);
    }
  return NULL;
}

/* --- the socket ---------------------------------------------------------------- */

static int
mkdir_parents (const char *path, berth_err *err)
{
  cleanup_free char *dup = strdup (path);

  for (char *p = dup + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (dup, 0711) < 0 && errno != EEXIST)
          return berth_fail (err, errno, "create socket directory `%s`", dup);
        *p = '/';
      }
  return 0;
}

/* A socket file left by a berthd that died is removed; one a live server
 * answers on is not (gRPC would unlink it and steal the address). */
static int
maybe_remove_stale_socket (const char *path, berth_err *err)
{
  struct stat st;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  cleanup_close int fd = -1;

  if (lstat (path, &st) < 0)
    return errno == ENOENT ? 0 : berth_fail (err, errno, "stat `%s`", path);
  if (!S_ISSOCK (st.st_mode))
    return berth_fail (err, 0, "address `%s` exists and is not a socket", path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return berth_fail (err, errno, "socket");
  snprintf (sa.sun_path, sizeof (sa.sun_path), "%s", path);
  if (connect (fd, (struct sockaddr *)&sa, sizeof (sa)) == 0)
    return berth_fail (err, EADDRINUSE, "address `%s`: another server is listening there", path);
  if (errno != ECONNREFUSED)
    return berth_fail (err, errno, "probe socket `%s`", path);
  if (unlink (path) < 0 && errno != ENOENT)
    return berth_fail (err, errno, "remove stale socket `%s`", path);
  return 0;
}

static int
listen_unix (struct rpc_server *srv, const char *path, berth_err *err)
{
  cleanup_free char *uri = NULL;
  grpc_server_credentials *creds;
  mode_t old;
  int port;

  if (path[0] != '/')
    return berth_fail (err, 0, "--address `%s`: expected an absolute path", path);
  if (strlen (path) >= sizeof (((struct sockaddr_un *)0)->sun_path))
    return berth_fail (err, 0, "--address `%s`: longer than %zu bytes", path,
                       sizeof (((struct sockaddr_un *)0)->sun_path) - 1);
  if (mkdir_parents (path, err) < 0 || maybe_remove_stale_socket (path, err) < 0)
    return -1;
  if (asprintf (&uri, "unix:%s", path) < 0)
    abort ();
  creds = grpc_insecure_server_credentials_create ();
  /* The socket is created with 0660 (CRI clients are root or the socket's
     group); the umask covers the moment between bind and chmod. */
  old = umask (0117);
  port = grpc_server_add_http2_port (srv->server, uri, creds);
  umask (old);
  grpc_server_credentials_release (creds);
  if (port == 0)
    return berth_fail (err, 0, "cannot listen on `%s` (gRPC refused the address)", path);
  if (chmod (path, 0660) < 0)
    return berth_fail (err, errno, "chmod `%s`", path);
  return 0;
}

/* --- start and stop -------------------------------------------------------------- */

int
rpc_server_start (struct daemon *d, struct rpc_server **out, berth_err *err)
{
  struct rpc_server *srv = calloc (1, sizeof (*srv));

  if (srv == NULL)
    abort ();
  srv->d = d;
  pthread_mutex_init (&srv->mu, NULL);
  pthread_cond_init (&srv->work_cond, NULL);
  pthread_cond_init (&srv->done_cond, NULL);
  srv->cq = grpc_completion_queue_create_for_next (NULL);
  srv->server = grpc_server_create (NULL, NULL);
  grpc_server_register_completion_queue (srv->server, srv->cq, NULL);
  if (listen_unix (srv, d->address, err) < 0)
    {
      grpc_server_destroy (srv->server);
      grpc_completion_queue_shutdown (srv->cq);
      while (grpc_completion_queue_next (srv->cq, gpr_inf_future (GPR_CLOCK_REALTIME), NULL).type
             != GRPC_QUEUE_SHUTDOWN)
        ;
      grpc_completion_queue_destroy (srv->cq);
      free (srv);
      return -1;
    }
  grpc_server_start (srv->server);
  for (int i = 0; i < PENDING_REQUESTS; i++)
    request_next (srv);
  if (pthread_create (&srv->poller, NULL, poller_main, srv) != 0)
    abort ();
  srv->poller_started = true;
  *out = srv;
  return 0;
}

/* Waits on done_cond until pred holds or the deadline passes. */
static bool
wait_until (struct rpc_server *srv, bool (*pred) (struct rpc_server *), const struct timespec *deadline)
{
  bool ok;

  pthread_mutex_lock (&srv->mu);
  while (!(ok = pred (srv)))
    if (pthread_cond_timedwait (&srv->done_cond, &srv->mu, deadline) == ETIMEDOUT)
      {
        ok = pred (srv);
        break;
      }
  pthread_mutex_unlock (&srv->mu);
  return ok;
}

static bool
is_shut_down (struct rpc_server *srv)
{
  return srv->shutdown_done;
}

static bool
is_idle (struct rpc_server *srv)
{
  return srv->live == 0 && srv->threads == 0;
}

int
rpc_server_stop (struct rpc_server *srv, int grace_s)
{
  struct timespec deadline;

  /* New clients fail at once; connected ones finish their calls. */
  unlink (srv->d->address);
  grpc_server_shutdown_and_notify (srv->server, srv->cq, &srv->shutdown_tag);
  clock_gettime (CLOCK_REALTIME, &deadline);
  deadline.tv_sec += grace_s;
  if (!wait_until (srv, is_shut_down, &deadline))
    {
      berth_log (BERTH_LOG_WARNING, "calls still running after %d s: cancelling them", grace_s);
      grpc_server_cancel_all_calls (srv->server);
      deadline.tv_sec += 5;
    }
  pthread_mutex_lock (&srv->mu);
  srv->stopping = true;
  pthread_cond_broadcast (&srv->work_cond);
  pthread_mutex_unlock (&srv->mu);
  if (!wait_until (srv, is_shut_down, &deadline) || !wait_until (srv, is_idle, &deadline))
    {
      /* A handler is stuck (a registry that stalls): tearing gRPC down
         under it would crash; the caller exits the process instead.  The
         store is safe: a pull leaves only temporaries GC removes. */
      berth_log (BERTH_LOG_WARNING, "%d calls did not finish; leaving them to process exit", srv->live);
      return -1;
    }
  grpc_server_destroy (srv->server);
  grpc_completion_queue_shutdown (srv->cq);
  pthread_join (srv->poller, NULL);
  grpc_completion_queue_destroy (srv->cq);
  pthread_mutex_destroy (&srv->mu);
  pthread_cond_destroy (&srv->work_cond);
  pthread_cond_destroy (&srv->done_cond);
  free (srv);
  return 0;
}
