/* CVE-2019-5736: a container whose entrypoint is "#!/proc/self/exe" makes
 * the kernel run the runtime's own binary inside the container; a process
 * there could then open that binary for writing through /proc/PID/exe.
 * Commands that start container processes therefore re-execute berth through
 * a private, detached read-only bind mount of its binary, or, without the
 * privilege for that, from a sealed memfd copy: the exe link then names a
 * file no one can open for writing through it.  A binary on a read-only
 * mount or marked immutable is run as it is.
 *
 * The static `berth` makes the same checks and the same re-exec through the
 * bind mount before its C library starts (cli/early_start.c, raw system
 * calls: it cannot call these functions); this remains the authority, run
 * in main: it finds the binary sealed then, and does the memfd fallback. */
#ifndef BERTH_RUNTIME_SEALED_EXE_H
#define BERTH_RUNTIME_SEALED_EXE_H

#include "util/error.h"

/* Returns 0 when already running from a sealed copy or an unwritable
 * binary; otherwise re-executes /proc/self/exe through a read-only bind
 * mount (or copies it into a sealed memfd and re-executes that) with argv
 * and the current environment (it returns only on failure). */
int berth_ensure_sealed_exe (char **argv, berth_err *err);

#endif
