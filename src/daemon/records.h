/* berthd's on-disk records: one JSON file per pod or container, and the
 * name index that keeps two objects from taking one CRI name.
 *
 * A store is a directory (<root>/pods, <root>/containers) of <id>.json
 * files, each written whole to <id>.json.tmp, fsynced, renamed over the old
 * one and the directory fsynced, so after a crash a record is either the old
 * or the new text, never half of one.  Callers write a record before they
 * answer the RPC that changed it.
 *
 * Names are reserved in memory before any work is done (containerd's
 * registrar): the second of two concurrent RunPodSandbox for one
 * (name, namespace, uid, attempt) fails at once with
 *     name "web_default_u1_0" is reserved for "<id>"
 * On start, the daemon reserves the names of the records it loads.
 *
 * Every function is thread-safe for one store.
 */
#ifndef BERTH_DAEMON_RECORDS_H
#define BERTH_DAEMON_RECORDS_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "util/error.h"

#define RECORD_ID_LEN 64 /* hex characters, as containerd's ids */

struct record_name
{
  char *name;
  char id[RECORD_ID_LEN + 1];
};

struct record_store
{
  pthread_mutex_t mu; /* names */
  char *dir;
  const char *what; /* "pod sandbox", for messages */
  struct record_name *names;
  size_t n_names, cap_names;
};

/* Creates `dir` (mode 0700, parents must exist) and drops the temporaries a
 * crash left there. */
int record_store_init (struct record_store *s, const char *dir, const char *what, berth_err *err);
void record_store_clear (struct record_store *s);

/* 64 random hex characters from getrandom(). */
int record_new_id (char id[RECORD_ID_LEN + 1], berth_err *err);

/* A plausible id or id prefix: hex only, 1 to 64 characters. */
int record_id_valid (const char *id);

/* Reserves `name` for `id`: -1 with errno-like EEXIST in (*err)->errnum when
 * another id holds it (the same id again is fine). */
int record_reserve_name (struct record_store *s, const char *name, const char *id, berth_err *err);
/* Releases `name` if `id` holds it. */
void record_release_name (struct record_store *s, const char *name, const char *id);

/* Writes <dir>/<id>.json atomically and durably. */
int record_write (struct record_store *s, const char *id, json_t *doc, berth_err *err);
/* Removes <dir>/<id>.json; a missing one is fine. */
int record_remove (struct record_store *s, const char *id, berth_err *err);

/* Calls fn for each record (order of readdir).  A file that does not parse
 * is logged and skipped, not removed: it may hold what a person needs. */
typedef void (*record_load_fn) (void *user, const char *id, json_t *doc);
int record_load_all (struct record_store *s, record_load_fn fn, void *user, berth_err *err);

#endif
