/* The process attributes beyond credentials and capabilities: personality,
 * I/O priority, scheduler, CPU affinity, NUMA memory policy, and LSM labels.
 *
 * They are parsed in the parent (errors name the JSON path and come before
 * anything is made) into this plain struct, which the child applies just
 * before the capability drop (some need CAP_SYS_NICE or CAP_SYS_ADMIN). */
#ifndef BERTH_RUNTIME_PROCESS_EXTRAS_H
#define BERTH_RUNTIME_PROCESS_EXTRAS_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

#define EXTRAS_MAX_NODES 1024

struct process_extras
{
  bool has_personality;
  unsigned long personality;
  bool has_ioprio;
  int ioprio;
  bool has_sched;
  struct
  {
    uint32_t size;
    uint32_t policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
  } sched;
  bool has_cpus_initial, has_cpus_final;
  cpu_set_t cpus_initial, cpus_final;
  bool has_mempolicy;
  int mempolicy_mode;
  unsigned long nodemask[EXTRAS_MAX_NODES / (8 * sizeof (unsigned long))];
  unsigned long maxnode;
  const char *apparmor_profile; /* borrowed from the process */
  const char *selinux_label;
};

/* lx may be NULL (exec: only process attributes). */
int process_extras_parse (const struct berth_process *p, const struct berth_linux *lx, struct process_extras *out,
                          berth_err *err);

/* In the child, before credentials and capabilities change. */
int process_extras_apply (const struct process_extras *x, berth_err *err);

/* "0-3,7" -> set; errors name `path`. */
int parse_cpu_list (const char *list, const char *path, cpu_set_t *set, berth_err *err);

#endif
