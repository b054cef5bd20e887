/* linux.resources.devices on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE
 * program made from the rules and attached to the container's directory.
 * Private to cgroup_resources_v2.c and the unit tests.
 *
 * Semantics (the same as the v1 writer's "deny a, then the rules in order"
 * for every rule list engines send):
 *   - the default is deny; an empty list denies every device;
 *   - for each access the kernel asks about (m, r, w), the LAST rule that
 *     matches the device (type, major, minor; 'a' and -1 match any) and
 *     names that access decides;
 *   - an open or mknod is allowed only when every access it asks for is.
 * So "allow c 1:3 r" then "allow c 1:3 w" permits O_RDWR, and "allow a
 * *:* rwm" then "deny c 1:5 w" permits reading /dev/zero but not writing.
 */
#ifndef BERTH_RUNTIME_CGROUP_DEVICES_BPF_H
#define BERTH_RUNTIME_CGROUP_DEVICES_BPF_H

#include <stddef.h>

#include <linux/bpf.h>

#include "spec/spec.h"
#include "util/error.h"

/* The program for rules[0..n).  *out is malloc'd.  An invalid rule is an
 * error naming "devices[i]". */
int cg_devices_bpf_build (const struct berth_device_rule *rules, size_t n, struct bpf_insn **out, size_t *n_out,
                          berth_err *err);

/* BPF_PROG_LOAD; returns the program's fd (O_CLOEXEC).  A program the
 * verifier refuses is an error carrying the verifier's log. */
int cg_devices_bpf_load (const struct bpf_insn *insns, size_t n, berth_err *err);

/* Attach prog_fd to the cgroup v2 directory dirfd as its only device
 * program: the new one is attached (BPF_F_ALLOW_MULTI) before those
 * attached earlier are detached, so the directory is never unfiltered.  A
 * program attached earlier without BPF_F_ALLOW_MULTI is replaced in place. */
int cg_devices_bpf_attach (int dirfd, int prog_fd, berth_err *err);

/* The ids of the device programs attached to dirfd itself (not inherited).
 * *ids is malloc'd (NULL when none). */
int cg_devices_bpf_query (int dirfd, uint32_t **ids, size_t *n, berth_err *err);

/* build + load + attach on the directory `dir`. */
int cg_devices_bpf_apply (const char *dir, const struct berth_device_rule *rules, size_t n, berth_err *err);

#endif
