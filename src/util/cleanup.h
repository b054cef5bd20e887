/* Scope-bound cleanup helpers (__attribute__((cleanup))).
 *
 *     cleanup_free char *path = NULL;
 *     cleanup_close int fd = -1;
 *
 * Use steal_pointer()/steal_fd() to hand ownership out of the scope.
 */
#ifndef BERTH_UTIL_CLEANUP_H
#define BERTH_UTIL_CLEANUP_H

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void
berth_freep (void *p)
{
  void **pp = p;
  free (*pp);
}

static inline void
berth_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}

/* Kills and reaps a half-started child when the scope is left early. */
static inline void
berth_pidp (pid_t *pid)
{
  if (*pid > 0)
    {
      int saved = errno;
      kill (*pid, SIGKILL);
      while (waitpid (*pid, NULL, 0) < 0 && errno == EINTR)
        ;
      errno = saved;
    }
}

static inline void
berth_strvp (char ***v)
{
  if (*v != NULL)
    {
      for (char **p = *v; *p != NULL; p++)
        free (*p);
      free (*v);
    }
}

#define cleanup_free __attribute__ ((cleanup (berth_freep)))
#define cleanup_close __attribute__ ((cleanup (berth_closep)))
#define cleanup_pid __attribute__ ((cleanup (berth_pidp)))
#define cleanup_strv __attribute__ ((cleanup (berth_strvp)))

static inline void *
berth_steal_pointer (void *pp)
{
  void **p = pp;
  void *v = *p;
  *p = NULL;
  return v;
}
#define steal_pointer(pp) berth_steal_pointer (pp)

static inline int
steal_fd (int *fd)
{
  int v = *fd;
  *fd = -1;
  return v;
}

#endif
