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
  int fifo_fd;   /* with start_at_once: exec.fifo, open for reading; else -1 */
};

/* foreground: `run` without --detach (a terminal is relayed by berth itself
 * when there is no console socket).  start_at_once: `run`, which starts the
 * container as soon as it is created: exec.fifo is opened for reading before
 * the init is ready, so the init goes on to its execve without waiting while
 * we save the state (pass out->fifo_fd to start_created). */
int create_container (const struct berth_context *ctx, const struct berth_create_options *opts, bool foreground,
                      bool start_at_once, struct created_container *out, berth_err *err);
void created_container_release (struct created_container *cc);

/* Release the init of a created container (the fifo; fifo_fd: already open
 * for reading, taken over, or -1). */
int start_created (int dirfd, const struct berth_state *st, int fifo_fd, berth_err *err);

/* Kill (if alive), wait, remove the cgroup and the state dir. */
int destroy_container (const struct berth_context *ctx, int dirfd, struct berth_state *st, berth_err *err);

/* Write a pid file by rename, as runc does (no newline). */
int write_pid_file (const char *path, pid_t pid, berth_err *err);

/* Move fd above `min` (close-on-exec kept), for --preserve-fds. */
int move_fd_above (int fd, int min, berth_err *err);

/* clone3 (with CLONE_INTO_CGROUP when cgroup_fd >= 0), falling back to clone. */
pid_t clone_child (unsigned long flags, int *cgroup_fd);

#endif
