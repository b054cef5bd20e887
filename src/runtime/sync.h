/* Parent <-> child messages over a SOCK_SEQPACKET socketpair.
 *
 *   parent (berth create)                 child (becomes the container init)
 *   ---------------------                 ----------------------------------
 *   clone ───────────────────────────────▶ waits for GO
 *   [new userns] write uid_map, gid_map
 *   move the child into its cgroup
 *   GO ──────────────────────────────────▶ join/unshare namespaces
 *                                          [joined userns + new pidns: fork;
 *   ◀─────────────────────────────── PID   the grandchild carries on]
 *                                          rootfs, mounts, /dev
 *   [only when the config has hooks:]
 *   ◀──────────────────────────────── HOOKS
 *   prestart, createRuntime hooks
 *   HOOKS_DONE (state JSON) ─────────────▶ createContainer hooks
 *                                          pivot_root, console, process
 *                                          attributes, executable lookup
 *   ◀────────────────────── READY | ERROR "text"
 *   state.json, then pid file; exit        blocks opening exec.fifo until
 *                                          `start`; startContainer hooks;
 *                                          execve
 *
 * `exec` uses the same channel, but the child sends nothing on success: the
 * socket is close-on-exec, so EOF means the execve happened.
 */
#ifndef BERTH_RUNTIME_SYNC_H
#define BERTH_RUNTIME_SYNC_H

#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

enum sync_type
{
  SYNC_EOF = 0, /* the peer closed the socket (or exec'd) */
  SYNC_GO,
  SYNC_PID, /* payload: the pid (decimal) of the process that carries on */
  SYNC_READY,
  SYNC_ERROR,      /* payload: the error text */
  SYNC_HOOKS,      /* child: mounts done, run prestart and createRuntime hooks now */
  SYNC_HOOKS_DONE, /* parent: done; payload: the state JSON for the child's own hooks */
  SYNC_SECCOMP_FD, /* child: the seccomp notify fd rides along (SCM_RIGHTS) */
};

int sync_send (int fd, enum sync_type type, const char *payload, berth_err *err);

/* The same with an fd attached, in one sendmsg (a seccomp filter may notify
 * on other calls, never on sendmsg). */
int sync_send_fd (int fd, enum sync_type type, int passed_fd, berth_err *err);

/* Receive one message; *payload (may be NULL) gets a malloc'ed NUL-terminated copy. */
int sync_recv (int fd, enum sync_type *type, char **payload, berth_err *err);

/* The same, also taking an attached fd into *fd_out (-1 when none). */
int sync_recv_fd (int fd, enum sync_type *type, char **payload, int *fd_out, berth_err *err);

/* In the child: report err to the parent and _exit(1).  Never returns. */
__attribute__ ((noreturn)) void sync_child_fail (int fd, berth_err *err);

#endif
