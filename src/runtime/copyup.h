/* Copying a directory tree between two directory fds (tmpcopyup). */
#ifndef BERTH_RUNTIME_COPYUP_H
#define BERTH_RUNTIME_COPYUP_H

#include "util/error.h"

/* Copy everything under src_dir into dst_dir (both directory fds, O_PATH
 * allowed) with owners, modes and times; dst_dir's own owner and mode become
 * src_dir's.  Symlinks are copied, never followed.  `what` names the mount
 * in errors. */
int copyup_tree (int src_dir, int dst_dir, const char *what, berth_err *err);

#endif
