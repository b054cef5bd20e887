#include "runtime/signals.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

bool
signal_is_forwarded (int signo)
{
  for (size_t i = 0; i < sizeof (forwarded_signals) / sizeof (forwarded_signals[0]); i++)
    if (forwarded_signals[i] == signo)
      return true;
  return false;
}

int
signal_forward_begin (struct signal_forward *sf, bool winch, berth_err *err)
{
  sigset_t set;
  int ret;

  sigemptyset (&set);
  for (size_t i = 0; i < sizeof (forwarded_signals) / sizeof (forwarded_signals[0]); i++)
    sigaddset (&set, forwarded_signals[i]);
  sigaddset (&set, SIGCHLD);
  if (winch)
    sigaddset (&set, SIGWINCH);
  ret = pthread_sigmask (SIG_BLOCK, &set, &sf->saved);
  if (ret != 0)
    return berth_fail (err, ret, "block signals");
  sf->fd = signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sf->fd < 0)
    {
      int saved = errno;
      pthread_sigmask (SIG_SETMASK, &sf->saved, NULL);
      return berth_fail (err, saved, "signalfd");
    }
  return 0;
}

void
signal_forward_end (struct signal_forward *sf)
{
  if (sf->fd >= 0)
    {
      close (sf->fd);
      sf->fd = -1;
      pthread_sigmask (SIG_SETMASK, &sf->saved, NULL);
    }
}

int
signal_forward_read (struct signal_forward *sf, berth_err *err)
{
  struct signalfd_siginfo si;
  ssize_t n;

  do
    n = read (sf->fd, &si, sizeof (si));
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return 0;
  if (n < 0)
    return berth_fail (err, errno, "read signalfd");
  if (n != (ssize_t)sizeof (si))
    return berth_fail (err, EIO, "read signalfd: short read");
  return (int)si.ssi_signo;
}

int
process_exit_status (int wstatus)
{
  if (WIFEXITED (wstatus))
    return WEXITSTATUS (wstatus);
  if (WIFSIGNALED (wstatus))
    return 128 + WTERMSIG (wstatus);
  return 255;
}

int
process_reap_nohang (pid_t child, int *exit_status, berth_err *err)
{
  int wstatus;
  pid_t r;

  do
    r = waitpid (child, &wstatus, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return berth_fail (err, errno, "waitpid %d", (int)child);
  if (r == 0)
    return 0;
  *exit_status = process_exit_status (wstatus);
  return 1;
}

static int
wait_loop (struct signal_forward *sf, pid_t child, int *exit_status, berth_err *err)
{
  struct pollfd pfd = { .fd = sf->fd, .events = POLLIN };
  int ret, signo;

  /* SIGCHLD is blocked now: an exit from here on leaves it pending, one
   * from before shows up in this first waitpid. */
  while ((ret = process_reap_nohang (child, exit_status, err)) == 0)
    {
      if (poll (&pfd, 1, -1) < 0 && errno != EINTR)
        return berth_fail (err, errno, "poll");
      while ((signo = signal_forward_read (sf, err)) > 0)
        if (signal_is_forwarded (signo) && kill (child, signo) < 0 && errno != ESRCH)
          return berth_fail (err, errno, "forward signal %d to %d", signo, (int)child);
      if (signo < 0)
        return -1;
    }
  return ret < 0 ? -1 : 0;
}

int
process_wait_forwarding_signals (pid_t child, int *exit_status, berth_err *err)
{
  struct signal_forward sf;
  int ret;

  if (signal_forward_begin (&sf, false, err) < 0)
    return -1;
  ret = wait_loop (&sf, child, exit_status, err);
  signal_forward_end (&sf);
  return ret;
}
