/* StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox.
 *
 * Ids: a full id or a unique prefix (as containerd's truncindex).
 * Unknown ids: Stop and Status answer NOT_FOUND (containerd does; the
 * kubelet treats it as "already gone"), Remove answers success (the CRI
 * asks it to be idempotent once the pod is gone).
 */
#include "daemon/pod_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

static int
fail_lookup (struct rpc_status *st, berth_err *err)
{
  return rpc_fail_err (st, (*err)->errnum == ENOENT ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_INVALID_ARGUMENT, err);
}

/* Under p->mu.  Containers first (their processes hold the namespaces),
 * then what pod_teardown releases; the record says NOTREADY after. */
static int
stop_locked (struct daemon *d, struct pod *p, bool remove, berth_err *err)
{
  pods_stop_hook_fn hook = pods_stop_hook ();
  berth_err e = NULL;
  int ret;

  if (hook && hook (d, p->id, remove, err) < 0)
    return berth_wrap (err, "pod sandbox %s: stop its containers", p->id);
  ret = pod_teardown (d, p, false, err);
  /* Whatever went, the record says so: a retry redoes only the rest. */
  __atomic_store_n (&p->state, POD_NOTREADY, __ATOMIC_RELEASE);
  if (ret == 0)
    return pod_save (d, p, err);
  if (pod_save (d, p, &e) < 0)
    {
      berth_log (BERTH_LOG_WARNING, "%s", e->msg);
      berth_err_free (&e);
    }
  return ret;
}

static int
handle_stop (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__StopPodSandboxRequest *in = (const Runtime__V1__StopPodSandboxRequest *)req;
  Runtime__V1__StopPodSandboxResponse *r;
  berth_err err = NULL;
  struct pod *p;
  int ret = 0;

  if (in->pod_sandbox_id == NULL || in->pod_sandbox_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "pod_sandbox_id: required");
  p = pod_get (d, in->pod_sandbox_id, &err);
  if (p == NULL)
    return fail_lookup (st, &err);
  pthread_mutex_lock (&p->mu);
  if (!p->removed)
    ret = stop_locked (d, p, false, &err);
  pthread_mutex_unlock (&p->mu);
  pod_put (d, p);
  if (ret < 0)
    return rpc_fail_err (st, GRPC_STATUS_UNKNOWN, &err);
  r = malloc (sizeof (*r));
  runtime__v1__stop_pod_sandbox_response__init (r);
  *resp = &r->base;
  return 0;
}

static int
handle_remove (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__RemovePodSandboxRequest *in = (const Runtime__V1__RemovePodSandboxRequest *)req;
  Runtime__V1__RemovePodSandboxResponse *r;
  berth_err err = NULL;
  struct pod *p;
  int ret = 0;

  if (in->pod_sandbox_id == NULL || in->pod_sandbox_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "pod_sandbox_id: required");
  p = pod_get (d, in->pod_sandbox_id, &err);
  if (p == NULL && err->errnum != ENOENT)
    return fail_lookup (st, &err);
  berth_err_free (&err);
  if (p)
    {
      pthread_mutex_lock (&p->mu);
      /* The CRI: running containers are stopped and removed, whatever the
         pod's state. */
      if (!p->removed && stop_locked (d, p, true, &err) == 0 && pod_teardown (d, p, true, &err) == 0
          && record_remove (&d->pods->records, p->id, &err) == 0)
        {
          __atomic_store_n (&p->removed, true, __ATOMIC_RELEASE);
          record_release_name (&d->pods->records, p->name, p->id);
          berth_log (BERTH_LOG_INFO, "RemovePodSandbox: pod sandbox %s (%s) removed", p->id, p->name);
        }
      ret = err ? -1 : 0;
      pthread_mutex_unlock (&p->mu);
      if (ret == 0)
        pod_table_drop (d, p);
      pod_put (d, p);
    }
  if (ret < 0)
    return rpc_fail_err (st, GRPC_STATUS_UNKNOWN, &err);
  r = malloc (sizeof (*r));
  runtime__v1__remove_pod_sandbox_response__init (r);
  *resp = &r->base;
  return 0;
}

