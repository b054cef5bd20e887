/* linux.namespaces from NamespaceOption: the pod's namespaces are pinned
 * on disk by the daemon, and a container joins them by path.
 *   POD        join the pod's (pid: the infra process's)
 *   CONTAINER  a new one of its own
 *   NODE       the host's: no entry at all
 *   TARGET     (pid only) the one of container target_id
 * uts follows the network: host network means the host's name too.  mount
 * is always new; cgroup is new on cgroup v2 unless privileged (the
 * container sees its own cgroup as /sys/fs/cgroup). */
#include "cri/cri_internal.h"

#define NSO "linux.security_context.namespace_options."

static void
add_ns (json_t *arr, const char *type, const char *path)
{
  json_t *ns = json_pack ("{s:s}", "type", type);

  if (path)
    json_object_set_new (ns, "path", json_string (path));
  json_array_append_new (arr, ns);
}

static int
pod_or_new (json_t *arr, Runtime__V1__NamespaceMode mode, const char *type, const char *field, const char *path,
            berth_err *err)
{
  switch (mode)
    {
    case RUNTIME__V1__NAMESPACE_MODE__NODE:
      return 0;
    case RUNTIME__V1__NAMESPACE_MODE__CONTAINER:
      add_ns (arr, type, NULL);
      return 0;
    case RUNTIME__V1__NAMESPACE_MODE__POD:
      if (cri_empty (path))
        return berth_fail (err, 0, CRI_CFG NSO "%s: POD, but the pod has no %s namespace to join", field, type);
      add_ns (arr, type, path);
      return 0;
    case RUNTIME__V1__NAMESPACE_MODE__TARGET:
      return berth_fail (err, 0, CRI_CFG NSO "%s: TARGET is only valid for pid", field);
    default:
      return berth_fail (err, 0, CRI_CFG NSO "%s: unknown mode %d", field, (int)mode);
    }
}

int
cri_step_namespaces (struct cri_build *b, berth_err *err)
{
  const Runtime__V1__NamespaceOption *ns = b->ns;
  const struct cri_pod_ctx *p = b->pctx;
  json_t *arr = json_array ();

  json_object_set_new (cri_obj (b->spec, "linux"), "namespaces", arr);
  if (ns->userns_options != NULL && ns->userns_options->mode != RUNTIME__V1__NAMESPACE_MODE__NODE)
    return berth_fail (err, 0, CRI_CFG NSO "userns_options.mode: user namespaces are not supported yet (only NODE)");
  if (ns->pid == RUNTIME__V1__NAMESPACE_MODE__TARGET)
    {
      if (cri_empty (ns->target_id))
        return berth_fail (err, 0, CRI_CFG NSO "target_id: required with pid TARGET");
      if (cri_empty (b->cctx->target_pidns_path))
        return berth_fail (err, 0, CRI_CFG NSO "target_id: container \"%s\" has no pid namespace to join",
                           ns->target_id);
      add_ns (arr, "pid", b->cctx->target_pidns_path);
    }
  else if (pod_or_new (arr, ns->pid, "pid", "pid", p->pidns_path, err) < 0)
    return -1;
  if (pod_or_new (arr, ns->network, "network", "network", p->netns_path, err) < 0
      || pod_or_new (arr, ns->ipc, "ipc", "ipc", p->ipcns_path, err) < 0)
    return -1;
  if (ns->network == RUNTIME__V1__NAMESPACE_MODE__POD)
    {
      /* Pods without a pinned uts namespace get a private one each: the
         name is set from the spec's hostname either way. */
      add_ns (arr, "uts", cri_empty (p->utsns_path) ? NULL : p->utsns_path);
    }
  else if (ns->network == RUNTIME__V1__NAMESPACE_MODE__CONTAINER)
    add_ns (arr, "uts", NULL);
  add_ns (arr, "mount", NULL);
  if (p->cgroup_v2 && !b->privileged)
    add_ns (arr, "cgroup", NULL);
  return 0;
}
