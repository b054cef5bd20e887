/* Internal: the parent side of create, shared by create and run. */
#ifndef BERTH_RUNTIME_CREATE_H
#define BERTH_RUNTIME_CREATE_H

#include "runtime/container.h"
#include "runtime/state.h"

struct created_container
{
  struct berth_state *state;
  struct berth_spec *spec;
  int dirfd;     /* locked state dir */
  int master_fd; /* pty master when run in the foreground with a terminal; else -1 */
};

/* foreground: `run` without --detach (a terminal is relayed by berth itself
 * when there is no console socket). */
int create_container (const struct berth_context *ctx, const struct berth_create_options *opts, bool foreground,
                      struct created_container *out, berth_err *err);
void created_container_release (struct created_container *cc);

/* Release the init of a created container (the fifo). */
int start_created (int dirfd, const struct berth_state *st, berth_err *err);

/* Kill (if alive), wait, remove the cgroup and the state dir. */
int destroy_container (const struct berth_context *ctx, int dirfd, struct berth_state *st, berth_err *err);

/* Write a pid file by rename, as runc does (no newline). */
int write_pid_file (const char *path, pid_t pid, berth_err *err);

/* Move fd above `min` (close-on-exec kept), for --preserve-fds. */
int move_fd_above (int fd, int min, berth_err *err);

/* clone3 (with CLONE_INTO_CGROUP when cgroup_fd >= 0), falling back to clone. */
pid_t clone_child (unsigned long flags, int *cgroup_fd);

#endif
