/* Facts about a process read from /proc. */
#ifndef BERTH_UTIL_PROC_H
#define BERTH_UTIL_PROC_H

#include <sys/types.h>

/* The start time of `pid` (field 22 of /proc/PID/stat, clock ticks since
 * boot): with the pid it names one process for good, so a recycled pid is
 * never mistaken for it.  0 when the process is gone or a zombie. */
unsigned long long berth_proc_start_time (pid_t pid);

#endif
