/* Namespaces: clone flags for new ones, fds for joined ones, id maps. */
#ifndef BERTH_RUNTIME_NAMESPACES_H
#define BERTH_RUNTIME_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

int ns_clone_flag (enum berth_ns_type type);

/* Open every namespace given by path (fds[type], -1 where none).  The
 * fds are O_CLOEXEC; the caller closes them with ns_close_all(). */
int ns_open_paths (const struct berth_linux *lx, int fds[BERTH_NS_COUNT], berth_err *err);
void ns_close_all (int fds[BERTH_NS_COUNT]);

/* setns() into every fd in fds whose bit (1 << type) is in `mask`, in enum
 * order (user first, mount last). */
int ns_join (int fds[BERTH_NS_COUNT], unsigned mask, berth_err *err);

/* Write uid_map and gid_map of pid from the spec's mappings. */
int ns_write_id_maps (pid_t pid, const struct berth_linux *lx, berth_err *err);

/* Open /proc/<pid>/ns/<name> of a running container for every namespace
 * that differs from ours (exec). */
int ns_open_of_pid (pid_t pid, int fds[BERTH_NS_COUNT], berth_err *err);

/* linux.timeOffsets as the text /proc/PID/timens_offsets takes ("monotonic
 * SECS NANOSECS" lines); *out stays NULL when there are none.  Offsets need a
 * new time namespace. */
int ns_time_offsets (const struct berth_linux *lx, char **out, berth_err *err);

/* An fd of a new user namespace with these mappings (for idmapped mounts):
 * a helper process is cloned into it, its maps written, and it exits. */
int ns_userns_fd_with_maps (const struct berth_id_mapping *uids, size_t n_uids, const struct berth_id_mapping *gids,
                            size_t n_gids, const char *what, berth_err *err);

/* A new network namespace has lo down: bring it up as runc does. */
int ns_loopback_up (berth_err *err);

#endif
