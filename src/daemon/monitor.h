/* The container monitor: one small process per container that owns its
 * stdio, writes its CRI log, records its exit, and outlives berthd.
 *
 *   berthd thread                child A           monitor M                 container init
 *   -------------                -------           ---------                 --------------
 *   pipe(report)
 *   fork ──────────────────────▶ setsid
 *                                fork ───────────▶ fds closed but report,
 *                                _exit(0)          signals reset, subreaper,
 *   waitpid(A)                                     log opened, stdio pipes
 *                                                  (or a console socket)
 *                                                  berth_container_create ─▶ cloned; waits
 *                                                                            on exec.fifo
 *   read report ◀──────────────────────────────── {ok, init pid, M's pid and
 *                                                  start time} or the berth_err text
 *   berth_container_start ──────────────────────────────────────────────────▶ execs the process
 *                                                  relays stdout/stderr (or the
 *                                                  pty) into the CRI log;
 *                                                  SIGUSR1: reopen the log;
 *                                                  reaps the init, writes the
 *                                                  exit file (rename), exits
 *
 * A is reaped by the caller at once, so M is reparented to init (or the
 * nearest subreaper) and a SIGKILLed berthd leaves it running.  M is a
 * session leader of its own with every other fd closed: berthd's sockets
 * never reach it or the container.  The init is M's child (libberth clones
 * it, CLONE_PARENT when it forks again); M is also a subreaper, so anything
 * orphaned in the container is reaped there too.
 *
 * stdin: the monitor holds the fifo open for reading and relays what its
 * writers (an attach session: anything that opens the fifo for writing,
 * writes, closes) write into the container's stdin pipe (or the pty).
 * Without stdin_once it also holds it open for writing itself, so writers
 * come and go and the container never sees EOF.  With stdin_once (CRI's
 * ContainerConfig.stdin_once) it does not: the kernel reports a hangup on
 * the fifo only once a writer has come and all writers have gone (a reader
 * opened O_NONBLOCK sees none before the first writer), and then, after
 * what was written is relayed, the monitor closes the container's stdin and
 * removes the fifo, so a later writer fails at once (ENOENT) instead of
 * blocking on a fifo nobody reads.  Two writers at once are one session:
 * EOF comes when the last closes.  In tty mode closing our dup of the pty
 * master only stops the relay (a pty has no EOF); berthd, as containerd,
 * asks for stdin_once only without a tty.
 *
 * Files: the CRI log (`<RFC3339Nano> <stdout|stderr> <P|F> <text>`, mode
 * 0640, appended), the exit file (JSON, written by rename once the output is
 * drained), and while create runs a console socket next to the exit file
 * (tty mode; removed before the report).
 */
#ifndef BERTH_DAEMON_MONITOR_H
#define BERTH_DAEMON_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

#define MONITOR_DEFAULT_MAX_LINE 16384                /* containerd's max_container_log_line_size */
#define MONITOR_DEFAULT_MAX_OUTPUT (16 * 1024 * 1024) /* CRI's cap on ExecSync output */

struct monitor_opts
{
  const char *id;          /* container id (libberth) */
  const char *bundle;      /* bundle directory */
  const char *config_path; /* NULL: <bundle>/config.json */
  const char *state_root;  /* libberth's --root */
  bool systemd_cgroup;     /* libberth's --systemd-cgroup */
  const char *log_path;    /* the CRI log; NULL: output is read and dropped */
  size_t max_line;         /* bytes before a line is split (P); 0: MONITOR_DEFAULT_MAX_LINE */
  const char *exit_file;   /* required; its directory must exist and be writable */
  bool tty;                /* must match process.terminal of the config */
  const char *stdin_fifo;  /* NULL: stdin is /dev/null; else a fifo made here (mode 0600)
                              whose writers feed the container's stdin (no EOF but by stdin_once) */
  bool stdin_once;         /* with stdin_fifo: the container's stdin is closed (EOF) once the
                              fifo's writers, after at least one came, are all gone; the fifo
                              is then removed (see "stdin:" at the top of this file) */

  const char *attach_socket; /* NULL: none; else a unix socket the monitor serves for Attach
                                (monitor_attach.c): live output, pty resizes */
};

