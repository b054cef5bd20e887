/* RunPodSandbox.
 *
 *   validate          every field, before anything is made (INVALID_ARGUMENT
 *                     naming the field)
 *   reserve name      <name>_<namespace>_<uid>_<attempt> (records.h)
 *   record CREATING   so that a berthd killed from here on finds the pod at
 *                     start and undoes it (the kubelet never got its id)
 *   pod dir, pinned namespaces, files, shm, sysctls, pause, CNI ADD, hosts
 *   record READY      then the table, then the answer
 *
 * Any failure undoes every earlier step in reverse (pod_teardown), removes
 * the record and releases the name.
 *
 * Namespace modes of the pod: network NODE uses the host's network and uts
 * namespaces (no pin, no CNI), anything else gets pinned ones; ipc NODE uses
 * the host's ipc namespace and /dev/shm; pid POD (a shared pid namespace)
 * starts a pause process, CONTAINER and NODE do not; TARGET is for
 * containers only.  The pod cgroup: berthd makes none for the pod itself;
 * containers get <cgroup_parent>/<container id> (cri_cgroups_path) and the
 * pause, when there is one, <cgroup_parent>/<pod id>.
 */
#include "daemon/pod_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cri/cri.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/log.h"

static bool
empty (const char *s)
{
  return s == NULL || s[0] == '\0';
}

static const char *
mode_name (Runtime__V1__NamespaceMode m)
{
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (&runtime__v1__namespace_mode__descriptor, m);
  return v ? v->name : "?";
}

static int
validate_modes (const Runtime__V1__NamespaceOption *o, struct rpc_status *st)
{
  const char *prefix = "config.linux.security_context.namespace_options";

  if (o == NULL)
    return 0;
  if (o->network != RUNTIME__V1__NAMESPACE_MODE__POD && o->network != RUNTIME__V1__NAMESPACE_MODE__NODE)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "%s.network: %s is not a pod network mode (POD or NODE)", prefix,
                     mode_name (o->network));
  if (o->ipc != RUNTIME__V1__NAMESPACE_MODE__POD && o->ipc != RUNTIME__V1__NAMESPACE_MODE__NODE)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "%s.ipc: %s is not a pod ipc mode (POD or NODE)", prefix,
                     mode_name (o->ipc));
  if (o->pid == RUNTIME__V1__NAMESPACE_MODE__TARGET || mode_name (o->pid)[0] == '?')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "%s.pid: %s is only for containers", prefix, mode_name (o->pid));
  if (o->userns_options && o->userns_options->mode != RUNTIME__V1__NAMESPACE_MODE__NODE)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "%s.userns_options.mode: %s: user namespaces are not supported",
                     prefix, mode_name (o->userns_options->mode));
  return 0;
}

static int
validate_sysctls (const Runtime__V1__PodSandboxConfig *c, Runtime__V1__NamespaceMode net,
                  Runtime__V1__NamespaceMode ipc, struct rpc_status *st)
{
  for (size_t i = 0; c->linux && i < c->linux->n_sysctls; i++)
    {
      const char *key = c->linux->sysctls[i]->key, *value = c->linux->sysctls[i]->value;
      int ns = empty (key) ? -1 : berth_sysctl_namespace (key);

      if (empty (key) || strstr (key, "..") || key[0] == '/' || key[0] == '.')
        return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.linux.sysctls[\"%s\"]: not a sysctl name",
                         key ? key : "");
      if (ns < 0)
        return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT,
                         "config.linux.sysctls[\"%s\"]: not a namespaced sysctl (it would change the host)", key);
      if ((ns == BERTH_NS_NET || ns == BERTH_NS_UTS) && net == RUNTIME__V1__NAMESPACE_MODE__NODE)
        return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT,
                         "config.linux.sysctls[\"%s\"]: the pod uses the host's network namespace", key);
      if (ns == BERTH_NS_IPC && ipc == RUNTIME__V1__NAMESPACE_MODE__NODE)
        return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT,
                         "config.linux.sysctls[\"%s\"]: the pod uses the host's ipc namespace", key);
      if (value && strchr (value, '\n'))
        return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.linux.sysctls[\"%s\"]: the value holds a newline",
                         key);
    }
  return 0;
}

static int
validate_ports (const Runtime__V1__PodSandboxConfig *c, struct rpc_status *st)
{
  for (size_t i = 0; i < c->n_port_mappings; i++)
    {
      const Runtime__V1__PortMapping *m = c->port_mappings[i];
      if (m->container_port <= 0 || m->container_port > 65535)
        return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.port_mappings[%zu].container_port: %d is not a port",
                         i, m->container_port);
      if (m->host_port < 0 || m->host_port > 65535)
        return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.port_mappings[%zu].host_port: %d is not a port", i,
                         m->host_port);
      if (m->protocol > RUNTIME__V1__PROTOCOL__SCTP)
        return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.port_mappings[%zu].protocol: unknown value %d", i,
                         (int)m->protocol);
    }
  return 0;
}

