/* Shared between the files of src/image/; not part of the API. */
#ifndef BERTH_IMAGE_INTERNAL_H
#define BERTH_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/image.h"

/* Manifests, indexes and configs are small; a larger one is refused rather
 * than read into memory (a hostile registry could send gigabytes). */
#define BERTH_MANIFEST_MAX (4 * 1024 * 1024)
#define BERTH_CONFIG_MAX (16 * 1024 * 1024)

struct berth_store
{
  char *root;
  int rootfd;   /* O_PATH */
  int blobsfd;  /* blobs/sha256 */
  int ingestfd; /* ingest: temp files, renamed into blobs */
  int snapfd;   /* snapshots/<hex>: unpacked layers */
  int ctrfd;    /* containers/<id>: upper and work dirs */
  int lockfd;   /* lock: shared while adding, exclusive while removing */
  int lock_held;
};

/* --- store.c: the store-wide lock ------------------------------------------ */
/* LOCK_SH to add content or references, LOCK_EX to remove anything.  Nested
 * calls are no-ops once the lock is held at least as strongly. */
int store_lock (struct berth_store *s, int how, berth_err *err);
void store_unlock (struct berth_store *s);

/* --- digest.c ----------------------------------------------------------- */
/* true when `d` is "sha256:" followed by 64 lower-case hex digits. */
bool digest_valid (const char *d);
/* Checks `d` and names `field` in the error. */
int digest_check (const char *d, const char *field, berth_err *err);
/* The hex part of a valid digest. */
static inline const char *
digest_hex (const char *d)
{
  return d + 7;
}
struct sha256; /* a hash in progress */
struct sha256 *sha256_new (void);
void sha256_update (struct sha256 *h, const void *buf, size_t len);
/* Finishes h (and frees it) into "sha256:<hex>". */
void sha256_final (struct sha256 *h, char out[BERTH_DIGEST_LEN]);
/* Frees h unfinished; NULL is a no-op. */
void sha256_free (struct sha256 *h);
void sha256_buf (const void *buf, size_t len, char out[BERTH_DIGEST_LEN]);

/* --- fsutil.c ------------------------------------------------------------- */
/* rm -rf of dirfd/name, never following symlinks; ENOENT is success. */
int rm_rf_at (int dirfd, const char *name, berth_err *err);
/* Write `buf` to dirfd/name by temp file, fsync and rename. */
int write_file_atomic_at (int dirfd, const char *name, const void *buf, size_t len, berth_err *err);
/* mkdir, EEXIST is success. */
int mkdir_at (int dirfd, const char *name, mode_t mode, berth_err *err);
/* `st_blocks`-based size of a tree, for reports. */
uint64_t tree_size_at (int dirfd, const char *name);

/* --- blob.c --------------------------------------------------------------- */
struct blob_writer
{
  struct berth_store *s;
  int fd;
  char tmp[64]; /* name under ingest/ */
  struct sha256 *md;
  uint64_t size;
  char digest[BERTH_DIGEST_LEN]; /* once verified */
};
int blob_writer_open (struct berth_store *s, struct blob_writer *w, berth_err *err);
int blob_writer_write (struct blob_writer *w, const void *buf, size_t len, berth_err *err);
/* Verifies the digest (and size when >= 0) before the blob becomes visible;
 * on a mismatch the error names both digests and the temp file is removed.
 * `expected` may be NULL (the digest is then only computed). */
int blob_writer_commit (struct blob_writer *w, const char *expected, int64_t size, char out[BERTH_DIGEST_LEN],
                        const char *what, berth_err *err);
/* The two halves of blob_writer_commit: the checks, then fsync and the
 * rename that names the blob (a pull does the second in its unpack thread,
 * off the download loop). */
int blob_writer_verify (struct blob_writer *w, const char *expected, int64_t size, char out[BERTH_DIGEST_LEN],
                        const char *what, berth_err *err);
