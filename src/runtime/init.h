/* The child side of create and exec: everything that runs between clone and
 * execve.  The parent fills an init_ctx before cloning; the child reads it
 * (its own copy of the parent's memory) and never returns. */
#ifndef BERTH_RUNTIME_INIT_H
#define BERTH_RUNTIME_INIT_H

#include <stdbool.h>

#include "runtime/cgroup.h"
#include "runtime/process_extras.h"
#include "runtime/seccomp_filter.h"
#include "spec/spec.h"
#include "util/error.h"

struct init_ctx
{
  const char *id;
  const struct berth_spec *spec;
  const struct berth_process *process;
  const char *bundle;         /* absolute; relative bind sources are from here */
  const char *rootfs;         /* absolute host path of the rootfs */
  int sync_fd;                /* child end of the sync socket */
  int fifo_fd;                /* O_PATH fd of exec.fifo; -1 for exec */
  int console_fd;             /* socket to send the pty master on; -1: no terminal */
  int root_fd;                /* exec into a container without a mount namespace: its root, to chroot to; or -1 */
  int ns_fds[BERTH_NS_COUNT]; /* namespaces to join (-1: none) */
  unsigned join_mask;         /* bits (1 << type) the child setns()es after GO */
  int unshare_flags;          /* CLONE_* the child unshares after GO */
  bool new_userns;            /* parent wrote our id maps: become root in it */
  bool new_mntns;             /* a new mount namespace: set up the rootfs */
  bool fork_again;            /* fork once more: only children enter a pid or time ns made now */
  bool unshare_pid;           /* before that fork: unshare(CLONE_NEWPID) */
  char *time_offsets;         /* before that fork: write these to timens_offsets */
  bool no_pivot;
  bool no_new_keyring;
  int preserve_fds;
  struct process_extras extras;        /* parsed by the parent, applied before the capability drop */
  const struct berth_cgroup *cgroup;   /* joined by the child itself (see cgroup.h) */
  bool cgroup_v2_joined;               /* clone3 put the child in the v2 hierarchy already */
  const struct berth_seccomp *seccomp; /* compiled by the parent; NULL: none */
  int *idmap_fds;                      /* per spec mount: user ns fd of its id mapping, or -1 */
  size_t n_idmap_fds;
  unsigned hooks;   /* hooks_mask() of the spec */
  char *state_json; /* from HOOKS_DONE: the state given to the child's hooks */
};

/* In the parent, after clone or on failure: close the fds meant for the child. */
void init_ctx_close_fds (struct init_ctx *c);

__attribute__ ((noreturn)) void init_container_main (struct init_ctx *c);
__attribute__ ((noreturn)) void init_exec_main (struct init_ctx *c);

/* validate.c: what the kernel cannot do, refused before anything is made. */
int validate_for_create (const struct berth_spec *s, bool systemd_cgroup, berth_err *err);

/* rootfs.c: mounts, /dev, pivot_root, masked and readonly paths. */
int rootfs_prepare (struct init_ctx *c, berth_err *err); /* before pivot */
int rootfs_pivot (struct init_ctx *c, berth_err *err);
int rootfs_finalize (struct init_ctx *c, berth_err *err); /* after pivot, console done */

/* devices.c */
int devices_create (struct init_ctx *c, int rootfd, berth_err *err);
int devices_bind_console (const char *pty_path, berth_err *err);
/* The rules for the devices cgroup (borrowed strings; free the array only). */
struct berth_device_rule *devices_cgroup_rules (const struct berth_linux *lx, size_t *n);

/* process_setup.c */
int process_set_rlimits (const struct berth_process *p, berth_err *err);
int process_set_oom_score_adj (const struct berth_process *p, berth_err *err);
int process_set_credentials_and_caps (const struct berth_process *p, bool setgroups_allowed, berth_err *err);
int process_find_executable (const struct berth_process *p, char **path_out, berth_err *err);
int process_prepare_fds (int preserve_fds, berth_err *err);
int process_join_session_keyring (const char *id, berth_err *err);
/* The environment to exec with: HOME filled in from the container's
 * /etc/passwd when the process has none, as runc does. */
char **process_exec_env (const struct berth_process *p);
__attribute__ ((noreturn)) void process_exec (const struct berth_process *p, const char *path, char **envp,
                                              int sync_fd);

#endif