/* Everything that can be refused is refused here, before anything is made. */
static int
validate (struct daemon *d, const Runtime__V1__RunPodSandboxRequest *in, struct rpc_status *st)
{
  const Runtime__V1__PodSandboxConfig *c = in->config;
  const Runtime__V1__LinuxSandboxSecurityContext *sc;
  Runtime__V1__NamespaceMode net = 0, ipc = 0;
  cleanup_free char *resolv = NULL;
  berth_err err = NULL;

  if (c == NULL)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config: required");
  if (c->metadata == NULL)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.metadata: required");
  if (empty (c->metadata->name))
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.metadata.name: required");
  if (!empty (in->runtime_handler) && strcmp (in->runtime_handler, d->config.default_runtime) != 0)
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT,
                     "runtime_handler: \"%s\" is not a runtime handler of berthd (\"\" or \"%s\")", in->runtime_handler,
                     d->config.default_runtime);
  sc = c->linux ? c->linux->security_context : NULL;
  if (sc && validate_modes (sc->namespace_options, st) < 0)
    return -1;
  if (sc && sc->namespace_options)
    {
      net = sc->namespace_options->network;
      ipc = sc->namespace_options->ipc;
    }
  if (c->linux && !empty (c->linux->cgroup_parent) && strstr (c->linux->cgroup_parent, ".."))
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.linux.cgroup_parent: \"%s\" must not hold \"..\"",
                     c->linux->cgroup_parent);
  if (validate_sysctls (c, net, ipc, st) < 0 || validate_ports (c, st) < 0)
    return -1;
  if (cri_pod_hostname (c, NULL, &err) == NULL || cri_resolv_conf_text (c->dns_config, &resolv, &err) < 0)
    {
      /* cri/ names the field as "pod sandbox config: hostname": say config. */
      const char *msg = err->msg, *p = "pod sandbox config: ";
      rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "config.%s",
                strncmp (msg, p, strlen (p)) == 0 ? msg + strlen (p) : msg);
      berth_err_free (&err);
      return -1;
    }
  return 0;
}

static int64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *
xasprintf_path (const char *a, const char *b)
{
  char *p;

  if (asprintf (&p, "%s/%s", a, b) < 0)
    abort ();
  return p;
}

static void
copy_map (json_t *dst, void **entries, size_t n)
{
  /* Labels and annotations entries share one layout: base, key, value. */
  for (size_t i = 0; i < n; i++)
    {
      Runtime__V1__PodSandboxConfig__LabelsEntry *e = entries[i];
      json_object_set_new (dst, e->key ? e->key : "", json_string (e->value ? e->value : ""));
    }
}

static const char *const protocol_names[] = { "tcp", "udp", "sctp" };

static struct pod *
pod_from_request (struct daemon *d, const Runtime__V1__RunPodSandboxRequest *in, const char *id, char *name,
                  const char *host_hostname)
{
  const Runtime__V1__PodSandboxConfig *c = in->config;
  const Runtime__V1__LinuxSandboxSecurityContext *sc = c->linux ? c->linux->security_context : NULL;
  const Runtime__V1__NamespaceOption *o = sc ? sc->namespace_options : NULL;
  struct pod *p = pod_new ();

  snprintf (p->id, sizeof (p->id), "%s", id);
  p->name = name;
  p->state = POD_CREATING;
  p->created_at = now_ns ();
  p->meta_name = xstrdup (c->metadata->name);
  p->meta_namespace = xstrdup (c->metadata->namespace_);
  p->meta_uid = xstrdup (c->metadata->uid);
  p->meta_attempt = c->metadata->attempt;
  copy_map (p->labels, (void **)c->labels, c->n_labels);
  copy_map (p->annotations, (void **)c->annotations, c->n_annotations);
  p->runtime_handler = xstrdup (in->runtime_handler);
  /* No hostname: the node's, as containerd does. */
  p->hostname = xstrdup (empty (c->hostname) ? host_hostname : c->hostname);
  p->log_directory = xstrdup (c->log_directory);
  p->cgroup_parent = xstrdup (c->linux ? c->linux->cgroup_parent : NULL);
  p->privileged = sc && sc->privileged;
  p->net_mode = o ? o->network : RUNTIME__V1__NAMESPACE_MODE__POD;
  p->pid_mode = o ? o->pid : RUNTIME__V1__NAMESPACE_MODE__POD;
  p->ipc_mode = o ? o->ipc : RUNTIME__V1__NAMESPACE_MODE__POD;
  p->pod_dir = xasprintf_path (d->pods->pods_state, id);
  p->ns_dir = xasprintf_path (p->pod_dir, "ns");
  p->ip = xstrdup ("");
  if (p->net_mode != RUNTIME__V1__NAMESPACE_MODE__NODE)
    for (size_t i = 0; i < c->n_port_mappings; i++)
      {
        const Runtime__V1__PortMapping *m = c->port_mappings[i];
        json_array_append_new (p->ports,
                               json_pack ("{s:i, s:i, s:s, s:s}", "host_port", (int)m->host_port, "container_port",
                                          (int)m->container_port, "protocol", protocol_names[m->protocol], "host_ip",
                                          m->host_ip ? m->host_ip : ""));
      }
  return p;
}

