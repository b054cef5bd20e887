/* Pod sandboxes as the rest of berthd sees them (the container half:
 * CreateContainer, the monitor, ListContainers).
 *
 *   pods_lookup()             a snapshot of one pod: its namespace paths, dir,
 *                             cgroup parent, shm, hostname, privileged flag
 *   pods_with_pod()           runs a function under the pod's lock, so a
 *                             StopPodSandbox cannot interleave with it
 *   pods_register_stop_hook() StopPodSandbox and RemovePodSandbox call it
 *                             (under the pod's lock) to stop, and on remove
 *                             to remove, every container of the pod
 *
 * Lock order: the pod's lock, then any container lock.  A hook or a
 * pods_with_pod() function must not call back into pods_*() for the same
 * pod (the lock is not recursive).
 */
#ifndef BERTH_DAEMON_PODS_H
#define BERTH_DAEMON_PODS_H

#include <stdbool.h>
#include <stdint.h>

#include "cri.pb-c.h"
#include "daemon/daemon.h"
#include "daemon/records.h"

struct pod_info
{
  char id[RECORD_ID_LEN + 1];
  char *name;      /* the reservation key: <name>_<namespace>_<uid>_<attempt> */
  char *meta_name; /* metadata.name, .namespace, .uid, .attempt */
  char *meta_namespace;
  char *meta_uid;
  uint32_t meta_attempt;
  bool ready;         /* SANDBOX_READY */
  int64_t created_at; /* ns since the epoch */
  char *pod_dir;      /* holds hostname, hosts, resolv.conf (cri_pod_ctx.pod_dir) */
  char *shm_path;     /* the pod's /dev/shm tmpfs, NULL with ipc NODE */
  char *netns_path;   /* pinned namespaces; NULL when the pod uses the host's */
  char *ipcns_path;
  char *utsns_path;
  char *pidns_path; /* /proc/<pause>/ns/pid when pid is POD, else NULL */
  char *hostname;
  char *cgroup_parent; /* linux.cgroup_parent as asked ("" when none) */
  char *log_directory;
  char *runtime_handler;
  char *ip; /* "" with host network */
  bool privileged;
  Runtime__V1__NamespaceMode net_mode, pid_mode, ipc_mode;
};

/* Fills `out` for the pod named by `id` (a full id or a unique prefix).
 * -1 with (*err)->errnum ENOENT when there is none. */
int pods_lookup (struct daemon *d, const char *id, struct pod_info *out, berth_err *err);
void pod_info_free (struct pod_info *p);

/* Runs fn under the pod's lock with a snapshot of it; fn's return is
 * returned.  -1 with ENOENT when there is no such pod. */
typedef int (*pods_fn) (struct daemon *d, const struct pod_info *pod, void *user, berth_err *err);
int pods_with_pod (struct daemon *d, const char *id, pods_fn fn, void *user, berth_err *err);

/* Stops (remove false) or stops and removes (remove true) every container
 * of pod `pod_id`.  Called under the pod's lock, before the network goes.
 * A failure fails the StopPodSandbox/RemovePodSandbox with its message. */
typedef int (*pods_stop_hook_fn) (struct daemon *d, const char *pod_id, bool remove, berth_err *err);
void pods_register_stop_hook (pods_stop_hook_fn fn);

/* Start-up: loads every pod record, undoes pods whose RunPodSandbox never
 * finished, marks NOTREADY those whose namespaces or pause process are gone,
 * removes pod dirs no record names.  Before the server starts. */
int pods_init (struct daemon *d, berth_err *err);
void pods_shutdown (struct daemon *d);

#endif
