/* Method path -> handler.
 *
 * The request and response types come from the service descriptors that
 * protoc-c generated from the CRI proto, so a handler table only names the
 * method; a method of a known service without a handler, or a path of an
 * unknown service, answers UNIMPLEMENTED as gRPC servers do.
 *
 * To add RuntimeService handlers (RunPodSandbox, ...): write them in their
 * own file with a table like version_status_handlers, declare the table in
 * daemon.h and add it to `services` below.
 */
#include "daemon/daemon.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri.pb-c.h"
#include "util/log.h"

struct service
{
  const ProtobufCServiceDescriptor *desc;
  const struct rpc_handler *const *tables; /* NULL-terminated */
};

static const struct rpc_handler *const runtime_tables[] = { version_status_handlers,
                                                            pod_run_handlers,
                                                            pod_service_handlers,
                                                            container_create_handlers,
                                                            container_service_handlers,
                                                            stream_service_handlers,
                                                            NULL };
static const struct rpc_handler *const image_tables[] = { image_service_handlers, image_pull_handlers, NULL };

static const struct service services[] = {
  { &runtime__v1__runtime_service__descriptor, runtime_tables },
  { &runtime__v1__image_service__descriptor, image_tables },
};

char *
xstrdup (const char *s)
{
  char *r = strdup (s ? s : "");

  if (r == NULL)
    abort ();
  return r;
}

char *
pb_str (const char *s)
{
  return s == NULL || s[0] == '\0' ? (char *)protobuf_c_empty_string : xstrdup (s);
}

/* Every map entry type of the proto is {base, key, value}. */
typedef struct
{
  ProtobufCMessage base;
  char *key;
  char *value;
} map_entry;

void
pb_fill_map (json_t *src, size_t *n, void ***entries, size_t entry_size, void (*init) (void *))
{
  const char *k;
  json_t *v;
  size_t i = 0;

  *n = json_object_size (src);
  *entries = *n ? malloc (*n * sizeof (void *)) : NULL;
  json_object_foreach (src, k, v)
  {
    map_entry *e = malloc (entry_size);
    init (e);
    e->key = pb_str (k);
    e->value = pb_str (json_string_value (v));
    (*entries)[i++] = e;
  }
}

int
rpc_fail (struct rpc_status *st, grpc_status_code code, const char *fmt, ...)
{
  va_list ap;

  free (st->message);
  st->code = code;
  va_start (ap, fmt);
  if (vasprintf (&st->message, fmt, ap) < 0)
    abort ();
  va_end (ap);
  return -1;
}

int
rpc_fail_err (struct rpc_status *st, grpc_status_code code, berth_err *err)
{
  rpc_fail (st, code, "%s", *err ? (*err)->msg : "unknown error");
  berth_err_free (err);
  return -1;
}

static rpc_handler_fn
find_handler (const struct service *svc, const char *method)
{
  for (const struct rpc_handler *const *t = svc->tables; *t; t++)
    for (const struct rpc_handler *h = *t; h->method; h++)
      if (strcmp (h->method, method) == 0)
        return h->fn;
  return NULL;
}

int
dispatch_check (berth_err *err)
{
  for (size_t i = 0; i < sizeof (services) / sizeof (services[0]); i++)
    for (const struct rpc_handler *const *t = services[i].tables; *t; t++)
      for (const struct rpc_handler *h = *t; h->method; h++)
        if (protobuf_c_service_descriptor_get_method_by_name (services[i].desc, h->method) == NULL)
          return berth_fail (err, 0, "handler for %s.%s: no such method in the CRI proto", services[i].desc->name,
                             h->method);
  return 0;
}

void
dispatch_call (struct daemon *d, const char *path, const uint8_t *req, size_t req_len, uint8_t **out, size_t *out_len,
               struct rpc_status *st)
{
  const struct service *svc = NULL;
  const ProtobufCMethodDescriptor *m = NULL;
  const char *slash;
  rpc_handler_fn fn = NULL;
  ProtobufCMessage *in, *resp = NULL;

  *out = NULL;
  *out_len = 0;
  st->code = GRPC_STATUS_OK;
  /* "/runtime.v1.RuntimeService/Version" */
  slash = path[0] == '/' ? strchr (path + 1, '/') : NULL;
  if (slash)
    for (size_t i = 0; i < sizeof (services) / sizeof (services[0]); i++)
      if (strlen (services[i].desc->name) == (size_t)(slash - path - 1)
          && strncmp (services[i].desc->name, path + 1, (size_t)(slash - path - 1)) == 0)
        svc = &services[i];
  if (svc)
    m = protobuf_c_service_descriptor_get_method_by_name (svc->desc, slash + 1);
  if (m)
    fn = find_handler (svc, slash + 1);
  if (fn == NULL)
    {
      rpc_fail (st, GRPC_STATUS_UNIMPLEMENTED, "method %s not implemented by berthd", path);
      berth_log (BERTH_LOG_DEBUG, "%s: unimplemented", path);
      return;
    }
  in = protobuf_c_message_unpack (m->input, NULL, req_len, req);
  if (in == NULL)
    {
      rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "%s: cannot decode the request as %s", path, m->input->name);
      return;
    }
  if (fn (d, in, &resp, st) < 0)
    {
      if (st->code == GRPC_STATUS_OK)
        rpc_fail (st, GRPC_STATUS_INTERNAL, "%s: handler failed without a status", path);
      berth_log (BERTH_LOG_INFO, "%s: %s", path, st->message ? st->message : "");
    }
  else if (resp == NULL || resp->descriptor != m->output)
    rpc_fail (st, GRPC_STATUS_INTERNAL, "%s: handler returned no %s", path, m->output->name);
  else
    {
      *out_len = protobuf_c_message_get_packed_size (resp);
      *out = malloc (*out_len ? *out_len : 1);
      if (*out == NULL)
        abort ();
      protobuf_c_message_pack (resp, *out);
    }
  if (resp)
    protobuf_c_message_free_unpacked (resp, NULL);
  protobuf_c_message_free_unpacked (in, NULL);
}