static int
pin (struct pod *p, berth_err *err)
{
  unsigned types = 0;
  struct pinned_ns ns = { 0 };
  bool own_net = p->net_mode != RUNTIME__V1__NAMESPACE_MODE__NODE;

  /* uts follows network: a host-network pod has the node's name. */
  if (own_net)
    types |= CLONE_NEWNET | CLONE_NEWUTS;
  if (p->ipc_mode != RUNTIME__V1__NAMESPACE_MODE__NODE)
    types |= CLONE_NEWIPC;
  if (types == 0)
    return 0;
  if (net_pin_namespaces (p->ns_dir, types, own_net ? p->hostname : NULL, &ns, err) < 0)
    return berth_wrap (err, "pod sandbox %s", p->id);
  p->netns = ns.net_path;
  p->ipcns = ns.ipc_path;
  p->utsns = ns.uts_path;
  return 0;
}

/* The steps after the CREATING record; on failure the caller tears down. */
static int
build (struct daemon *d, struct pod *p, const Runtime__V1__PodSandboxConfig *c, berth_err *err)
{
  if (mkdir (p->pod_dir, 0711) < 0)
    return berth_fail (err, errno, "pod sandbox %s: mkdir `%s`", p->id, p->pod_dir);
  if (pin (p, err) < 0 || pod_write_files (p, c, err) < 0)
    return -1;
  if (p->ipc_mode != RUNTIME__V1__NAMESPACE_MODE__NODE && pod_mount_shm (p, err) < 0)
    return -1;
  if (pod_apply_sysctls (p, c, err) < 0)
    return -1;
  if (p->pid_mode == RUNTIME__V1__NAMESPACE_MODE__POD)
    {
      if (pod_start_pause (d, p, err) < 0)
        return -1;
      /* A crash from here on must find the pause to stop it. */
      if (pod_save (d, p, err) < 0)
        return -1;
    }
  if (p->net_mode != RUNTIME__V1__NAMESPACE_MODE__NODE)
    {
      if (pod_cni_add (d, p, err) < 0)
        return -1;
      if (pod_write_hosts (p, err) < 0)
        return -1;
    }
  p->state = POD_READY;
  return pod_save (d, p, err);
}

static int
handle_run (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__RunPodSandboxRequest *in = (const Runtime__V1__RunPodSandboxRequest *)req;
  Runtime__V1__RunPodSandboxResponse *r;
  char id[RECORD_ID_LEN + 1], host_hostname[256] = "";
  berth_err err = NULL, undo = NULL;
  char *name;
  struct pod *p;

  if (validate (d, in, st) < 0)
    return -1;
  name = cri_sandbox_name (in->config->metadata, &err);
  if (name == NULL)
    return rpc_fail_err (st, GRPC_STATUS_INVALID_ARGUMENT, &err);
  if (record_new_id (id, &err) < 0)
    {
      free (name);
      return rpc_fail_err (st, GRPC_STATUS_INTERNAL, &err);
    }
  if (record_reserve_name (&d->pods->records, name, id, &err) < 0)
    {
      free (name);
      return rpc_fail_err (st, GRPC_STATUS_ALREADY_EXISTS, &err);
    }
  gethostname (host_hostname, sizeof (host_hostname) - 1);
  p = pod_from_request (d, in, id, name, host_hostname);
  if (pod_save (d, p, &err) < 0 || build (d, p, in->config, &err) < 0)
    {
      if (pod_teardown (d, p, true, &undo) < 0)
        {
          /* Keep the record (CREATING): the next start retries the undo. */
          berth_log (BERTH_LOG_WARNING, "RunPodSandbox %s: undo: %s", p->id, undo->msg);
          berth_err_free (&undo);
        }
      else if (record_remove (&d->pods->records, p->id, &undo) < 0)
        {
          berth_log (BERTH_LOG_WARNING, "RunPodSandbox %s: %s", p->id, undo->msg);
          berth_err_free (&undo);
        }
      record_release_name (&d->pods->records, p->name, p->id);
      pod_free (p);
      return rpc_fail_err (st, GRPC_STATUS_UNKNOWN, &err);
    }
  pod_table_add (d, p);
  berth_log (BERTH_LOG_INFO, "RunPodSandbox %s: pod sandbox %s ready (ip %s)", name, id, p->ip);
  r = malloc (sizeof (*r));
  runtime__v1__run_pod_sandbox_response__init (r);
  r->pod_sandbox_id = xstrdup (id);
  *resp = &r->base;
  return 0;
}

const struct rpc_handler pod_run_handlers[] = {
  { "RunPodSandbox", handle_run },
  { NULL, NULL },
};
