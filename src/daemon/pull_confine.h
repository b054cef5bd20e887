/* berthd-pull's confinement, applied before anything is fetched: the
 * capabilities a layer's unpacking needs and no others (bounding set
 * included), no_new_privs, and a seccomp filter refusing what no pull does
 * (mounts, namespaces, ptrace, modules, BPF, keys, io_uring ...).  A bug in
 * the HTTP, TLS, gzip or tar code that an evil registry reaches then holds
 * far less than root. */
#ifndef BERTH_DAEMON_PULL_CONFINE_H
#define BERTH_DAEMON_PULL_CONFINE_H

#include "util/error.h"

int pull_confine (berth_err *err);

#endif
