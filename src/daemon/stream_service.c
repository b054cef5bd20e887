/* RuntimeService Exec, Attach and PortForward: each checks its request,
 * stores it on the streaming server under a one-time token and answers the
 * URL the client then upgrades (stream.h draws the exchange).  The checks
 * are the kubelet's (validateExecRequest): one of stdin, stdout, stderr;
 * never tty with stderr.  The container must be running (Exec, Attach),
 * the pod ready (PortForward). */
#include "daemon/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/containers.h"
#include "daemon/pods.h"

static int
answer_url (struct daemon *d, struct stream_request *rq, char **url, struct rpc_status *st)
{
  berth_err err = NULL;

  if (d->streams == NULL)
    {
      stream_request_free (rq);
      return rpc_fail (st, GRPC_STATUS_UNAVAILABLE, "the streaming server is not running");
    }
  *url = stream_server_put (d->streams, rq, &err);
  if (*url == NULL)
    return rpc_fail_err (st, GRPC_STATUS_RESOURCE_EXHAUSTED, &err);
  return 0;
}

static int
check_streams (bool in, bool out, bool err, bool tty, struct rpc_status *st)
{
  if (!in && !out && !err)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "one of stdin, stdout, or stderr must be set");
  if (tty && err)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "tty and stderr cannot both be true");
  return 0;
}

/* A reference to a running container, or -1 with st filled. */
static struct ctr *
running (struct daemon *d, const char *id, struct rpc_status *st)
{
  struct ctr_status s;
  berth_err err = NULL;
  struct ctr *c;

  if (id == NULL || id[0] == '\0')
    {
      rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "container_id: required");
      return NULL;
    }
  if ((c = ctr_get (d, id, &err)) == NULL)
    {
      rpc_fail_err (st, err->errnum == ENOENT ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_INVALID_ARGUMENT, &err);
      return NULL;
    }
  ctr_status (d, c, &s);
  free (s.reason);
  if (s.state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING)
    {
      rpc_fail (st, GRPC_STATUS_FAILED_PRECONDITION, "container %s is not running", c->id);
      ctr_put (d, c);
      return NULL;
    }
  return c;
}

/* A request for Exec or Attach on the (running) container c: the streams
 * asked for. */
static struct stream_request *
container_request (enum stream_kind kind, const struct ctr *c, bool in, bool out, bool err, bool tty)
{
  struct stream_request *rq = calloc (1, sizeof (*rq));

  if (rq == NULL)
    abort ();
  rq->kind = kind;
  rq->container_id = xstrdup (c->id);
  rq->tty = tty;
  rq->in = in;
  rq->out = out;
  rq->err = err;
  return rq;
}

static int
handle_exec (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__ExecRequest *in = (const Runtime__V1__ExecRequest *)req;
  Runtime__V1__ExecResponse *r;
  struct stream_request *rq;
  struct ctr *c;
  char *url = NULL;

  if (in->container_id == NULL || in->container_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "container_id: required");
  if (in->n_cmd == 0 || in->cmd[0][0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "cmd: required");
  if (check_streams (in->stdin, in->stdout, in->stderr, in->tty, st) < 0)
    return -1;
  if ((c = running (d, in->container_id, st)) == NULL)
    return -1;
  rq = container_request (STREAM_EXEC, c, in->stdin, in->stdout, in->stderr, in->tty);
  rq->runtime_root = xstrdup (d->ctrs->runtime_root);
  rq->cmd = calloc (in->n_cmd + 1, sizeof (char *));
  for (size_t i = 0; i < in->n_cmd; i++)
    rq->cmd[i] = xstrdup (in->cmd[i]);
  ctr_put (d, c);
  if (answer_url (d, rq, &url, st) < 0)
    return -1;
  r = malloc (sizeof (*r));
  runtime__v1__exec_response__init (r);
  r->url = url;
  *resp = &r->base;
  return 0;
}

static int
handle_attach (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__AttachRequest *in = (const Runtime__V1__AttachRequest *)req;
  Runtime__V1__AttachResponse *r;
  struct stream_request *rq;
  struct ctr *c;
  char *url = NULL, *fifo = NULL;

  if (check_streams (in->stdin, in->stdout, in->stderr, in->tty, st) < 0)
    return -1;
  if ((c = running (d, in->container_id, st)) == NULL)
    return -1;
  rq = container_request (STREAM_ATTACH, c, in->stdin, in->stdout, in->stderr, in->tty);
  rq->exit_file = ctr_exit_path (c);
  if (asprintf (&rq->attach_socket, "%s/attach", c->dir) < 0 || asprintf (&fifo, "%s/stdin", c->dir) < 0)
    abort ();
  /* No fifo: the container has no stdin (or a stdin_once session ended);
     what the client sends is then dropped, as containerd does. */
  if (in->stdin && access (fifo, F_OK) == 0)
    rq->stdin_fifo = fifo;
  else
    free (fifo);
  ctr_put (d, c);
  if (answer_url (d, rq, &url, st) < 0)
    return -1;
  r = malloc (sizeof (*r));
  runtime__v1__attach_response__init (r);
  r->url = url;
  *resp = &r->base;
  return 0;
}

static int
handle_port_forward (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__PortForwardRequest *in = (const Runtime__V1__PortForwardRequest *)req;
  Runtime__V1__PortForwardResponse *r;
  struct stream_request *rq;
  struct pod_info pod;
  berth_err err = NULL;
  char *url = NULL;

  if (in->pod_sandbox_id == NULL || in->pod_sandbox_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "pod_sandbox_id: required");
  for (size_t i = 0; i < in->n_port; i++)
    if (in->port[i] < 1 || in->port[i] > 65535)
      return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "port[%zu]: %d is not a port", i, in->port[i]);
  if (pods_lookup (d, in->pod_sandbox_id, &pod, &err) < 0)
    return rpc_fail_err (st, err->errnum == ENOENT ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_INVALID_ARGUMENT, &err);
  if (!pod.ready)
    {
      rpc_fail (st, GRPC_STATUS_FAILED_PRECONDITION, "pod sandbox %s is not ready", pod.id);
      pod_info_free (&pod);
      return -1;
    }
  rq = calloc (1, sizeof (*rq));
  rq->kind = STREAM_PORTFORWARD;
  rq->netns_path = pod.netns_path ? xstrdup (pod.netns_path) : NULL;
  pod_info_free (&pod);
  if (answer_url (d, rq, &url, st) < 0)
    return -1;
  r = malloc (sizeof (*r));
  runtime__v1__port_forward_response__init (r);
  r->url = url;
  *resp = &r->base;
  return 0;
}

const struct rpc_handler stream_service_handlers[] = {
  { "Exec", handle_exec },
  { "Attach", handle_attach },
  { "PortForward", handle_port_forward },
  { NULL, NULL },
};
