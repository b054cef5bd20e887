/* berthd: the CRI server.  Shared between the files of src/daemon/.
 *
 *   main.c            flags, signals, start and stop
 *   config.c          the JSON config file (docs/berthd.md)
 *   grpc_server.c     transport: gRPC C core on a unix socket, worker pool
 *   dispatch.c        method path -> handler, protobuf-c unpack/pack
 *   version_status.c  RuntimeService Version and Status
 *   image_service.c   ImageService on the image store (image_view.c: CRI's
 *                     view of stored images; image_pull.c: PullImage)
 *   pull_helper.c     runs berthd-pull (pull_main.c), which pulls and unpacks
 *                     images out of berthd's address space
 *   gc.c              store GC in the background after RemoveImage
 *   records.c         on-disk records of pods and containers, name index
 *   pod_*.c           pod sandboxes (pods.h: what the container half uses)
 *   container_*.c     containers (containers.h): create, the other RPCs, store
 *   stream_*.c, spdy.c  Exec, Attach, PortForward and their streaming server (stream.h)
 */
#ifndef BERTH_DAEMON_DAEMON_H
#define BERTH_DAEMON_DAEMON_H

#include <grpc/status.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdbool.h>

#include "util/error.h"

#define BERTHD_DEFAULT_ADDRESS "/run/berth/berthd.sock"
#define BERTHD_DEFAULT_ROOT "/var/lib/berth"
#define BERTHD_DEFAULT_STATE "/run/berth"
#define BERTHD_DEFAULT_CONFIG "/etc/berth/berthd.json"

/* --- config.c ------------------------------------------------------------ */

struct registry_override
{
  char *host;    /* as written in image names: "registry.example" */
  bool insecure; /* plain HTTP */
  char *mirror;  /* "http://127.0.0.1:5000": pulls for host go there; or NULL */
};

struct daemon_config
{
  char *cni_conf_dir;    /* default /etc/cni/net.d */
  char *cni_bin_dir;     /* default /usr/lib/cni */
  char *sandbox_image;   /* pause image, or NULL: none is used */
  char *default_runtime; /* runtime handler used for "" */
  char *cgroup_driver;   /* "cgroupfs" */
  bool restrict_oom_score_adj;
  char *pull_helper; /* the pull helper's path, or NULL: berthd-pull next to berthd */
  struct registry_override *registries;
  size_t n_registries;
  char *stream_server_address; /* the streaming server's HOST:PORT (stream.h); default 127.0.0.1:0 */
};

/* Loads `path`; a missing file gives the defaults only when `must_exist` is
 * false.  Errors name the file and the key ("registries.X.mirror: ..."). */
int daemon_config_load (const char *path, bool must_exist, struct daemon_config *c, berth_err *err);
void daemon_config_clear (struct daemon_config *c);
const struct registry_override *daemon_config_registry (const struct daemon_config *c, const char *host);

/* --- the daemon ----------------------------------------------------------- */

struct daemon
{
  char *address; /* socket path */
  char *root;    /* image store and records */
  char *state;   /* runtime state: sockets, pinned namespaces */
  struct daemon_config config;
  char *registries_conf; /* <state>/registries.json: insecure hosts for src/image */
  char *pull_helper;     /* the pull helper's absolute path (pull_helper.c) */

  /* RemoveImage drops the name at once; content goes in a background GC
     (CRI allows it), so a remove never waits for a pull's store lock. */
  pthread_mutex_t gc_mu;
  pthread_cond_t gc_cond;
  bool gc_wanted, gc_stop;
  pthread_t gc_thread;
  bool gc_started;

  struct pod_table *pods; /* pod_store.c */
  struct ctr_table *ctrs; /* container_store.c (containers.h) */

  struct stream_server *streams; /* Exec/Attach/PortForward (stream.h) */
};

int daemon_gc_start (struct daemon *d, berth_err *err);
void daemon_gc_request (struct daemon *d);
void daemon_gc_stop (struct daemon *d);

/* --- pull_helper.c -------------------------------------------------------- */

/* Sets d->pull_helper from the config, else berthd-pull in the directory of
 * berthd's own executable, and checks that it is an executable file. */
int pull_helper_find (struct daemon *d, berth_err *err);

