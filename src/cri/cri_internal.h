/* Shared by the files of src/cri; not part of the API.
 *
 * The container spec is built as containerd's CRI plugin builds it: a base
 * document, then an ordered list of small steps (args/env, user, mounts,
 * security, resources, namespaces, devices, annotations), each of which
 * edits the JSON and may fail with an error naming the CRI field. */
#ifndef BERTH_CRI_CRI_INTERNAL_H
#define BERTH_CRI_CRI_INTERNAL_H

#include <stdio.h>

#include "cri/cri.h"

/* The kubelets berth serves still send the deprecated fields
 * (seccomp_profile_path, apparmor_profile): they are read on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define CRI_ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

#define CRI_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Prefix of container-config errors, so callers see which request failed. */
#define CRI_CFG "container config: "
#define CRI_POD "pod sandbox config: "

/* Everything a step may read; built once by cri_container_spec. */
struct cri_build
{
  const Runtime__V1__ContainerConfig *c;
  const Runtime__V1__PodSandboxConfig *pod;
  const struct berth_image_config *image;
  const struct cri_pod_ctx *pctx;
  const struct cri_container_ctx *cctx;
  const Runtime__V1__LinuxContainerSecurityContext *sc; /* never NULL (an empty one when absent) */
  const Runtime__V1__NamespaceOption *ns;               /* never NULL */
  bool privileged;
  uint64_t caps; /* bounding set once the security step has run */
  json_t *spec;
};

/* Allocation failures abort, as in the rest of libberth. */
char *cri_strdup (const char *s);
char *cri_printf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
#define CRI_S(s) ((s) ? (s) : "")

static inline bool
cri_empty (const char *s)
{
  return s == NULL || *s == '\0';
}

/* The object at key in obj, created when missing. Borrowed. */
json_t *cri_obj (json_t *obj, const char *key);
json_t *cri_arr (json_t *obj, const char *key);
json_t *cri_strv_json (const char *const *v, size_t n);
bool cri_strv_contains (json_t *arr, const char *s);
void cri_annotate (json_t *spec, const char *key, const char *value);

/* The base document: process defaults, the default mounts, masked paths. */
json_t *cri_base_spec (const char *rootfs);

/* Steps of cri_container_spec, one file each. */
int cri_step_args_env (struct cri_build *b, berth_err *err);   /* args_env.c */
int cri_step_user (struct cri_build *b, berth_err *err);       /* user.c */
int cri_step_mounts (struct cri_build *b, berth_err *err);     /* mounts.c */
int cri_step_security (struct cri_build *b, berth_err *err);   /* security.c */
int cri_step_seccomp (struct cri_build *b, berth_err *err);    /* security.c */
int cri_step_resources (struct cri_build *b, berth_err *err);  /* resources.c */
int cri_step_namespaces (struct cri_build *b, berth_err *err); /* namespaces.c */
int cri_step_devices (struct cri_build *b, berth_err *err);    /* devices.c */

/* pod.c: cgroupsPath under the pod's parent; NULL when there is no parent. */
char *cri_cgroups_path (const Runtime__V1__PodSandboxConfig *pod, const struct cri_pod_ctx *ctx, const char *id);
/* pod.c: copies the pod's sysctls whose namespace is in `shared` (bit
 * BERTH_NS_* set: the container shares that namespace with the pod). */
int cri_add_pod_sysctls (json_t *spec, const Runtime__V1__PodSandboxConfig *pod, unsigned shared, berth_err *err);

/* security.c: the capability mask "ALL" stands for. */
uint64_t cri_all_caps (const struct cri_pod_ctx *ctx);
/* security.c: "NET_ADMIN", "cap_net_admin" ... -> number; -1 when unknown. */
int cri_cap_from_name (const char *name);
json_t *cri_caps_json (uint64_t mask);

/* seccomp_default.c */
json_t *cri_seccomp_profile_for (const Runtime__V1__SecurityProfile *sp, const char *deprecated_path, const char *field,
                                 const struct cri_pod_ctx *pctx, json_t *localhost, uint64_t caps, bool *none,
                                 berth_err *err);

#endif
