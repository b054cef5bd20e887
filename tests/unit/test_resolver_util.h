/* Helpers shared by the unit tests that run each case under both rootfs
 * resolvers of util/path.h (openat2 RESOLVE_IN_ROOT, and the userspace walk
 * forced) and watch a host dir with inotify to prove nothing escaped. */
#ifndef BERTH_TEST_RESOLVER_UTIL_H
#define BERTH_TEST_RESOLVER_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "util/path.h"

/* setup_openat2 and setup_fallback: the resolver chosen, then
 * `setup_tree (void **state)`. */
#define RESOLVER_SETUPS(setup_tree)                                                                                    \
  static int setup_openat2 (void **state)                                                                              \
  {                                                                                                                    \
    safe_path_force_fallback (false);                                                                                  \
    return setup_tree (state);                                                                                         \
  }                                                                                                                    \
  static int setup_fallback (void **state)                                                                             \
  {                                                                                                                    \
    safe_path_force_fallback (true);                                                                                   \
    return setup_tree (state);                                                                                         \
  }

/* A case twice, with teardown_tree after each. */
#define BOTH_WAYS(f)                                                                                                   \
  { "openat2:" #f, f, setup_openat2, teardown_tree, NULL }, { "fallback:" #f, f, setup_fallback, teardown_tree, NULL }

static inline int
rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove (path);
}

static inline int
rm_tree (const char *dir)
{
  return nftw (dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The end of every case: the resolver back to openat2, the tree under
 * `base` removed (also when the case failed), then a failure on the first
 * event queued on the (non-blocking) inotify fd, which it closes: something
 * `where` was opened, read, written or created. */
static inline void
resolver_case_end (int inotify, const char *where, const char *base)
{
  char buf[4096];
  ssize_t n = read (inotify, buf, sizeof (buf));
  int saved = errno;

  close (inotify);
  safe_path_force_fallback (false);
  assert_int_equal (rm_tree (base), 0);
  if (n > 0)
    {
      const struct inotify_event *ev = (const void *)buf;
      fail_msg ("escape: inotify event mask 0x%x name \"%s\" %s", ev->mask, ev->len ? ev->name : "", where);
    }
  assert_int_equal (saved, EAGAIN);
}

#endif
