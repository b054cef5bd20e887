/* The container's console: a pty made inside the container, its master
 * handed to whoever asked for it (runc semantics).  Protocol drawn at the
 * top of terminal.c. */
#ifndef BERTH_RUNTIME_TERMINAL_H
#define BERTH_RUNTIME_TERMINAL_H

#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* In the container, after /dev/pts (a new devpts instance) and /dev/ptmx
 * are in place: opens a pty, makes this process a session leader with the
 * pty as its controlling terminal and its stdin/stdout/stderr, and returns
 * the master (O_CLOEXEC) in *master_out. */
int terminal_setup_in_container (int *master_out, berth_err *err);

/* process.consoleSize. */
int terminal_set_size (int master, unsigned rows, unsigned cols, berth_err *err);

/* Sends master with SCM_RIGHTS over the connected unix socket sockfd; the
 * data is `name` (the pty's path, as runc sends it). */
int terminal_send_master (int sockfd, int master, const char *name, berth_err *err);

/* Connects a SOCK_STREAM unix socket (O_CLOEXEC) to --console-socket. */
int terminal_connect_console_socket (const char *path, berth_err *err);

/* Receives one fd sent by terminal_send_master (O_CLOEXEC).  With name_out
 * the payload too (malloc'ed, caller frees). */
int terminal_recv_fd_name (int sockfd, char **name_out, berth_err *err);
int terminal_recv_fd (int sockfd, berth_err *err);

/* Foreground `run`/`exec` with process.terminal and no --console-socket:
 * copies stdin -> master and master -> stdout until `child` has exited and
 * the master is drained, forwarding signals (signals.h) and the window
 * size (SIGWINCH) meanwhile.  stdin is put in raw mode while it runs when
 * it is a tty.  Reaps child; *exit_status is 0-255 (128 + signal). */
int terminal_relay (int master, pid_t child, int *exit_status, berth_err *err);

#endif
