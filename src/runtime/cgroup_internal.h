/* Private parts of the cgroup code, shared by cgroup*.c and the unit tests.
 *
 * Layout of the code:
 *   cgroup.c               discovery (pure functions over the text of
 *                          /proc/self/mountinfo and /proc/self/cgroup),
 *                          path resolution, JSON, value conversions
 *   cgroup_fs.c            file helpers, create/enter/destroy, pids,
 *                          freeze, kill
 *   cgroup_resources.c     which hierarchy applies which resource
 *   cgroup_resources_v1.c  writers for v1 controllers
 *   cgroup_resources_v2.c  writers for v2 controllers and `unified`
 */
#ifndef BERTH_RUNTIME_CGROUP_INTERNAL_H
#define BERTH_RUNTIME_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/cgroup.h"

/* One hierarchy and the container's directory in it. */
struct cg_hier
{
  int version;       /* 1 or 2 */
  char *controllers; /* comma-separated; v1: as in /proc/self/cgroup
                        ("cpu,cpuacct", "name=systemd"); v2: the root's
                        cgroup.controllers ("memory,pids,hugetlb") */
  char *mount;       /* where the hierarchy is mounted */
  char *own;         /* the caller's cgroup below the mount, "/" or "/a/b" */
  char *path;        /* the container's directory (absolute) */
  unsigned created;  /* trailing components of `path` made by create */
};

struct berth_cgroup
{
  struct cg_hier *h;
  size_t n;
};

/* ---- cgroup.c: pure functions ---- */

/* Fill cg->h from the text of /proc/self/mountinfo and /proc/self/cgroup.
 * v2_controllers is the text of cgroup.controllers at the root of the
 * cgroup2 mount (NULL when there is none).  Sets mount, own, controllers;
 * not path. */
int cg_discover (struct berth_cgroup *cg, const char *mountinfo, const char *self_cgroup, const char *v2_controllers,
                 berth_err *err);

/* Set every hierarchy's path from linux.cgroupsPath (NULL or "": id). */
int cg_resolve_paths (struct berth_cgroup *cg, const char *cgroups_path, const char *id, berth_err *err);

/* cg_discover + cg_resolve_paths. */
struct berth_cgroup *cg_resolve_text (const char *mountinfo, const char *self_cgroup, const char *v2_controllers,
                                      const char *cgroups_path, const char *id, berth_err *err);

/* Undo the \ooo escapes of a mountinfo field in place. */
void cg_unescape_mountinfo (char *s);

/* Whether the comma-separated list holds name. */
bool cg_list_has (const char *list, const char *name);

/* The hierarchy that holds a controller: a v1 one naming it, else the v2
 * one when its root lists it; NULL when none does. */
const struct cg_hier *cg_find (const struct berth_cgroup *cg, const char *controller);
const struct cg_hier *cg_find_v2 (const struct berth_cgroup *cg);
bool cg_has_v1 (const struct berth_cgroup *cg);

/* Conversions, as runc and crun do them. */
uint64_t cg_shares_to_weight (uint64_t shares);   /* cpu.shares -> cpu.weight; 0 -> 0 */
uint64_t cg_blkio_to_io_weight (uint64_t weight); /* blkio 10..1000 -> io 1..10000; 0 -> 0 */
/* memory.swap.max from the v1 style memory+swap and memory limits (0:
 * unset, -1: unlimited).  *write false: leave the file alone; else *out is
 * the value, -1 meaning "max". */
int cg_swap_to_v2 (int64_t swap, int64_t limit, bool *write, int64_t *out, berth_err *err);

/* ---- cgroup_fs.c: file helpers ---- */

/* Write value to dir/file in one write(2).  The error names the file, the
 * value and errno. */
int cg_write (const char *dir, const char *file, const char *value, berth_err *err);
int cg_writef (const char *dir, const char *file, berth_err *err, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
/* Read dir/file whole; trailing newline stripped. */
int cg_read (const char *dir, const char *file, char **out, berth_err *err);
bool cg_file_exists (const char *dir, const char *file);

/* hugetlb.<size>.<suffix> (and its .rsvd. twin where the kernel has it) for
 * every hugepage limit: v1 says "limit_in_bytes", v2 "max". */
int cg_write_hugetlb (const char *dir, const struct berth_resources *res, const char *suffix, berth_err *err);
/* Append " (hint)" to the message of *err; returns -1. */
int cg_hint (berth_err *err, const char *hint);

/* ---- resource writers ---- */
int cg_apply_resources (const struct berth_cgroup *cg, const struct berth_resources *res, berth_err *err);

int cg_v1_memory (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v1_cpu (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v1_cpuset (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v1_pids (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v1_blkio (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v1_hugetlb (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v1_net_cls (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v1_net_prio (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v1_devices (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_rdma (const char *dir, const struct berth_resources *res, berth_err *err);

int cg_v2_memory (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v2_cpu (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v2_cpuset (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v2_pids (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v2_io (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v2_hugetlb (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v2_devices (const char *dir, const struct berth_resources *res, berth_err *err);
int cg_v2_unified (const char *dir, const struct berth_resources *res, berth_err *err);

#endif
