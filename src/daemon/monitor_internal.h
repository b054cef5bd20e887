/* Internal to the monitor: the CRI log writer, the exit record, and the
 * monitor process' body (monitor.h has the protocol). */
#ifndef BERTH_DAEMON_MONITOR_INTERNAL_H
#define BERTH_DAEMON_MONITOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "daemon/monitor.h"

/* ---- cri_log.c: the kubelet's log format ----
 *
 *   2024-05-06T07:08:09.123456789Z stdout F a whole line
 *   2024-05-06T07:08:09.123456789Z stderr P the first max_line bytes of a longer one
 *
 * As containerd writes it: a line longer than max_line goes out in P pieces
 * of max_line bytes and ends with an F piece; text left without a newline
 * when the stream ends is a P line; "\r\n" ends a line like "\n".  Each
 * line is one write(2) on an O_APPEND fd, so stdout and stderr lines never
 * interleave within a line. */

struct cri_log
{
  int fd; /* -1: no log (output dropped) or the last reopen failed */
  char *path;
  size_t max_line;
};

struct cri_log_stream
{
  const char *name; /* "stdout" or "stderr" */
  char *buf;        /* max_line bytes: the line so far */
  size_t len;
};

/* Opens path (O_APPEND, created 0640); *created tells whether it was made
 * now (so a failed create can remove it).  path NULL: no log. */
int cri_log_open (struct cri_log *l, const char *path, size_t max_line, bool *created, berth_err *err);
/* Close and open the same path again (logrotate moved the old file). */
int cri_log_reopen (struct cri_log *l, berth_err *err);
void cri_log_close (struct cri_log *l);

int cri_log_stream_init (struct cri_log_stream *s, const char *name, size_t max_line);
void cri_log_stream_free (struct cri_log_stream *s);

/* Feed what the stream produced; complete lines (and P pieces) are written. */
void cri_log_feed (struct cri_log *l, struct cri_log_stream *s, const char *data, size_t n);
/* The stream ended: what is left goes out as a P line. */
void cri_log_finish (struct cri_log *l, struct cri_log_stream *s);

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (always 9 digits, UTC) into buf (>= 32
 * bytes); returns its length. */
size_t cri_log_format_time (char *buf, size_t size, const struct timespec *ts);

/* ---- exit_record.c ---- */

/* The exit file, written as <path>.tmp then renamed over path. */
int monitor_exit_write (const char *path, const char *id, const struct monitor_exit *e, berth_err *err);

/* ---- monitor_proc.c: the monitor process ---- */

/* The report M sends back on the pipe, then msg_len bytes of error text. */
struct monitor_report
{
  int32_t ok; /* 1: created; 0: failed (the text says why) */
  int32_t monitor_pid;
  int32_t init_pid;
  uint32_t msg_len;
  uint64_t start_time;
};

/* M's body: never returns. */
__attribute__ ((noreturn)) void monitor_process_main (const struct monitor_opts *o, int report_fd);

/* In a child forked from berthd: close every fd above 2 but `keep`, which
 * is moved to 3 (returned); with null_stdio fds 0-2 become /dev/null first.
 * berthd's sockets and store files must not outlive the fork.  libberth's
 * log goes to /dev/null (berthd's log fd is among those closed). */
int monitor_isolate_fds (int keep, bool null_stdio);
/* Default dispositions and an empty mask: berthd blocks every signal in its
 * threads and a container inherits the mask across exec. */
void monitor_reset_signals (void);

/* ---- monitor_attach.c: the attach socket (monitor.h) ---- */

#include <poll.h>

struct mon_attach_client
{
  int fd;
  uint8_t *buf; /* queued frames */
  size_t len, cap;
  uint8_t in[5]; /* a resize message being read */
  size_t in_len;
};

struct mon_attach
{
  int listen_fd; /* -1: no attach socket */
  int dirfd;
  char name[256];
  bool made;
  int master; /* tty: the pty master, for resizes; else -1 */
  struct mon_attach_client c[MONITOR_ATTACH_MAX_CLIENTS];
  size_t n;
};

/* path NULL: no socket (every call below then does nothing). */
int mon_attach_open (struct mon_attach *a, const char *path, berth_err *err);
/* Adds the fds to poll (at most max); returns how many. */
int mon_attach_fds (struct mon_attach *a, struct pollfd *p, int max);
/* p, n: what mon_attach_fds added, after poll. */
void mon_attach_events (struct mon_attach *a, const struct pollfd *p, int n);
/* Output of stream 1 (stdout) or 2 (stderr) to every client. */
void mon_attach_send (struct mon_attach *a, int stream, const void *data, size_t len);
/* Flushes briefly, closes every client (their EOF) and removes the socket. */
void mon_attach_close (struct mon_attach *a);

#endif