struct pull_helper_request
{
  const char *image;                                /* "host/repo:tag" or "host/repo@digest" */
  const char *mirror;                               /* "http[s]://host[:port]", or NULL */
  const char *username, *password, *registry_token; /* or NULL; sent on the helper's stdin */
  bool unpack_only;                                 /* unpack a stored image's layers, no registry */
};

struct pull_helper_result
{
  char *name, *digest, *id; /* stored name, manifest digest, image id (config digest) */
};
void pull_helper_result_clear (struct pull_helper_result *r);

#define PULL_HELPER_FAILED (-2)
/* Runs the helper for one pull (or unpack) and waits for it.  0: done, *out
 * filled.  -1: the pull failed, err holds the helper's message (the
 * registry's or the store's words, as berth_pull gives them).
 * PULL_HELPER_FAILED: the helper itself failed (could not start, died,
 * answered garbage); err names its path. */
int pull_helper_run (struct daemon *d, const struct pull_helper_request *rq, struct pull_helper_result *out,
                     berth_err *err);

/* --- rpc status and handlers ---------------------------------------------- */

struct rpc_status
{
  grpc_status_code code;
  char *message; /* malloc'd, or NULL */
};

/* Fill st and return -1. */
int rpc_fail (struct rpc_status *st, grpc_status_code code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* Move a berth_err into st with `code`; returns -1. */
int rpc_fail_err (struct rpc_status *st, grpc_status_code code, berth_err *err);

/* A handler gets the unpacked request and returns 0 with *resp set (a
 * malloc'd message whose fields are all malloc'd or default: it is freed
 * with protobuf_c_message_free_unpacked), or -1 with st filled. */
typedef int (*rpc_handler_fn) (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp,
                               struct rpc_status *st);

struct rpc_handler
{
  const char *method; /* "Version": a method of the table's service */
  rpc_handler_fn fn;
};

/* Each service file exports its table, ended by { NULL, NULL }. */
extern const struct rpc_handler version_status_handlers[]; /* RuntimeService */
extern const struct rpc_handler image_service_handlers[];  /* ImageService */
extern const struct rpc_handler image_pull_handlers[];     /* ImageService */
extern const struct rpc_handler pod_run_handlers[];        /* RuntimeService: RunPodSandbox */
extern const struct rpc_handler pod_service_handlers[];    /* RuntimeService: Stop/Remove/Status/List */
extern const struct rpc_handler container_create_handlers[];  /* RuntimeService: CreateContainer */
extern const struct rpc_handler container_service_handlers[]; /* RuntimeService: the other container RPCs */

extern const struct rpc_handler stream_service_handlers[]; /* RuntimeService: Exec, Attach, PortForward */

/* --- dispatch.c ----------------------------------------------------------- */

/* Runs the method at `path` ("/runtime.v1.RuntimeService/Version") on the
 * serialized request.  On success *out and *out_len hold the serialized
 * response (malloc'd) and st->code is GRPC_STATUS_OK. */
void dispatch_call (struct daemon *d, const char *path, const uint8_t *req, size_t req_len, uint8_t **out,
                    size_t *out_len, struct rpc_status *st);
/* Checks that every handler names a method of its service (start-up). */
int dispatch_check (berth_err *err);

/* --- grpc_server.c -------------------------------------------------------- */

struct rpc_server;
/* Listens on d->address (mode 0660; a stale socket is replaced, a live one
 * is an error) and starts serving. */
int rpc_server_start (struct daemon *d, struct rpc_server **out, berth_err *err);
/* Stops accepting, lets running calls finish for up to `grace_s` seconds,
 * cancels the rest, removes the socket.  Returns -1 when a handler still
 * runs after that (the server is then left as is, for exit to end). */
int rpc_server_stop (struct rpc_server *srv, int grace_s);

/* --- helpers for handlers -------------------------------------------------- */
char *xstrdup (const char *s);
/* A copy of `s` for a message field: "" stays the shared default. */
char *pb_str (const char *s);
/* A map<string, string> field (labels, annotations) from a JSON object of
 * strings: `init` is the entry type's init function, which sets its
 * descriptor. */
void pb_fill_map (json_t *src, size_t *n, void ***entries, size_t entry_size, void (*init) (void *));
#define FILL_MAP(json, n, arr, type, init_fn)                                                                          \
  pb_fill_map ((json), &(n), (void ***)&(arr), sizeof (type), (void (*) (void *)) (init_fn))

#endif
