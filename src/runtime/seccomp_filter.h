/* linux.seccomp through libseccomp.
 *
 *   parent (berth create/run/exec)          container init (or exec child)
 *   ------------------------------          ------------------------------
 *   berth_seccomp_compile (linux.seccomp)
 *     validates (errors name the JSON path),
 *     builds the libseccomp filter and
 *     exports it as BPF into memory
 *   clone ─────────────────────────────────▶ ... rootfs, rlimits, extras ...
 *                                            [!noNewPrivileges] load
 *                                            credentials and capabilities
 *                                            [noNewPrivileges] load
 *   ◀──── SECCOMP_FD, the listener fd in the same sendmsg (SCM_RIGHTS)
 *          [only when berth_seccomp_uses_notify]
 *   berth_seccomp_send_notify_fd to          carries on (a notified syscall
 *   listenerPath, close the fd                waits for the agent's answer)
 *   ◀──────────────────────────────────────── READY ... execve
 *
 * The filter is compiled in the parent so a bad profile fails before any
 * process exists, and so the init makes one system call to install it
 * (nothing allocated after clone).
 *
 * Privilege: the kernel takes a filter only from a task with no_new_privs
 * set or CAP_SYS_ADMIN in its user namespace.  no_new_privs is left to
 * process.noNewPrivileges (libseccomp does not set it), hence the two load
 * points above, as in runc: after PR_SET_NO_NEW_PRIVS when it is set (the
 * profile need not allow setuid, capset...), else before the capabilities
 * are dropped.  berth_seccomp_load fails with EACCES otherwise.
 *
 * SCMP_ACT_NOTIFY is refused for the syscalls that hand the fd over (write,
 * sendmsg) and as the default action: the agent has no fd yet, so the init
 * would block and create hang.  Hence the fd goes in ONE sendmsg datagram
 * (type and SCM_RIGHTS together), with no send()/write() before it.
 */
#ifndef BERTH_RUNTIME_SECCOMP_FILTER_H
#define BERTH_RUNTIME_SECCOMP_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include <seccomp.h>

#include "util/error.h"

struct berth_seccomp;

/* Validates linux.seccomp (a JSON object; call only when it is present)
 * and compiles it; NULL with *err set on error.  Unknown syscall names are
 * skipped (profiles list syscalls newer than this kernel or libseccomp);
 * unknown actions, operators, architectures and flags are errors. */
struct berth_seccomp *berth_seccomp_compile (json_t *seccomp, berth_err *err);

/* In the container init or exec child, at one of the two points drawn
 * above.  *notify_fd_out gets the listener fd (O_CLOEXEC) when the filter
 * uses SCMP_ACT_NOTIFY, else -1.  Allocates nothing on success.  Loaded
 * with seccomp(2) directly, not seccomp_load(): the flags and the listener
 * are set here. */
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

/* Hand the notify fd to the filter's listener with the container's state
 * (built from these fields), then close it. */
int berth_seccomp_forward_notify_fd (const struct berth_seccomp *s, int notify_fd, const char *id, const char *status,
                                     pid_t pid, const char *bundle, json_t *annotations, berth_err *err);

void berth_seccomp_free (struct berth_seccomp *s);

/* linux.seccomp of features.json: enabled, actions, operators, archs,
 * knownFlags, supportedFlags (new reference). */
json_t *berth_seccomp_features (void);

#endif
