/* /etc/passwd read by hand: NSS would dlopen modules (slow, and in a
 * container rootfs, the image's own code). */
#ifndef BERTH_UTIL_PASSWD_H
#define BERTH_UTIL_PASSWD_H

#include <sys/types.h>

/* Field `field` (0 name, 5 home ...) of the line for uid in `path`;
 * malloc'ed, NULL when not found. */
char *passwd_field (const char *path, uid_t uid, int field);

#endif
