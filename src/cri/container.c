/* cri_container_spec: the base document, then each step in containerd's
 * order (security before mounts and seccomp, which read what it decided). */
#include <string.h>

#include "cri/cri_internal.h"
#include "spec/spec.h"
#include "util/cleanup.h"

static void
annotations (struct cri_build *b)
{
  const Runtime__V1__PodSandboxMetadata *pm = b->pod->metadata;
  const char *image = b->cctx->image_name;

  /* The kubelet's annotations pass through; berth's own come last so a
     request cannot forge them. */
  for (size_t i = 0; i < b->c->n_annotations; i++)
    if (!cri_empty (b->c->annotations[i]->key))
      cri_annotate (b->spec, b->c->annotations[i]->key, CRI_S (b->c->annotations[i]->value));
  if (image == NULL && b->c->image)
    image = b->c->image->image;
  cri_annotate (b->spec, CRI_ANN_CONTAINER_TYPE, "container");
  cri_annotate (b->spec, CRI_ANN_SANDBOX_ID, b->pctx->sandbox_id);
  cri_annotate (b->spec, CRI_ANN_SANDBOX_NAME, pm ? pm->name : "");
  cri_annotate (b->spec, CRI_ANN_SANDBOX_NAMESPACE, pm ? pm->namespace_ : "");
  cri_annotate (b->spec, CRI_ANN_SANDBOX_UID, pm ? pm->uid : "");
  cri_annotate (b->spec, CRI_ANN_CONTAINER_NAME, b->c->metadata->name);
  cri_annotate (b->spec, CRI_ANN_IMAGE_NAME, image);
}

static unsigned
shared_namespaces (const Runtime__V1__NamespaceOption *ns)
{
  unsigned shared = 0;

  if (ns->network == RUNTIME__V1__NAMESPACE_MODE__POD)
    shared |= 1u << BERTH_NS_NET | 1u << BERTH_NS_UTS;
  if (ns->ipc == RUNTIME__V1__NAMESPACE_MODE__POD)
    shared |= 1u << BERTH_NS_IPC;
  return shared;
}

/* The pod's hostname and sysctls, where the container has a uts (and net,
 * ipc) namespace that is not the host's. */
static int
pod_settings (struct cri_build *b, berth_err *err)
{
  bool own_uts = b->ns->network != RUNTIME__V1__NAMESPACE_MODE__NODE;
  bool joins_pinned_uts = b->ns->network == RUNTIME__V1__NAMESPACE_MODE__POD && !cri_empty (b->pctx->utsns_path);

  /* A private uts namespace needs the name set; a pinned one has it
     already unless the daemon leaves that to the containers. */
  if (own_uts && (!joins_pinned_uts || b->pctx->pod_settings_in_containers))
    {
      const char *h = cri_pod_hostname (b->pod, b->pctx, err);
      if (h == NULL)
        return -1;
      if (*h)
        json_object_set_new (b->spec, "hostname", json_string (h));
    }
  if (b->pctx->pod_settings_in_containers)
    return cri_add_pod_sysctls (b->spec, b->pod, shared_namespaces (b->ns), err);
  return 0;
}

/* The container's namespace options, where a container asking for the
 * pod's (POD, the default) follows a pod on the host's (NODE): containerd
 * joins the sandbox's network, ipc and uts namespaces whatever the
 * container asks, so a container in a host-network pod is on the host's
 * network even when its config leaves namespace_options unset (critest's
 * "portforward in host network").  A shallow copy: its pointers are the
 * request's. */
static Runtime__V1__NamespaceOption
follow_pod (const Runtime__V1__NamespaceOption *c, const Runtime__V1__LinuxSandboxSecurityContext *psc)
{
  const Runtime__V1__NamespaceOption *p = psc ? psc->namespace_options : NULL;
  Runtime__V1__NamespaceOption ns = *c;

  if (p == NULL)
    return ns;
  if (ns.network == RUNTIME__V1__NAMESPACE_MODE__POD && p->network == RUNTIME__V1__NAMESPACE_MODE__NODE)
    ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
  if (ns.ipc == RUNTIME__V1__NAMESPACE_MODE__POD && p->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE)
    ns.ipc = RUNTIME__V1__NAMESPACE_MODE__NODE;
  /* A pod with pid NODE or CONTAINER has no pid namespace of its own (no
     pause): the container gets the host's, or one of its own. */
  if (ns.pid == RUNTIME__V1__NAMESPACE_MODE__POD
      && (p->pid == RUNTIME__V1__NAMESPACE_MODE__NODE || p->pid == RUNTIME__V1__NAMESPACE_MODE__CONTAINER))
    ns.pid = p->pid;
  return ns;
}

static int
check_args (const Runtime__V1__ContainerConfig *c, const Runtime__V1__PodSandboxConfig *pod,
            const struct cri_pod_ctx *pctx, const struct cri_container_ctx *cctx, berth_err *err)
{
  if (c == NULL)
    return berth_fail (err, 0, "container config: missing");
  if (pod == NULL)
    return berth_fail (err, 0, "sandbox config: missing");
  if (pctx == NULL || cctx == NULL || cri_empty (cctx->id))
    return berth_fail (err, 0, "cri_container_spec: no pod or container context");
  if (c->metadata == NULL || cri_empty (c->metadata->name))
    return berth_fail (err, 0, CRI_CFG "metadata.name: must not be empty");
  return 0;
}

json_t *
cri_container_spec (const Runtime__V1__ContainerConfig *c, const Runtime__V1__PodSandboxConfig *pod,
                    const struct berth_image_config *image, const struct cri_pod_ctx *pctx,
                    const struct cri_container_ctx *cctx, berth_err *err)
{
  static const Runtime__V1__LinuxContainerSecurityContext empty_sc
      = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
  static const Runtime__V1__NamespaceOption empty_ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
  struct cri_build b = { 0 };
  Runtime__V1__NamespaceOption ns;
  cleanup_free char *cgroups_path = NULL;
  const Runtime__V1__LinuxSandboxSecurityContext *psc;

  if (check_args (c, pod, pctx, cctx, err) < 0)
    return NULL;
  b.c = c;
  b.pod = pod;
  b.image = image;
  b.pctx = pctx;
  b.cctx = cctx;
  b.sc = c->linux && c->linux->security_context ? c->linux->security_context : &empty_sc;
  psc = pod->linux ? pod->linux->security_context : NULL;
  ns = follow_pod (b.sc->namespace_options ? b.sc->namespace_options : &empty_ns, psc);
  b.ns = &ns;
  b.privileged = b.sc->privileged;
  if (b.privileged && !(psc && psc->privileged))
    return berth_fail (err, 0, "no privileged container allowed in sandbox"), NULL;
  b.spec = cri_base_spec (cctx->rootfs);
  if (cri_step_args_env (&b, err) < 0 || cri_step_user (&b, err) < 0 || cri_step_security (&b, err) < 0
      || cri_step_mounts (&b, err) < 0 || cri_step_seccomp (&b, err) < 0 || cri_step_resources (&b, err) < 0
      || cri_step_namespaces (&b, err) < 0 || cri_step_devices (&b, err) < 0 || pod_settings (&b, err) < 0)
    goto fail;
  cgroups_path = cri_cgroups_path (pod, pctx, cctx->id);
  if (cgroups_path)
    json_object_set_new (cri_obj (b.spec, "linux"), "cgroupsPath", json_string (cgroups_path));
  annotations (&b);
  return b.spec;

fail:
  json_decref (b.spec);
  return NULL;
}
