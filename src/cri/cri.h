/* CRI -> OCI: the pod and container configs of a kubelet request, plus the
 * image config, turned into a runtime-spec document (config.json as a
 * jansson object) that src/spec parses and src/runtime runs.
 *
 * Every function here is pure: no system call, no file read, no clock.
 * What needs the host (namespace paths, the pod's files, the image's
 * /etc/passwd, the host's devices, a localhost seccomp profile) is read by
 * the daemon and handed in through the context structs below, so the rules
 * can be unit-tested without root.
 *
 * Errors name the CRI field, e.g.
 *     container config: linux.security_context.run_as_group: set without run_as_user or run_as_username
 * The rules, field by field, are in docs/cri.md.
 */
#ifndef BERTH_CRI_CRI_H
#define BERTH_CRI_CRI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "proto/cri.pb-c.h"
#include "util/error.h"

/* Annotations berth sets on every spec it builds, named as containerd's so
 * tools that read them (cadvisor, NRI plugins, shims) work unchanged. */
#define CRI_ANN_CONTAINER_TYPE "io.kubernetes.cri.container-type"
#define CRI_ANN_SANDBOX_ID "io.kubernetes.cri.sandbox-id"
#define CRI_ANN_SANDBOX_NAME "io.kubernetes.cri.sandbox-name"
#define CRI_ANN_SANDBOX_NAMESPACE "io.kubernetes.cri.sandbox-namespace"
#define CRI_ANN_SANDBOX_UID "io.kubernetes.cri.sandbox-uid"
#define CRI_ANN_SANDBOX_LOG_DIR "io.kubernetes.cri.sandbox-log-directory"
#define CRI_ANN_CONTAINER_NAME "io.kubernetes.cri.container-name"
#define CRI_ANN_IMAGE_NAME "io.kubernetes.cri.image-name"

/* What the daemon knows about a pod sandbox once it has made it. */
struct cri_pod_ctx
{
  const char *sandbox_id;
  /* Holds the files `hostname`, `hosts` and `resolv.conf` (cri_*_text below)
   * that containers get bind-mounted on /etc/...; NULL: no such mounts. */
  const char *pod_dir;
  /* The pod's /dev/shm (a tmpfs the daemon mounted), shared by its
   * containers; NULL: each container gets a private tmpfs. */
  const char *shm_path;
  /* Pod namespaces pinned on disk by the daemon (bind mounts of
   * /proc/PID/ns/X); NULL where the pod has none of that kind. */
  const char *netns_path;
  const char *ipcns_path;
  const char *utsns_path;
  const char *pidns_path; /* only when the pod's pid mode is POD */
  /* The pod's cgroup parent; NULL: linux.cgroup_parent of the pod config. */
  const char *cgroup_parent;
  bool systemd_cgroup; /* cgroupsPath as "slice:berth:id" instead of a path */
  bool cgroup_v2;      /* unprivileged containers get a cgroup namespace */
  /* containerd's restrict_oom_score_adj: never ask below berthd's own
   * oom_score_adj (root without CAP_SYS_RESOURCE cannot lower it). */
  bool restrict_oom_score_adj;
  int current_oom_score_adj;
  /* runtime/default seccomp profile; NULL: berth's own (cri_seccomp_default). */
  json_t *seccomp_default;
  /* Host LSMs.  Without them a profile that is not the default is an error. */
  bool apparmor_enabled;
  const char *apparmor_default_profile; /* loaded by the daemon; NULL: "berth-default" */
  bool selinux_enabled;
  /* Highest capability number of the host (/proc/sys/kernel/cap_last_cap);
   * 0: libcap's CAP_LAST_CAP.  "ALL" and privileged mean 0..cap_last_cap. */
  int cap_last_cap;
  /* The host's name, for HOSTNAME when the pod has none (host network). */
  const char *host_hostname;
  /* Copy the pod's sysctls (and hostname) into every container spec that
   * shares the namespace they belong to: with no infra process, the first
   * container to start sets them in the pinned namespaces.  Writing them
   * again is idempotent. */
  bool pod_settings_in_containers;
};

/* A device node of the host, as the daemon's stat() saw it. */
struct cri_host_device
{
  const char *path; /* on the host */
  char type;        /* 'c' or 'b' */
  int64_t major, minor;
  uint32_t mode; /* permission bits */
  uint32_t uid, gid;
};

/* The daemon's view of the host's devices: fills *out (owned by the
 * callee until the next call or the end of cri_container_spec) with every
 * device node at host_path, which may be a node or a directory (walked
 * recursively).  Returns -1 with *err set when host_path is missing. */
typedef int (*cri_list_devices_fn) (void *user, const char *host_path, const struct cri_host_device **out,
                                    size_t *n_out, berth_err *err);

