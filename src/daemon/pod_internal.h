/* Pod sandboxes inside berthd: the in-memory table, the record form, the
 * host-side steps.  Shared by pod_store.c, pod_setup.c, pod_run.c and
 * pod_service.c only; the rest of berthd uses pods.h.
 *
 * Where a pod lives:
 *   <root>/pods/<id>.json          its record (records.h)
 *   <state>/pods/<id>/             hostname, hosts, resolv.conf
 *   <state>/pods/<id>/shm          its /dev/shm (tmpfs, 64 MiB)
 *   <state>/pods/<id>/ns/{net,ipc,uts}   pinned namespaces (src/net)
 *   <root>/cni/<id>-eth0.json      the CNI cache (src/net)
 * Records go in --root because they must survive a reboot (the kubelet
 * then sees the pods NOTREADY and removes them); namespaces and mounts go
 * in --state, which a reboot clears with them.
 */
#ifndef BERTH_DAEMON_POD_INTERNAL_H
#define BERTH_DAEMON_POD_INTERNAL_H

#include "daemon/pods.h"
#include "net/net.h"
#include "runtime/cgroup.h"

#define POD_SHM_SIZE (64ull << 20)

enum pod_state
{
  POD_CREATING, /* RunPodSandbox under way; recovery undoes such a pod */
  POD_READY,
  POD_NOTREADY,
};

struct pod
{
  /* Serializes the changes of this pod (Stop, Remove, container create
     through pods_with_pod); readers copy under it too. */
  pthread_mutex_t mu;
  unsigned refs; /* under the table lock */
  bool removed;  /* under mu: RemovePodSandbox took it out of the table */

  char id[RECORD_ID_LEN + 1];
  char *name; /* reservation key */
  enum pod_state state;
  int64_t created_at;
  char *meta_name, *meta_namespace, *meta_uid;
  uint32_t meta_attempt;
  json_t *labels, *annotations; /* objects of strings */
  char *runtime_handler;
  char *hostname, *log_directory, *cgroup_parent;
  bool privileged;
  Runtime__V1__NamespaceMode net_mode, pid_mode, ipc_mode;

  char *pod_dir, *ns_dir;
  char *netns, *ipcns, *utsns; /* NULL when not pinned (or no longer) */
  char *shm;                   /* NULL when not mounted (or no longer) */
  bool has_pause;
  struct net_pause pause;
  struct berth_cgroup *cgroup; /* the pause's, <cgroup_parent>/<id> */
  bool cni;                    /* ADD done, DEL still due */
  char *ip;
  json_t *extra_ips; /* array of strings */
  json_t *ports;     /* array of {host_port, container_port, protocol, host_ip} */
};

struct pod_table
{
  pthread_mutex_t mu;
  struct pod **pods;
  size_t n, cap;
  struct record_store records;
  char *pods_state; /* <state>/pods */
  char *cni_cache;  /* <root>/cni */
};

/* pod_store.c */
struct pod *pod_new (void);
void pod_free (struct pod *p);
json_t *pod_to_json (const struct pod *p);
struct pod *pod_from_json (const char *id, json_t *doc, berth_err *err);
int pod_save (struct daemon *d, struct pod *p, berth_err *err);
void pod_table_add (struct daemon *d, struct pod *p);
/* A reference to the pod `id` (full or unique prefix), or NULL: errnum
 * ENOENT (none) or EINVAL (ambiguous, bad form). */
struct pod *pod_get (struct daemon *d, const char *id, berth_err *err);
void pod_put (struct daemon *d, struct pod *p);
void pod_table_drop (struct daemon *d, struct pod *p);
/* References to every pod; free with pod_put on each and free(). */
struct pod **pod_table_all (struct daemon *d, size_t *n);
void pod_fill_info (const struct pod *p, struct pod_info *out);
pods_stop_hook_fn pods_stop_hook (void);
const char *pod_state_name (enum pod_state s);

/* pod_setup.c: the host-side steps, each undone by pod_teardown. */
int pod_write_files (struct pod *p, const Runtime__V1__PodSandboxConfig *cfg, berth_err *err);
int pod_write_hosts (struct pod *p, berth_err *err);
int pod_mount_shm (struct pod *p, berth_err *err);
int pod_apply_sysctls (struct pod *p, const Runtime__V1__PodSandboxConfig *cfg, berth_err *err);
int pod_start_pause (struct daemon *d, struct pod *p, berth_err *err);
int pod_cni_add (struct daemon *d, struct pod *p, berth_err *err);
/* Releases what the pod holds on the host, in reverse order of setup: CNI
 * DEL, pause, its cgroup, shm, pinned namespaces.  Idempotent; goes on past
 * a failing step and reports the first error.  With `files`, also the pod
 * dir and its files. */
int pod_teardown (struct daemon *d, struct pod *p, bool files, berth_err *err);
/* Removes a pod dir no record names (after a crash). */
void pod_dir_cleanup (const char *pod_dir);
struct cni_setup pod_cni_setup (struct daemon *d);

#endif