/* ---- status and list ------------------------------------------------------ */

static Runtime__V1__PodSandboxMetadata *
metadata (const struct pod *p)
{
  Runtime__V1__PodSandboxMetadata *m = malloc (sizeof (*m));

  runtime__v1__pod_sandbox_metadata__init (m);
  m->name = pb_str (p->meta_name);
  m->uid = pb_str (p->meta_uid);
  m->namespace_ = pb_str (p->meta_namespace);
  m->attempt = p->meta_attempt;
  return m;
}

static Runtime__V1__PodSandboxState
pb_state (const struct pod *p)
{
  return __atomic_load_n (&p->state, __ATOMIC_ACQUIRE) == POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                                                                    : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
}

static Runtime__V1__PodSandboxStatus *
sandbox_status (const struct pod *p)
{
  Runtime__V1__PodSandboxStatus *s = malloc (sizeof (*s));
  Runtime__V1__NamespaceOption *o;
  size_t i;
  json_t *v;

  runtime__v1__pod_sandbox_status__init (s);
  s->id = pb_str (p->id);
  s->metadata = metadata (p);
  s->state = pb_state (p);
  s->created_at = p->created_at;
  s->network = malloc (sizeof (*s->network));
  runtime__v1__pod_sandbox_network_status__init (s->network);
  s->network->ip = pb_str (p->ip);
  s->network->n_additional_ips = json_array_size (p->extra_ips);
  s->network->additional_ips = malloc ((s->network->n_additional_ips + 1) * sizeof (void *));
  json_array_foreach (p->extra_ips, i, v)
  {
    Runtime__V1__PodIP *ip = malloc (sizeof (*ip));
    runtime__v1__pod_ip__init (ip);
    ip->ip = pb_str (json_string_value (v));
    s->network->additional_ips[i] = ip;
  }
  s->linux = malloc (sizeof (*s->linux));
  runtime__v1__linux_pod_sandbox_status__init (s->linux);
  s->linux->namespaces = malloc (sizeof (*s->linux->namespaces));
  runtime__v1__namespace__init (s->linux->namespaces);
  o = malloc (sizeof (*o));
  runtime__v1__namespace_option__init (o);
  o->network = p->net_mode;
  o->pid = p->pid_mode;
  o->ipc = p->ipc_mode;
  s->linux->namespaces->options = o;
  FILL_MAP (p->labels, s->n_labels, s->labels, Runtime__V1__PodSandboxStatus__LabelsEntry,
            runtime__v1__pod_sandbox_status__labels_entry__init);
  FILL_MAP (p->annotations, s->n_annotations, s->annotations, Runtime__V1__PodSandboxStatus__AnnotationsEntry,
            runtime__v1__pod_sandbox_status__annotations_entry__init);
  s->runtime_handler = pb_str (p->runtime_handler);
  return s;
}

/* verbose: info["info"], the record plus what is true now (containerd
 * puts its sandbox info there; crictl inspectp prints it). */