struct monitor_info
{
  pid_t pid;                     /* the monitor */
  unsigned long long start_time; /* its start time (/proc/PID/stat field 22): pid + this name it for good */
  pid_t init_pid;                /* the container's init (host pid) */
};

/* Forks the monitor, which creates the container (its init waits for
 * berth_container_start).  Returns when create has succeeded or failed; on
 * failure *err holds libberth's message and nothing is left (no state dir,
 * cgroup, process, log file made by us, stdin fifo or exit file).  Safe to
 * call from any thread of a multi-threaded process. */
int monitor_spawn (const struct monitor_opts *o, struct monitor_info *out, berth_err *err);

/* Whether the monitor still runs (pid and start time match). */
bool monitor_alive (const struct monitor_info *m);

/* ReopenContainerLog: SIGUSR1 to the monitor, which closes the log and
 * opens log_path anew (after a rename by logrotate or the kubelet).  Waits
 * (1 s at most) until log_path exists again.  A monitor that is gone is an
 * error ("container is not running"), as CRI wants. */
int monitor_reopen_log (const struct monitor_info *m, const char *log_path, berth_err *err);

/* ---- Attach (monitor_attach.c) ----
 *
 * The monitor listens on opts.attach_socket; each client gets what the
 * container writes from the moment it connects:
 *   monitor -> client: stream (1 stdout, 2 stderr; a tty's output is 1),
 *                      length (32 bits, big endian), that many bytes
 *   client -> monitor: 'r', rows (16, big endian), cols (16): resize the pty
 * A client that falls MONITOR_ATTACH_MAX_BEHIND bytes behind is dropped
 * (the CRI log still has everything).  EOF: the container has exited and
 * its output is drained.  Stdin does not go through here: attach clients
 * write the stdin fifo. */
#define MONITOR_ATTACH_MAX_CLIENTS 16
#define MONITOR_ATTACH_MAX_BEHIND (1024 * 1024)

/* Connects to a monitor's attach socket (CLOEXEC, non-blocking). */
int monitor_attach_connect (const char *path, berth_err *err);

/* ---- the exit file (exit_record.c) ---- */

struct monitor_exit
{
  pid_t pid;       /* the init */
  int exit_code;   /* 0-255; 128 + signal when killed */
  int signal;      /* the signal that killed it, or 0 */
  bool oom_killed; /* the memory cgroup's oom_kill count rose while it ran (best effort) */
  char *exited_at; /* RFC 3339 with nanoseconds, UTC */
  char *reason;    /* "Completed", "Error" or "OOMKilled" (CRI's reasons) */
};

/* 1 with *out filled when the exit file exists, 0 when it does not (the
 * container still runs, or its monitor died), -1 on a bad file. */
int monitor_exit_read (const char *path, struct monitor_exit *out, berth_err *err);
void monitor_exit_clear (struct monitor_exit *e);

/* ---- ExecSync (monitor_exec.c) ---- */

struct monitor_exec_opts
{
  const char *state_root; /* libberth's --root */
  const char *id;
  char *const *argv;  /* NULL-terminated; the rest of the process comes from the container's config */
  unsigned timeout_s; /* 0: none */
  size_t max_output;  /* per stream; 0: MONITOR_DEFAULT_MAX_OUTPUT */
};

struct monitor_exec_result
{
  int exit_code;  /* 0-255; 128 + signal */
  bool timed_out; /* killed (SIGKILL) at the timeout; exit_code is then 137 */
  bool truncated; /* output beyond max_output was dropped */
  char *out;      /* stdout, NUL-terminated (may hold NULs: use out_len) */
  size_t out_len;
  char *err;
  size_t err_len;
};

/* Runs argv in the running container `id` through libberth's exec in a
 * forked helper (the caller's thread only reads the output), waits for it
 * and returns its status and output.  Errors of exec itself (no such
 * container, not running, no such binary) are returned in *err. */
int monitor_exec_sync (const struct monitor_exec_opts *o, struct monitor_exec_result *out, berth_err *err);
void monitor_exec_result_clear (struct monitor_exec_result *r);

#endif