int blob_writer_store (struct blob_writer *w, berth_err *err);
/* All of fd stored as a blob, checked against `expected`/`size` when given
 * (NULL, -1: only computed, into out and *size_out when not NULL). */
int blob_ingest_fd (struct berth_store *s, int fd, const char *expected, int64_t size, char out[BERTH_DIGEST_LEN],
                    int64_t *size_out, const char *what, berth_err *err);
void blob_writer_abort (struct blob_writer *w);

bool blob_exists (struct berth_store *s, const char *digest);
/* Opens a blob for reading (the caller verifies while reading). */
int blob_open (struct berth_store *s, const char *digest, berth_err *err);
/* Reads a whole blob and checks its digest. */
char *blob_read (struct berth_store *s, const char *digest, size_t limit, size_t *len, berth_err *err);
/* Stores a buffer as a blob; out may be NULL. */
int blob_put (struct berth_store *s, const void *buf, size_t len, const char *expected, char out[BERTH_DIGEST_LEN],
              berth_err *err);
int64_t blob_size (struct berth_store *s, const char *digest);

/* --- index.c: names -> manifests ----------------------------------------- */
/* The whole index ({"images": {name: {...}}}); never NULL on success. */
json_t *index_load (struct berth_store *s, berth_err *err);
int index_set (struct berth_store *s, const char *name, const char *digest, const char *media_type, berth_err *err);
int index_remove (struct berth_store *s, const char *name, berth_err *err);

/* --- reference.c ---------------------------------------------------------- */
struct image_reference
{
  char *host; /* "registry.example:5000" */
  char *repo; /* "library/busybox" */
  char *tag;  /* NULL when digest is set and no tag was given */
  char *digest;
};
int reference_parse (const char *s, struct image_reference *r, berth_err *err);
void reference_clear (struct image_reference *r);
/* "host/repo:tag" or "host/repo@digest". */
char *reference_name (const struct image_reference *r);
bool host_is_loopback (const char *host);

/* --- manifest.c ----------------------------------------------------------- */
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

struct descriptor
{
  char *media_type;
  char digest[BERTH_DIGEST_LEN];
  int64_t size;
};
struct manifest
{
  char *media_type;
  struct descriptor config;
  struct descriptor *layers;
  size_t n_layers;
};
bool media_type_is_index (const char *mt);
bool media_type_is_manifest (const char *mt);
/* Parses an image manifest (OCI or Docker schema 2); errors name the field. */
int manifest_parse (const char *buf, size_t len, struct manifest *m, berth_err *err);
void manifest_clear (struct manifest *m);
/* Picks the manifest for os/arch[/variant] from an image index or manifest
 * list. */
int index_select_platform (const char *buf, size_t len, const char *os, const char *arch, const char *variant,
                           struct descriptor *out, berth_err *err);
void descriptor_clear (struct descriptor *d);
/* The media type of a manifest document: its mediaType field, else guessed
 * from its shape (OCI allows leaving it out). */
char *manifest_sniff_media_type (const char *buf, size_t len);
/* Loads and parses a stored manifest. */
int manifest_load (struct berth_store *s, const char *digest, struct manifest *m, berth_err *err);

/* --- snapshot.c, snapshot_unpack.c ----------------------------------------- */
bool snapshot_exists (struct berth_store *s, const char *digest);
/* Unpacks a layer blob into snapshots/<hex> unless it is already there
 * (snapshot_unpack.c: the fetch half only). */
int snapshot_ensure (struct berth_store *s, const char *digest, berth_err *err);

/* --- whiteout.c ----------------------------------------------------------- */
#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
/* dirfd/name becomes an overlayfs whiteout (char device 0/0). */
int whiteout_make_at (int dirfd, const char *name, berth_err *err);
/* The directory `dirfd` (any fd of it, O_PATH included) becomes opaque. */
int whiteout_make_opaque (int dirfd, berth_err *err);

#endif
