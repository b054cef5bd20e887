/* libberth images: the API berthctl and berthd call.
 *
 * A store is a directory (default /var/lib/berth) shared by every process
 * that opens it; its layout and locking are described in store.c and in
 * docs/images.md.  Like the rest of libberth nothing here prints or exits:
 * fallible calls return -1 (or NULL) and fill a berth_err.
 *
 * Two libraries (src/image/meson.build): the store half (names, blobs,
 * inspect, GC, mount) needs libcrypto only; the fetch half (pull, import,
 * export, unpack) adds libcurl and libarchive.  berthd links the store half
 * and leaves fetching to its pull helper (docs/berthd.md).
 */
#ifndef BERTH_IMAGE_IMAGE_H
#define BERTH_IMAGE_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

#define BERTH_IMAGE_DEFAULT_ROOT "/var/lib/berth"

/* "sha256:" + 64 hex + NUL */
#define BERTH_DIGEST_LEN 72

struct berth_store;

int berth_store_open (const char *root, struct berth_store **out, berth_err *err);
void berth_store_close (struct berth_store *s);
const char *berth_store_root (const struct berth_store *s);

/* --- images by name -------------------------------------------------------*/

struct berth_image_ref
{
  char *name;                    /* "host/repo:tag" as stored in the index */
  char digest[BERTH_DIGEST_LEN]; /* the (platform) manifest */
  char *media_type;              /* of that manifest */
};
void berth_image_ref_clear (struct berth_image_ref *r);

/* Finds an image by name ("host/repo:tag", ":latest" may be left out), by
 * manifest digest, or by a unique prefix (at least 4 hex digits) of its
 * manifest or config digest.  Error "no such image: X" otherwise. */
int berth_image_lookup (struct berth_store *s, const char *what, struct berth_image_ref *out, berth_err *err);

/* Summaries of every named image, a JSON array of objects with name, digest,
 * id (config digest), created, size (sum of the layer blobs), layers. */
json_t *berth_image_list (struct berth_store *s, berth_err *err);

/* Everything about one image as a JSON object: name, digest, id, os,
 * architecture, created, layers, size, and config (Env, Entrypoint, Cmd,
 * WorkingDir, User, Volumes, StopSignal, Labels, ExposedPorts). */
json_t *berth_image_inspect (struct berth_store *s, const char *what, berth_err *err);

/* The part of an image config a container is created from. */
struct berth_image_config
{
  char *os, *architecture, *created;
  char **env, **entrypoint, **cmd, **volumes, **exposed_ports; /* NULL-terminated, or NULL */
  char *working_dir, *user, *stop_signal;
  json_t *labels; /* object of strings, or NULL */
  char **diff_ids;
};
int berth_image_config_parse (const char *buf, size_t len, struct berth_image_config *c, berth_err *err);
void berth_image_config_clear (struct berth_image_config *c);
json_t *berth_image_config_to_json (const struct berth_image_config *c);

/* Removes the name; content goes at the next GC, which rmi runs itself. */
int berth_image_remove (struct berth_store *s, const char *what, berth_err *err);

/* --- garbage collection -------------------------------------------------- */

struct berth_gc_stats
{
  unsigned blobs, snapshots, temp; /* removed */
  uint64_t bytes;
};
/* Removes every blob, snapshot and temporary file that no named image and
 * no mounted container needs.  Takes the store's exclusive lock. */
int berth_gc (struct berth_store *s, struct berth_gc_stats *stats, berth_err *err);

/* --- pull ---------------------------------------------------------------- */

enum berth_progress_state
{
  BERTH_PROGRESS_WAITING,
  BERTH_PROGRESS_DOWNLOADING,
  BERTH_PROGRESS_EXISTS,
  BERTH_PROGRESS_UNPACKING,
  BERTH_PROGRESS_DONE,
};
struct berth_progress
{
  const char *digest;
  int64_t done, total;
  enum berth_progress_state state;
};
typedef void (*berth_progress_fn) (void *user, const struct berth_progress *layers, size_t n);

struct berth_pull_opts
{
  const char *os, *arch, *variant; /* platform in an index; NULL: linux/amd64 */
  const char *auth_file;           /* docker-style config.json; NULL: none */
  const char *registries_conf;     /* {"insecure-registries": [...]}; NULL: none */
  const char *ca_file;             /* extra CA bundle for HTTPS; NULL: system's */
  bool no_unpack;                  /* only fetch blobs */
  berth_progress_fn progress;      /* called about 10 times a second; may be NULL */
  void *progress_user;
  /* For callers that hold credentials in memory (berthd, from a CRI
     request): used instead of auth_file.  NULL: none. */
  const char *username, *password;
  const char *registry_token; /* a bearer token sent from the first request */
  /* "http[s]://host[:port]": the registry contacted instead of the one the
     reference names (a mirror); the image keeps the reference's name.
     NULL: the reference's host. */
  const char *endpoint;
};
/* Pulls `ref` ("host[:port]/repo[:tag|@digest]") into the store and names it;
 * fills out (may be NULL). */
int berth_pull (struct berth_store *s, const char *ref, const struct berth_pull_opts *o, struct berth_image_ref *out,
                berth_err *err);

/* --- import / export ----------------------------------------------------- */

/* Imports an OCI layout directory, an OCI layout tarball or a docker-archive
 * tarball (`docker save`).  `name` (may be NULL) names the image when the
 * source names none, or renames a single image.  Names of what was imported
 * are appended to *names (a JSON array, created when NULL). */
int berth_import (struct berth_store *s, const char *path, const char *name, json_t **names, berth_err *err);

enum berth_export_format
{
  BERTH_EXPORT_OCI_DIR,
  BERTH_EXPORT_OCI_TAR,
  BERTH_EXPORT_DOCKER_TAR,
};
int berth_export (struct berth_store *s, const char *what, const char *path, enum berth_export_format fmt,
                  berth_err *err);

/* --- snapshots and container root filesystems ----------------------------- */

/* Makes sure every layer of the image is unpacked (under the store's shared
 * lock).  Part of the fetch half (with libarchive): berthd links only the
 * store half and unpacks through its pull helper. */
int berth_image_unpack (struct berth_store *s, const struct berth_image_ref *img, berth_err *err);
/* 1 when every layer of the image has its snapshot, 0 when one is missing
 * (berth_image_unpack makes it), -1 on error (no such image, ...). */
int berth_image_unpacked (struct berth_store *s, const char *what, berth_err *err);

/* Mounts an overlay of the image's layers with a fresh upper/work pair under
 * the store (containers/<id>) on `target`.  `id` may be NULL (derived from
 * the target's path).  Every layer must be unpacked already (error "image X:
 * layer D is not unpacked", errno ENOENT, otherwise). */
int berth_image_mount (struct berth_store *s, const char *what, const char *target, const char *id, berth_err *err);
/* Unmounts it and removes its upper/work dirs unless `keep`. */
int berth_image_unmount (struct berth_store *s, const char *target, bool keep, berth_err *err);

/* Unpacks one layer blob (tar, tar+gzip, tar+zstd) read from `fd` into the
 * directory `dirfd` (which should be empty), turning whiteouts into overlayfs
 * ones.  When `digest` is not NULL the bytes read must hash to it.  `what`
 * names the layer in errors. */
int berth_unpack_layer (int fd, int dirfd, const char *digest, const char *what, berth_err *err);

#endif
