/* cri_pod_spec: the infra process of a pod whose containers share a pid
 * namespace.  It holds that namespace (as pid 1, reaping orphans) and
 * nothing else: net, ipc and uts are the pinned ones, it has no
 * capabilities, and it runs with no_new_privs under the pod's seccomp
 * profile (privileged pods: unconfined). */
#include <string.h>

#include "cri/cri_internal.h"
#include "spec/spec.h"
#include "util/cleanup.h"

/* containerd gives the infra process -998: the OOM killer takes it last,
 * since its death would take the pod's pid namespace with it. */
#define INFRA_OOM_SCORE_ADJ (-998)

static int
infra_namespaces (json_t *spec, const Runtime__V1__NamespaceOption *ns, const struct cri_pod_ctx *ctx, unsigned *shared,
                  berth_err *err)
{
  json_t *arr = cri_arr (cri_obj (spec, "linux"), "namespaces");
  struct
  {
    Runtime__V1__NamespaceMode mode;
    const char *type, *path;
    int bit;
  } joins[] = {
    { ns->network, "network", ctx->netns_path, BERTH_NS_NET },
    { ns->ipc, "ipc", ctx->ipcns_path, BERTH_NS_IPC },
    { ns->network, "uts", ctx->utsns_path, BERTH_NS_UTS },
  };

  *shared = 0;
  for (size_t i = 0; i < CRI_ARRAY_SIZE (joins); i++)
    {
      json_t *e;
      if (joins[i].mode == RUNTIME__V1__NAMESPACE_MODE__NODE)
        continue;
      e = json_pack ("{s:s}", "type", joins[i].type);
      if (!cri_empty (joins[i].path))
        json_object_set_new (e, "path", json_string (joins[i].path));
      else if (joins[i].bit != BERTH_NS_UTS)
        {
          json_decref (e);
          return berth_fail (err, 0,
                             CRI_POD "linux.security_context.namespace_options: the pod has no pinned %s "
                                     "namespace",
                             joins[i].type);
        }
      json_array_append_new (arr, e);
      *shared |= 1u << joins[i].bit;
    }
  if (ns->pid != RUNTIME__V1__NAMESPACE_MODE__NODE)
    json_array_append_new (arr, json_pack ("{s:s}", "type", "pid"));
  json_array_append_new (arr, json_pack ("{s:s}", "type", "mount"));
  return 0;
}

json_t *
cri_pod_spec (const Runtime__V1__PodSandboxConfig *pod, const struct cri_pod_ctx *ctx, const char *infra_id,
              const char *infra_rootfs, const char *const *args, berth_err *err)
{
  static const Runtime__V1__LinuxSandboxSecurityContext empty_sc = RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
  static const Runtime__V1__NamespaceOption empty_ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
  const Runtime__V1__LinuxSandboxSecurityContext *sc;
  const Runtime__V1__NamespaceOption *ns;
  cleanup_free char *cgroups_path = NULL;
  json_t *spec, *process, *jargs, *seccomp;
  const char *hostname;
  unsigned shared;
  bool none = false;
  size_t n_args = 0;
  int oom = INFRA_OOM_SCORE_ADJ;

  if (pod == NULL || ctx == NULL || cri_empty (infra_id))
    return berth_fail (err, 0, "cri_pod_spec: no pod config, context or id"), NULL;
  while (args && args[n_args])
    n_args++;
  if (n_args == 0)
    return berth_fail (err, 0, "cri_pod_spec: no infra program"), NULL;
  sc = pod->linux && pod->linux->security_context ? pod->linux->security_context : &empty_sc;
  ns = sc->namespace_options ? sc->namespace_options : &empty_ns;
  if (sc->run_as_group && !sc->run_as_user)
    return berth_fail (err, 0, CRI_POD "linux.security_context.run_as_group: set without run_as_user"), NULL;
  hostname = cri_pod_hostname (pod, ctx, err);
  if (hostname == NULL)
    return NULL;

  spec = cri_base_spec (infra_rootfs);
  process = cri_obj (spec, "process");
  jargs = cri_strv_json (args, n_args);
  json_object_set_new (process, "args", jargs);
  json_object_set_new (process, "noNewPrivileges", json_true ());
  json_object_set_new (process, "capabilities", json_object ());
  if (sc->run_as_user)
    {
      if (sc->run_as_user->value < 0 || sc->run_as_user->value >= (int64_t)UINT32_MAX
          || (sc->run_as_group && (sc->run_as_group->value < 0 || sc->run_as_group->value >= (int64_t)UINT32_MAX)))
        {
          json_decref (spec);
          return berth_fail (err, 0, CRI_POD "linux.security_context.run_as_user: not a valid id"), NULL;
        }
      json_object_set_new (process, "user",
                           json_pack ("{s:I, s:I}", "uid", (json_int_t)sc->run_as_user->value, "gid",
                                      (json_int_t)(sc->run_as_group ? sc->run_as_group->value : 0)));
    }
  if (ctx->restrict_oom_score_adj && oom < ctx->current_oom_score_adj)
    oom = ctx->current_oom_score_adj;
  json_object_set_new (process, "oomScoreAdj", json_integer (oom));
  json_object_set_new (cri_obj (spec, "root"), "readonly", json_boolean (sc->readonly_rootfs));
  if (infra_namespaces (spec, ns, ctx, &shared, err) < 0 || cri_add_pod_sysctls (spec, pod, shared, err) < 0)
    goto fail;
  if ((shared & (1u << BERTH_NS_UTS)) && *hostname)
    json_object_set_new (spec, "hostname", json_string (hostname));
  if (!sc->privileged)
    {
      json_t *lx = cri_obj (spec, "linux");
      seccomp = cri_seccomp_profile_for (sc->seccomp, sc->seccomp_profile_path, CRI_POD "linux.security_context.", ctx,
                                         NULL, 0, &none, err);
      if (seccomp == NULL && !none)
        goto fail;
      if (seccomp)
        json_object_set_new (lx, "seccomp", seccomp);
      json_object_set_new (lx, "maskedPaths", json_pack ("[s, s, s]", "/proc/kcore", "/proc/keys", "/sys/firmware"));
      json_object_set_new (lx, "readonlyPaths", json_pack ("[s, s]", "/proc/sys", "/proc/sysrq-trigger"));
    }
  cgroups_path = cri_cgroups_path (pod, ctx, infra_id);
  if (cgroups_path)
    json_object_set_new (cri_obj (spec, "linux"), "cgroupsPath", json_string (cgroups_path));
  for (size_t i = 0; i < pod->n_annotations; i++)
    if (!cri_empty (pod->annotations[i]->key))
      cri_annotate (spec, pod->annotations[i]->key, CRI_S (pod->annotations[i]->value));
  cri_annotate (spec, CRI_ANN_CONTAINER_TYPE, "sandbox");
  cri_annotate (spec, CRI_ANN_SANDBOX_ID, ctx->sandbox_id ? ctx->sandbox_id : infra_id);
  cri_annotate (spec, CRI_ANN_SANDBOX_NAME, pod->metadata ? pod->metadata->name : "");
  cri_annotate (spec, CRI_ANN_SANDBOX_NAMESPACE, pod->metadata ? pod->metadata->namespace_ : "");
  cri_annotate (spec, CRI_ANN_SANDBOX_UID, pod->metadata ? pod->metadata->uid : "");
  cri_annotate (spec, CRI_ANN_SANDBOX_LOG_DIR, CRI_S (pod->log_directory));
  return spec;

fail:
  json_decref (spec);
  return NULL;
}
