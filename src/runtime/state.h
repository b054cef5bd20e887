/* The state directory of one container: <state_root>/<id>/.
 *
 *   state.json   what later commands need (pid and its start time, bundle,
 *                cgroup, ...); replaced by rename so it is never seen torn
 *   config.json  a copy of the config the container was created from (exec
 *                and delete read it; the bundle may change meanwhile)
 *   exec.fifo    exists while the container is "created"
 *
 * The directory itself is flock()ed by commands that change the container.
 */
#ifndef BERTH_RUNTIME_STATE_H
#define BERTH_RUNTIME_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/host_mounts.h"
#include "util/error.h"
#include "util/proc.h"

#define BERTH_EXEC_FIFO "exec.fifo"

struct berth_state
{
  char *id;
  pid_t pid;
  unsigned long long pid_start; /* field 22 of /proc/PID/stat: guards against pid reuse */
  char *bundle;
  char *rootfs;
  char *created;
  char *owner;
  json_t *annotations;         /* object, owned */
  struct berth_cgroup *cgroup; /* may be NULL */
  bool creating;               /* written before the init is ready: a killed create left it */
  bool cgroup_pending;         /* the cgroup was being made: what exists is ours */
  unsigned hooks;              /* hooks_mask(): start and delete read the config only when needed */
  bool new_pid_ns;             /* the container has its own pid namespace */
  struct host_mounts host_mounts; /* no mount namespace: our mounts in the host's table */
};

void berth_state_free (struct berth_state *st);

/* Open (and optionally lock) the state dir of `id`.  ENOENT becomes
 * "container does not exist" as runc says it. */
int berth_state_dir_open (const char *state_root, const char *id, bool lock, berth_err *err);

/* mkdir the state dir exclusively: EEXIST becomes "container with id exists". */
int berth_state_dir_create (const char *state_root, const char *id, berth_err *err);

/* Remove a state dir and everything in it. */
int berth_state_dir_remove (const char *state_root, const char *id, berth_err *err);

int berth_state_save (int dirfd, const struct berth_state *st, berth_err *err);
struct berth_state *berth_state_load (int dirfd, const char *id, berth_err *err);

/* Status from the pid, its start time, the fifo and the freezer. */
enum berth_status berth_state_status (int dirfd, const struct berth_state *st);

/* Start time of pid (field 22 of /proc/PID/stat), 0 when gone or a zombie. */

/* Write `data` to dirfd/name by a temporary file and rename. */
int berth_write_file_atomic (int dirfd, const char *name, const char *data, size_t len, mode_t mode, berth_err *err);

/* Create name (it must not exist) and write data to it, in place: for a
 * file nobody reads until it is complete (a new inode costs on ext4; the
 * rename of the atomic form makes two). */
int berth_write_file_new (int dirfd, const char *name, const char *data, size_t len, mode_t mode, berth_err *err);

/* RFC 3339 with nanoseconds in UTC, as runc prints `created`. */
char *berth_now_rfc3339 (void);

#endif
