/* Control groups: v1, v2 and hybrid hosts, discovered from
 * /proc/self/mountinfo and /proc/self/cgroup (never from fixed names).
 *
 * A struct berth_cgroup is the resolved set of directories of one container:
 * one per v1 controller hierarchy (named ones like name=systemd included) and
 * the v2 one where a cgroup2 hierarchy is mounted (on hybrid hosts it may
 * hold few or no controllers).  It is saved in state.json so later commands
 * (kill --all, ps, pause, delete) need not rediscover it.
 */
#ifndef BERTH_RUNTIME_CGROUP_H
#define BERTH_RUNTIME_CGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

struct berth_cgroup;

/* Resolve the container's cgroup from linux.cgroupsPath (NULL: the id,
 * relative to the caller's own cgroup).  Absolute paths are from the
 * hierarchy root; relative ones from the caller's cgroup in each hierarchy.
 * A path with a ".." component is refused.  Creates nothing. */
struct berth_cgroup *berth_cgroup_resolve (const char *cgroups_path, const char *id, berth_err *err);

/* mkdir every directory (parents too, remembering which were made so
 * destroy removes exactly those), then apply `res` (may be NULL).  On
 * failure, what was made is removed. */
int berth_cgroup_create (struct berth_cgroup *cg, const struct berth_resources *res, berth_err *err);

/* In the new process itself: join every v1 hierarchy by writing 0 to its
 * `tasks` (moving only the calling thread skips the lock whose RCU grace
 * period makes a parent's pid write take milliseconds), and the v2 one too
 * unless clone3 already put us there (v2_joined). */
int berth_cgroup_enter_self (const struct berth_cgroup *cg, bool v2_joined, berth_err *err);

/* Move pid into every hierarchy of the cgroup. */
int berth_cgroup_enter (const struct berth_cgroup *cg, pid_t pid, berth_err *err);

/* O_PATH|O_DIRECTORY fd of the v2 directory for clone3(CLONE_INTO_CGROUP),
 * or -1 when the host has no v2 hierarchy (on hybrid hosts the v1
 * hierarchies are then joined with berth_cgroup_enter_self). */
int berth_cgroup_v2_dirfd (const struct berth_cgroup *cg);

/* Remove the directories created for this container (children first);
 * processes still inside are killed first.  Missing directories are fine. */
int berth_cgroup_destroy (struct berth_cgroup *cg, berth_err *err);

/* Pids of every process in the cgroup, sorted ascending. */
int berth_cgroup_pids (const struct berth_cgroup *cg, pid_t **pids, size_t *n, berth_err *err);

/* Send sig to every process in the cgroup (freezing first where possible so
 * forks cannot escape). */
int berth_cgroup_kill_all (const struct berth_cgroup *cg, int sig, berth_err *err);

/* Freeze or thaw: v2 cgroup.freeze, else v1 freezer.state. */
int berth_cgroup_set_frozen (const struct berth_cgroup *cg, bool frozen, berth_err *err);
int berth_cgroup_is_frozen (const struct berth_cgroup *cg, bool *frozen, berth_err *err);

/* Apply resources to an existing cgroup (`update`). */
int berth_cgroup_update (const struct berth_cgroup *cg, const struct berth_resources *res, berth_err *err);

/* For a create that died before recording what it made: treat each
 * hierarchy's leaf directory (the container's own) as made by us, so
 * destroy removes it (rmdir only succeeds on an empty cgroup). */
void berth_cgroup_assume_leaf_made (struct berth_cgroup *cg);

/* Hierarchy i (< berth_cgroup_count): where it is mounted, the container's
 * directory in it, and its version (1 or 2). */
size_t berth_cgroup_count (const struct berth_cgroup *cg);
void berth_cgroup_hierarchy (const struct berth_cgroup *cg, size_t i, const char **mount, const char **path,
                             int *version);

/* Persist in state.json and load back. */
json_t *berth_cgroup_to_json (const struct berth_cgroup *cg);
struct berth_cgroup *berth_cgroup_from_json (json_t *obj, berth_err *err);

void berth_cgroup_free (struct berth_cgroup *cg);

/* ---- statistics (cgroup_stats.c) ---- */

/* The `data` of runc's stats event (types.Stats: cpu, cpuset, memory,
 * pids, blkio, hugetlb, intel_rdt, network_interfaces).  uint64 counters
 * above INT64_MAX are json reals (see berth_event_dumps). */
json_t *berth_cgroup_stats (const struct berth_cgroup *cg, berth_err *err);

/* The directory whose memory controller reports OOM (*v2: memory.events;
 * else memory.oom_control), or NULL when there is none. */
const char *berth_cgroup_memory_dir (const struct berth_cgroup *cg, bool *v2);

/* Pieces of the above, pure, for unit tests. */
json_t *berth_stats_u64 (uint64_t v);
json_t *berth_stats_cpu_list (const char *text); /* "0-2,5" -> [0,1,2,5]; NULL: malformed */
int berth_stats_hugepage_name (const char *dirent_name, char *out, size_t size); /* "hugepages-2048kB" -> "2MB" */

#endif
