/* Blobs: content named by its sha256, checked before it gets the name and
 * again whenever it is read. */
#include "image/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

int
blob_writer_open (struct berth_store *s, struct blob_writer *w, berth_err *err)
{
  static const char hexd[] = "0123456789abcdef";
  unsigned char rnd[8];
  int fd = -1;

  memset (w, 0, sizeof (*w));
  w->fd = -1;
  for (int tries = 0; tries < 100 && fd < 0; tries++)
    {
      if (getentropy (rnd, sizeof (rnd)) < 0)
        return berth_fail (err, errno, "getentropy");
      strcpy (w->tmp, "tmp-");
      for (size_t i = 0; i < sizeof (rnd); i++)
        {
          w->tmp[4 + 2 * i] = hexd[rnd[i] >> 4];
          w->tmp[5 + 2 * i] = hexd[rnd[i] & 15];
        }
      w->tmp[4 + 2 * sizeof (rnd)] = '\0';
      fd = openat (s->ingestfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (fd < 0 && errno != EEXIST)
        return berth_fail (err, errno, "store %s: create `ingest/%s`", s->root, w->tmp);
    }
  if (fd < 0)
    return berth_fail (err, EEXIST, "store %s: create a temp file in ingest/", s->root);
  w->s = s;
  w->fd = fd;
  w->md = sha256_new ();
  return 0;
}

int
blob_writer_write (struct blob_writer *w, const void *buf, size_t len, berth_err *err)
{
  if (berth_write_all (w->fd, buf, len) < 0)
    return berth_fail (err, errno, "write `%s/ingest/%s`", w->s->root, w->tmp);
  sha256_update (w->md, buf, len);
  w->size += len;
  return 0;
}

void
blob_writer_abort (struct blob_writer *w)
{
  if (w->fd >= 0)
    {
      close (w->fd);
      unlinkat (w->s->ingestfd, w->tmp, 0);
    }
  w->fd = -1;
  sha256_free (w->md);
  w->md = NULL;
}

int
blob_writer_verify (struct blob_writer *w, const char *expected, int64_t size, char out[BERTH_DIGEST_LEN],
                    const char *what, berth_err *err)
{
  sha256_final (w->md, w->digest);
  w->md = NULL;
  if (size >= 0 && (uint64_t)size != w->size)
    {
      blob_writer_abort (w);
      return berth_fail (err, 0, "%s: size mismatch: expected %lld bytes, got %llu", what, (long long)size,
                         (unsigned long long)w->size);
    }
  if (expected != NULL && strcmp (expected, w->digest) != 0)
    {
      blob_writer_abort (w);
      return berth_fail (err, 0, "%s: digest mismatch: expected %s, got %s", what, expected, w->digest);
    }
  if (out)
    memcpy (out, w->digest, BERTH_DIGEST_LEN);
  return 0;
}

int
blob_writer_store (struct blob_writer *w, berth_err *err)
{
  struct berth_store *s = w->s;

  if (fsync (w->fd) < 0)
    {
      int e = errno;
      blob_writer_abort (w);
      return berth_fail (err, e, "fsync `%s/ingest/%s`", s->root, w->tmp);
    }
  close (w->fd);
  w->fd = -1;
  if (renameat (s->ingestfd, w->tmp, s->blobsfd, digest_hex (w->digest)) < 0)
    {
      int e = errno;
      unlinkat (s->ingestfd, w->tmp, 0);
      return berth_fail (err, e, "store %s: rename `ingest/%s` to blobs", s->root, w->tmp);
    }
  return 0;
}

int
blob_writer_commit (struct blob_writer *w, const char *expected, int64_t size, char out[BERTH_DIGEST_LEN],
                    const char *what, berth_err *err)
{
  if (blob_writer_verify (w, expected, size, out, what, err) < 0)
    return -1;
  return blob_writer_store (w, err);
}

int
blob_ingest_fd (struct berth_store *s, int fd, const char *expected, int64_t size, char out[BERTH_DIGEST_LEN],
                int64_t *size_out, const char *what, berth_err *err)
{
  struct blob_writer w;
  char buf[1 << 16];
  ssize_t n;

  if (blob_writer_open (s, &w, err) < 0)
    return -1;
  while ((n = read (fd, buf, sizeof (buf))) > 0)
    if (blob_writer_write (&w, buf, (size_t)n, err) < 0)
      {
        blob_writer_abort (&w);
        return -1;
      }
  if (n < 0)
    {
      blob_writer_abort (&w);
      return berth_fail (err, errno, "%s: read", what);
    }
  if (size_out)
    *size_out = (int64_t)w.size;
  return blob_writer_commit (&w, expected, size, out, what, err);
}

bool
blob_exists (struct berth_store *s, const char *digest)
{
  return digest_valid (digest) && faccessat (s->blobsfd, digest_hex (digest), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int64_t
blob_size (struct berth_store *s, const char *digest)
{
  struct stat st;

  if (!digest_valid (digest) || fstatat (s->blobsfd, digest_hex (digest), &st, AT_SYMLINK_NOFOLLOW) < 0)
    return -1;
  return st.st_size;
}

int
blob_open (struct berth_store *s, const char *digest, berth_err *err)
{
  int fd;

  if (digest_check (digest, "blob", err) < 0)
    return -1;
  fd = openat (s->blobsfd, digest_hex (digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return berth_fail (err, 0, "blob %s is not in the store %s", digest, s->root);
  if (fd < 0)
    return berth_fail (err, errno, "open blob %s", digest);
  return fd;
}

char *
blob_read (struct berth_store *s, const char *digest, size_t limit, size_t *len, berth_err *err)
{
  cleanup_close int fd = blob_open (s, digest, err);
  char got[BERTH_DIGEST_LEN];
  char *buf;

  if (fd < 0)
    return NULL;
  buf = berth_read_fd (fd, limit, len, digest, err);
  if (buf == NULL)
    return NULL;
  sha256_buf (buf, *len, got);
  if (strcmp (got, digest) != 0)
    {
      free (buf);
      return (berth_fail (err, 0, "blob %s is corrupt in the store: its content hashes to %s", digest, got), NULL);
    }
  return buf;
}

int
blob_put (struct berth_store *s, const void *buf, size_t len, const char *expected, char out[BERTH_DIGEST_LEN],
          berth_err *err)
{
  struct blob_writer w;
  char d[BERTH_DIGEST_LEN];

  sha256_buf (buf, len, d);
  if (expected && strcmp (expected, d) != 0)
    return berth_fail (err, 0, "digest mismatch: expected %s, got %s", expected, d);
  if (out)
    memcpy (out, d, BERTH_DIGEST_LEN);
  if (blob_exists (s, d))
    return 0;
  if (blob_writer_open (s, &w, err) < 0 || blob_writer_write (&w, buf, len, err) < 0)
    {
      blob_writer_abort (&w);
      return -1;
    }
  return blob_writer_commit (&w, d, (int64_t)len, NULL, d, err);
}
