/* Signal forwarding for a foreground berth (`run`, `exec` without -d).
 *
 * The signals a user sends to berth are meant for the container process:
 * SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are blocked in the
 * calling thread, read from a signalfd and sent on to the child.  SIGCHLD
 * (and SIGWINCH, for the terminal relay) are read from the same signalfd.
 *
 * The mask is per thread: in a multi-threaded caller the other threads must
 * block these signals too, or the kernel may deliver them there.  SIGCHLD
 * must not be ignored (SIG_IGN reaps children behind our back).
 */
#ifndef BERTH_RUNTIME_SIGNALS_H
#define BERTH_RUNTIME_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

struct signal_forward
{
  int fd;         /* signalfd, O_CLOEXEC|O_NONBLOCK */
  sigset_t saved; /* the mask before signal_forward_begin */
};

/* The signals forwarded to the child. */
bool signal_is_forwarded (int signo);

/* Blocks the forwarded signals, SIGCHLD and, with winch, SIGWINCH, and
 * opens a signalfd for them.  Undo with signal_forward_end. */
int signal_forward_begin (struct signal_forward *sf, bool winch, berth_err *err);

/* Closes the signalfd and restores the mask.  Signals that arrived and
 * were not read stay pending for the restored mask. */
void signal_forward_end (struct signal_forward *sf);

/* Reads one signal from the signalfd: returns its number, 0 when none is
 * pending, -1 on error. */
int signal_forward_read (struct signal_forward *sf, berth_err *err);

/* 0-255 as a shell reports it: the exit code, or 128 + the signal. */
int process_exit_status (int wstatus);

/* waitpid(child) while forwarding signals to it.  *exit_status as
 * process_exit_status. */
int process_wait_forwarding_signals (pid_t child, int *exit_status, berth_err *err);

/* waitpid(child, WNOHANG): 1 and *exit_status when it has exited, 0 when
 * it runs, -1 on error. */
int process_reap_nohang (pid_t child, int *exit_status, berth_err *err);

#endif
