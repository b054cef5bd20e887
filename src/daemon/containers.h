/* Containers inside berthd: the table, the record form, the state derived
 * from the monitor.  Shared by container_*.c only; the handler tables are
 * declared in daemon.h.
 *
 * Where a container lives:
 *   <root>/container-records/<id>.json   its record (records.h); not
 *                                        <root>/containers, which is the
 *                                        image store's (GC sweeps it)
 *   <state>/containers/<id>/             the bundle: config.json, rootfs/
 *                                        (the overlay), exit.json (the
 *                                        monitor's), stdin fifo, volumes/
 *   <state>/runtime/<id>/                libberth's state dir (--root)
 *   <root>/containers/<id>/              overlay upper/work (image store)
 *
 * State is never stored as such: it is derived from the record (started or
 * not), the exit file and whether the monitor (pid + start time) still
 * runs, so a berthd SIGKILLed at any point reads the truth on restart.  The
 * one thing stored is an exit berthd had to make up (monitor gone without
 * an exit file: 255 "Unknown").
 *
 * Locks: the table lock guards the list; each container's `mu` serializes
 * Start/Stop/Remove/Update of it.  Order: pod, table, container — but the
 * table lock is never held while taking a container lock for long work.
 */
#ifndef BERTH_DAEMON_CONTAINERS_H
#define BERTH_DAEMON_CONTAINERS_H

#include <stdbool.h>
#include <stdint.h>

#include "cri.pb-c.h"
#include "cri/cri.h"
#include "daemon/daemon.h"
#include "daemon/monitor.h"
#include "daemon/records.h"

struct ctr
{
  pthread_mutex_t mu;
  unsigned refs; /* under the table lock */
  bool removed;  /* under mu */

  char id[RECORD_ID_LEN + 1];
  char pod_id[RECORD_ID_LEN + 1];
  char *name; /* the reservation key (cri_container_name) */
  char *meta_name;
  uint32_t meta_attempt;
  char *image;      /* as asked (config.image.image) */
  char *image_name; /* the stored name it resolved to */
  char *image_id;   /* config digest */
  char *log_path;   /* "" when none */
  char *dir;        /* <state>/containers/<id> */
  int stop_signal;
  json_t *labels, *annotations;   /* objects of strings */
  json_t *mounts;                 /* [{container_path, host_path, readonly, propagation, selinux_relabel}] */
  int64_t created_at, started_at; /* ns; started_at 0 until StartContainer */
  struct monitor_info mon;
  /* An exit berthd recorded itself (monitor died without its file). */
  bool exit_made_up;
  int made_exit_code;
  int64_t made_finished_at;
};

struct ctr_table
{
  pthread_mutex_t mu;
  struct ctr **v;
  size_t n, cap;
  struct record_store records;
  char *ctr_state;    /* <state>/containers */
  char *runtime_root; /* <state>/runtime: libberth's --root */
  bool ready;
};

/* What the monitor and the record say now. */
struct ctr_status
{
  Runtime__V1__ContainerState state;
  int exit_code;
  int64_t finished_at;
  char *reason; /* malloc'd or NULL */
  bool oom_killed;
};

/* container_store.c */
struct ctr_table *ctrs (struct daemon *d); /* loads the records once (recovery) */
void ctrs_shutdown (struct daemon *d);     /* at exit, after the server stopped */
struct ctr *ctr_new (void);
void ctr_free (struct ctr *c);
json_t *ctr_to_json (const struct ctr *c);
int ctr_save (struct daemon *d, struct ctr *c, berth_err *err);
void ctr_table_add (struct daemon *d, struct ctr *c);
void ctr_table_del (struct daemon *d, struct ctr *c);
/* A reference to the container `id` (full or unique prefix), or NULL with
 * errnum ENOENT (none) or EINVAL (ambiguous, malformed). */
struct ctr *ctr_get (struct daemon *d, const char *id, berth_err *err);
void ctr_put (struct daemon *d, struct ctr *c);
/* References to every container (of pod_id when not NULL). */
struct ctr **ctr_all (struct daemon *d, const char *pod_id, size_t *n);
char *ctr_exit_path (const struct ctr *c);
void ctr_status (struct daemon *d, struct ctr *c, struct ctr_status *out);
/* Under c->mu: the made-up exit when the monitor is gone without a file. */
void ctr_settle (struct daemon *d, struct ctr *c);
int64_t ctr_now_ns (void);
int64_t ctr_parse_time (const char *rfc3339);
/* Removes a directory tree without crossing into mounts (best effort). */
int ctr_rm_tree (const char *path, berth_err *err);

/* container_service.c: stop (kill, wait) and remove, under c->mu. */
int ctr_stop_locked (struct daemon *d, struct ctr *c, int64_t timeout_s, berth_err *err);
int ctr_remove_locked (struct daemon *d, struct ctr *c, berth_err *err);

/* container_devices.c: host device nodes for cri_container_ctx.list_devices
 * (config devices, privileged containers). */
struct ctr_devices
{
  struct cri_host_device *v; /* what the last call returned */
  size_t n, cap;
};
/* A cri_list_devices_fn; user is a struct ctr_devices, cleared by the
 * caller with ctr_devices_clear once the spec is built. */
int ctr_list_devices (void *user, const char *host_path, const struct cri_host_device **out, size_t *n_out,
                      berth_err *err);
void ctr_devices_clear (struct ctr_devices *l);

#endif
