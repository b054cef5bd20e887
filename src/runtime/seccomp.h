/* linux.seccomp through libseccomp.
 *
 *   parent (berth create/run/exec)          container init
 *   ------------------------------          --------------
 *   berth_seccomp_compile (linux.seccomp)
 *     validates (errors name the JSON path),
 *     builds the libseccomp filter and
 *     exports it as BPF into memory
 *   clone ─────────────────────────────────▶ ... rootfs, credentials ...
 *                                            berth_seccomp_load: seccomp(2)
 *                                            [SCMP_ACT_NOTIFY used]
 *   ◀───────────────── listener fd (SCM_RIGHTS on the sync socket)
 *   berth_seccomp_send_notify_fd to          (blocked only if the agent
 *   linux.seccomp.listenerPath, then close    handles what comes next)
 *                                            execve
 *
 * The filter is compiled in the parent so a bad profile fails before any
 * process exists, and so the init only makes one system call to install it
 * (no allocation after clone).
 *
 * Privilege: the kernel accepts a filter only from a task that has
 * no_new_privs set or CAP_SYS_ADMIN in its user namespace.  libseccomp's own
 * no_new_privs is NOT used (process.noNewPrivileges decides), so the init
 * must load the filter either after PR_SET_NO_NEW_PRIVS or before it drops
 * CAP_SYS_ADMIN.  berth_seccomp_load fails with EACCES otherwise.
 */
#ifndef BERTH_RUNTIME_SECCOMP_H
#define BERTH_RUNTIME_SECCOMP_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

struct berth_seccomp;

/* Validates linux.seccomp (`seccomp` may be NULL: returns NULL, no error;
 * check *err to tell) and compiles it.  Unknown syscall names are skipped
 * (profiles list syscalls newer than this kernel or libseccomp); unknown
 * actions, operators, architectures and flags are errors. */
struct berth_seccomp *berth_seccomp_compile (json_t *seccomp, berth_err *err);

/* In the container init, the last step before execve but one that must keep
 * the right to load (see above).  *notify_fd_out gets the listener fd
 * (O_CLOEXEC) when the filter uses SCMP_ACT_NOTIFY, else -1.  Allocates
 * nothing on success. */
int berth_seccomp_load (const struct berth_seccomp *s, int *notify_fd_out, berth_err *err);

/* True when a rule uses SCMP_ACT_NOTIFY: the init will hand back a listener
 * fd that must go to berth_seccomp_listener_path(). */
bool berth_seccomp_uses_notify (const struct berth_seccomp *s);
const char *berth_seccomp_listener_path (const struct berth_seccomp *s);
/* linux.seccomp.listenerMetadata, or NULL. */
const char *berth_seccomp_listener_metadata (const struct berth_seccomp *s);

/* Connects to listener_path (AF_UNIX, SOCK_STREAM) and sends the container
 * process state (config-linux.md) with notify_fd as its one SCM_RIGHTS fd
 * ("seccompFd").  container_state is the state JSON (borrowed); metadata may
 * be NULL.  Does not close notify_fd. */
int berth_seccomp_send_notify_fd (int notify_fd, const char *listener_path, const char *metadata,
                                  json_t *container_state, pid_t pid, berth_err *err);

void berth_seccomp_free (struct berth_seccomp *s);

/* linux.seccomp of features.json: enabled, actions, operators, archs,
 * knownFlags, supportedFlags (new reference). */
json_t *berth_seccomp_features (void);

#endif
