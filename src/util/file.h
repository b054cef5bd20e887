/* Whole-file reads: jansson's json_loadfd reads one byte per system call. */
#ifndef BERTH_UTIL_FILE_H
#define BERTH_UTIL_FILE_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* Read all of fd (at most `limit` bytes, else an error naming `what`);
 * NUL-terminated, length in *len. */
char *berth_read_fd (int fd, size_t limit, size_t *len, const char *what, berth_err *err);

/* Parse the JSON document in fd; errors name `what`. */
json_t *berth_json_load_fd (int fd, const char *what, berth_err *err);

/* write() until all of buf is written (retrying EINTR): 0, or -1 with
 * errno.  Async-signal-safe. */
int berth_write_all (int fd, const void *buf, size_t len);

/* read() exactly len bytes (retrying EINTR): 0, or -1 on error or EOF
 * before len.  Async-signal-safe. */
int berth_read_exact (int fd, void *buf, size_t len);

/* The pid in a pid file (as `berth exec --pid-file` writes it); -1 when
 * the file cannot be read. */
pid_t berth_read_pid_file (const char *path);

#endif