static char *
verbose_info (const struct pod *p)
{
  json_t *o = pod_to_json (p);
  char *s;

  json_object_set_new (o, "pause_alive", json_boolean (p->has_pause && net_pause_alive (&p->pause)));
  json_object_set_new (o, "netns_pinned", json_boolean (net_ns_path_is_pinned (p->netns)));
  s = json_dumps (o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref (o);
  return s;
}

static int64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
handle_status (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__PodSandboxStatusRequest *in = (const Runtime__V1__PodSandboxStatusRequest *)req;
  Runtime__V1__PodSandboxStatusResponse *r;
  berth_err err = NULL;
  struct pod *p;

  if (in->pod_sandbox_id == NULL || in->pod_sandbox_id[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "pod_sandbox_id: required");
  p = pod_get (d, in->pod_sandbox_id, &err);
  if (p == NULL)
    return fail_lookup (st, &err);
  r = malloc (sizeof (*r));
  runtime__v1__pod_sandbox_status_response__init (r);
  pthread_mutex_lock (&p->mu);
  if (!p->removed)
    {
      r->status = sandbox_status (p);
      if (in->verbose)
        {
          Runtime__V1__PodSandboxStatusResponse__InfoEntry *e = malloc (sizeof (*e));
          runtime__v1__pod_sandbox_status_response__info_entry__init (e);
          e->key = xstrdup ("info");
          e->value = verbose_info (p);
          r->n_info = 1;
          r->info = malloc (sizeof (*r->info));
          r->info[0] = e;
        }
    }
  pthread_mutex_unlock (&p->mu);
  pod_put (d, p);
  if (r->status == NULL)
    {
      protobuf_c_message_free_unpacked (&r->base, NULL);
      return rpc_fail (st, GRPC_STATUS_NOT_FOUND, "pod sandbox \"%s\" not found", in->pod_sandbox_id);
    }
  r->timestamp = now_ns ();
  *resp = &r->base;
  return 0;
}

static bool
matches (const struct pod *p, const Runtime__V1__PodSandboxFilter *f)
{
  if (f == NULL)
    return true;
  if (f->id && f->id[0] && strncmp (p->id, f->id, strlen (f->id)) != 0)
    return false;
  if (f->state && pb_state (p) != f->state->state)
    return false;
  for (size_t i = 0; i < f->n_label_selector; i++)
    {
      const char *v = json_string_value (json_object_get (p->labels, f->label_selector[i]->key));
      if (v == NULL || strcmp (v, f->label_selector[i]->value ? f->label_selector[i]->value : "") != 0)
        return false;
    }
  return true;
}

static Runtime__V1__PodSandbox *
sandbox_item (const struct pod *p)
{
  Runtime__V1__PodSandbox *s = malloc (sizeof (*s));

  runtime__v1__pod_sandbox__init (s);
  s->id = pb_str (p->id);
  s->metadata = metadata (p);
  s->state = pb_state (p);
  s->created_at = p->created_at;
  FILL_MAP (p->labels, s->n_labels, s->labels, Runtime__V1__PodSandbox__LabelsEntry,
            runtime__v1__pod_sandbox__labels_entry__init);
  FILL_MAP (p->annotations, s->n_annotations, s->annotations, Runtime__V1__PodSandbox__AnnotationsEntry,
            runtime__v1__pod_sandbox__annotations_entry__init);
  s->runtime_handler = pb_str (p->runtime_handler);
  return s;
}

static int
handle_list (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__ListPodSandboxRequest *in = (const Runtime__V1__ListPodSandboxRequest *)req;
  Runtime__V1__ListPodSandboxResponse *r = malloc (sizeof (*r));
  size_t n;
  struct pod **all = pod_table_all (d, &n);

  (void)st;
  runtime__v1__list_pod_sandbox_response__init (r);
  r->items = malloc ((n + 1) * sizeof (*r->items));
  /* Without the pods' locks: a StopPodSandbox may hold one for seconds
     (CNI DEL) and the kubelet lists often.  What an item shows is fixed at
     creation, but for the state and `removed`, read atomically. */
  for (size_t i = 0; i < n; i++)
    {
      if (!__atomic_load_n (&all[i]->removed, __ATOMIC_ACQUIRE) && matches (all[i], in->filter))
        r->items[r->n_items++] = sandbox_item (all[i]);
      pod_put (d, all[i]);
    }
  free (all);
  *resp = &r->base;
  return 0;
}

const struct rpc_handler pod_service_handlers[] = {
  { "StopPodSandbox", handle_stop },
  { "RemovePodSandbox", handle_remove },
  { "PodSandboxStatus", handle_status },
  { "ListPodSandbox", handle_list },
  { NULL, NULL },
};
