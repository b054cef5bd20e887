/* One container's life on Linux: the API the front ends (berth, berthd) call.
 *
 * A container lives in <state_root>/<id>/:
 *     state.json   written by rename, never seen torn
 *     exec.fifo    present while the container is "created": the init blocks
 *                  opening it for writing until `start` opens it for reading
 *     lock         flock()ed by every command that changes the container
 *
 * All functions return >= 0 on success and -1 with *err set on failure.
 * No function exits or prints: messages go to the caller through *err.
 */
#ifndef BERTH_RUNTIME_CONTAINER_H
#define BERTH_RUNTIME_CONTAINER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

/* Process-wide settings from the global flags. */
struct berth_context
{
  const char *state_root; /* --root, default /run/berth */
  bool systemd_cgroup;    /* --systemd-cgroup */
  bool debug;             /* --debug */
};

enum berth_status
{
  BERTH_STATUS_CREATING = 0,
  BERTH_STATUS_CREATED,
  BERTH_STATUS_RUNNING,
  BERTH_STATUS_PAUSED,
  BERTH_STATUS_STOPPED,
};
const char *berth_status_name (enum berth_status status); /* "created" ... */

struct berth_create_options
{
  const char *id;
  const char *bundle;         /* default: cwd */
  const char *config_path;    /* default: <bundle>/config.json */
  const char *console_socket; /* NULL: none */
  const char *pid_file;       /* NULL: none; written last (engines watch for it) */
  bool no_pivot;
  bool no_new_keyring;
  int preserve_fds; /* extra fds after 0,1,2 passed to the container */
};

/* Information about one container, for `state` and `list`. */
struct berth_container_info
{
  char *id;
  pid_t pid; /* 0 when stopped */
  enum berth_status status;
  char *bundle;
  char *rootfs;
  char *created;       /* RFC 3339 with nanoseconds, UTC */
  char *owner;         /* user name of the creator ("" when unknown) */
  json_t *annotations; /* object (maybe empty), owned */
};

void berth_container_info_free (struct berth_container_info *info);
void berth_container_info_list_free (struct berth_container_info *list, size_t n);

/* Validate an id: non-empty, [A-Za-z0-9_+.-] only, not "." or "..", <= 1024 bytes. */
int berth_validate_id (const char *id, berth_err *err);

/* create: the init waits for start.  On failure nothing is left behind. */
int berth_container_create (const struct berth_context *ctx, const struct berth_create_options *opts, berth_err *err);

/* start: let a created container's init exec the user process. */
int berth_container_start (const struct berth_context *ctx, const char *id, berth_err *err);

/* run: create + start.  When detach is false, wait for the init, forwarding
 * signals to it, delete the container, and store its exit status (0-255,
 * 128+signal) in *exit_status. */
int berth_container_run (const struct berth_context *ctx, const struct berth_create_options *opts, bool detach,
                         int *exit_status, berth_err *err);

int berth_container_state (const struct berth_context *ctx, const char *id, struct berth_container_info **out,
                           berth_err *err);

/* The spec's state JSON (ociVersion, id, status, pid, bundle, annotations)
 * plus runc's extra fields (rootfs, created, owner). */
json_t *berth_container_info_to_json (const struct berth_container_info *info);

/* All containers under ctx->state_root, sorted by id. */
int berth_container_list (const struct berth_context *ctx, struct berth_container_info **out, size_t *n,
                          berth_err *err);

/* kill: send sig to the init (all=false) or every process of the container. */
int berth_container_kill (const struct berth_context *ctx, const char *id, int sig, bool all, berth_err *err);

/* delete: a stopped container (or any, with force: killed first). */
int berth_container_delete (const struct berth_context *ctx, const char *id, bool force, berth_err *err);

/* pause/resume: freeze or thaw every process of the container. */
int berth_container_pause (const struct berth_context *ctx, const char *id, berth_err *err);
int berth_container_resume (const struct berth_context *ctx, const char *id, berth_err *err);

/* ps: pids of every process in the container's cgroup. */
int berth_container_pids (const struct berth_context *ctx, const char *id, pid_t **pids, size_t *n, berth_err *err);

struct berth_exec_options
{
  struct berth_process *process; /* the process to start, already parsed (args, env, cwd, user, caps ...) */
  const char *console_socket;
  const char *pid_file;
  bool detach;
  int preserve_fds;
};

/* exec: start another process in a running container.  When detach is false,
 * wait for it (forwarding signals) and store its status in *exit_status. */
int berth_container_exec (const struct berth_context *ctx, const char *id, const struct berth_exec_options *opts,
                          int *exit_status, berth_err *err);

/* The process of a created/running container's config (base for `exec`
 * without --process: env, cwd, user, capabilities ... are inherited as runc
 * does).  Returns a new process the caller frees. */
struct berth_process *berth_container_load_process (const struct berth_context *ctx, const char *id, berth_err *err);

/* ---- update, stats and events, features (update.c, events.c, features.c) ---- */

struct berth_update_options
{
  json_t *resources;           /* a linux.resources object with the changes (borrowed); NULL: none */
  const char *l3_cache_schema; /* Intel RDT; NULL or "": unchanged */
  const char *mem_bw_schema;
};

/* update: merge the changes into the container's resources as runc does
 * (see update.c for which members merge), apply the result to its cgroup
 * (device rules untouched) and keep it in the state dir, so that the next
 * update merges with it.  Fails with "container not running" once stopped. */
int berth_container_update (const struct berth_context *ctx, const char *id, const struct berth_update_options *opts,
                            berth_err *err);

/* The merge alone: a new object from current (may be NULL) and changes. */
json_t *berth_resources_merge (json_t *current, json_t *changes);

/* The `data` of runc's stats event for the container (not stopped). */
json_t *berth_container_stats (const struct berth_context *ctx, const char *id, berth_err *err);

/* Called with each event ({"type":"stats"|"oom","id":...,"data":...});
 * returns 0 to go on, anything else to stop the loop (returned as is, with
 * *err set when negative). */
typedef int (*berth_event_fn) (json_t *event, void *data, berth_err *err);

/* events: with stats_only one stats event; otherwise a stats event every
 * interval_ms and an oom event whenever the memory cgroup reports one, until
 * the container stops (returns 0).  A container already stopped is an error
 * ("container with id X is not running"). */
int berth_container_events (const struct berth_context *ctx, const char *id, bool stats_only,
                            unsigned long long interval_ms, berth_event_fn fn, void *data, berth_err *err);

/* An event as the one line runc prints (Go's json.Encoder, compact, no
 * newline): uint64 counters above INT64_MAX come out as integers. */
char *berth_event_dumps (json_t *event);

/* features: features.json for this host and this build (runtime-spec
 * features.md, as `runc features` prints it). */
json_t *berth_features_json (void);

#endif