struct cri_container_ctx
{
  const char *id;
  const char *rootfs;        /* root.path (the snapshot's mount point) */
  const char *container_dir; /* image volumes go in <dir>/volumes/<n> */
  const char *image_name;    /* for io.kubernetes.cri.image-name; NULL: config image.image */
  /* The image's /etc/passwd and /etc/group as text (the daemon reads them
   * inside the rootfs); NULL: the image has none.  Needed for user names,
   * for a uid's primary group and for /etc/group memberships. */
  const char *passwd;
  const char *group;
  /* The parsed file of a "localhost/<path>" seccomp profile
   * (cri_seccomp_localhost_path says which file); borrowed. */
  json_t *seccomp_localhost;
  /* pid namespace of the target container of NamespaceMode TARGET. */
  const char *target_pidns_path;
  /* Needed for config devices and for privileged containers (every host
   * device under /dev); NULL: such a request is an error. */
  cri_list_devices_fn list_devices;
  void *list_devices_user;
};

/* --- names -------------------------------------------------------------- */

/* Reservation keys, as containerd builds them; malloc'ed.
 *   sandbox:   <pod name>_<pod namespace>_<pod uid>_<attempt>
 *   container: <container name>_<pod name>_<pod namespace>_<pod uid>_<attempt> */
char *cri_sandbox_name (const Runtime__V1__PodSandboxMetadata *m, berth_err *err);
char *cri_container_name (const Runtime__V1__ContainerMetadata *c, const Runtime__V1__PodSandboxMetadata *p,
                          berth_err *err);

/* --- pod files ---------------------------------------------------------- */

/* The pod's hostname: config hostname, else ctx->host_hostname (host network);
 * NULL with *err set when it is not a valid host name. Borrowed. */
const char *cri_pod_hostname (const Runtime__V1__PodSandboxConfig *pod, const struct cri_pod_ctx *ctx, berth_err *err);
/* "<hostname>\n" for <pod_dir>/hostname. */
char *cri_hostname_text (const Runtime__V1__PodSandboxConfig *pod, const struct cri_pod_ctx *ctx, berth_err *err);
/* /etc/hosts of the pod: localhost lines plus "<ip> <hostname>" when ip. */
char *cri_hosts_text (const char *hostname, const char *pod_ip);
/* resolv.conf from DNSConfig.  Returns 0 and *out = NULL when the config
 * asks for nothing (the daemon then copies the host's), 0 and the text, or
 * -1 for a value that would break the file (whitespace, newline). */
int cri_resolv_conf_text (const Runtime__V1__DNSConfig *dns, char **out, berth_err *err);

/* --- specs -------------------------------------------------------------- */

/* The infra (pause) process's spec, for a pod that needs one (shared pid
 * namespace): it joins the pinned net/ipc/uts namespaces, makes the pid
 * namespace, sets hostname and sysctls.  args: the infra program. */
json_t *cri_pod_spec (const Runtime__V1__PodSandboxConfig *pod, const struct cri_pod_ctx *ctx, const char *infra_id,
                      const char *infra_rootfs, const char *const *args, berth_err *err);

/* The spec of one container.  image may be NULL (no image config). */
json_t *cri_container_spec (const Runtime__V1__ContainerConfig *c, const Runtime__V1__PodSandboxConfig *pod,
                            const struct berth_image_config *image, const struct cri_pod_ctx *pctx,
                            const struct cri_container_ctx *cctx, berth_err *err);

/* --- helpers for the daemon --------------------------------------------- */

/* The path of a "localhost/<path>" seccomp profile the container asks for
 * (the daemon reads and parses it into cctx->seccomp_localhost); NULL when
 * it asks for none. Borrowed from c. */
const char *cri_seccomp_localhost_path (const Runtime__V1__ContainerConfig *c);
const char *cri_pod_seccomp_localhost_path (const Runtime__V1__PodSandboxConfig *pod);

/* berth's runtime/default seccomp profile for a process with `caps`
 * (bit n = capability n): an allow list, EPERM for the rest. New reference. */
json_t *cri_seccomp_default (uint64_t caps);

/* *out = <log_directory>/<log_path>, or NULL when either is empty (0);
 * -1 with *err when log_path is absolute or climbs out with "..". */
int cri_log_path (const Runtime__V1__ContainerConfig *c, const Runtime__V1__PodSandboxConfig *pod, char **out,
                  berth_err *err);

/* Image volumes of a spec built by cri_container_spec: a JSON array of
 * {"source", "destination"} the daemon makes (and fills from the image) before
 * the container is created.  New reference. */
json_t *cri_image_volumes (json_t *spec, const struct cri_container_ctx *cctx);

/* The stop signal: the config's, else the image's StopSignal, else SIGTERM. */
int cri_stop_signal (const Runtime__V1__ContainerConfig *c, const struct berth_image_config *image, berth_err *err);

#endif
