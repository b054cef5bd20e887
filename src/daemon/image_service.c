/* ImageService on the image store: ListImages, ImageStatus, RemoveImage,
 * ImageFsInfo (PullImage is in image_pull.c).
 *
 * Each call opens the store itself: the store's lock state lives in its
 * handle, and calls run on several threads at once.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cri.pb-c.h"
#include "daemon/image_view.h"
#include "util/cleanup.h"

/* Opens the store and loads the view; fills st on failure. */
static struct berth_store *
open_view (struct daemon *d, struct cri_images *imgs, struct rpc_status *st)
{
  struct berth_store *s;
  berth_err err = NULL;

  if (berth_store_open (d->root, &s, &err) < 0)
    return (rpc_fail_err (st, GRPC_STATUS_INTERNAL, &err), NULL);
  if (image_view_load (s, imgs, &err) < 0)
    {
      berth_store_close (s);
      return (rpc_fail_err (st, GRPC_STATUS_INTERNAL, &err), NULL);
    }
  return s;
}

/* The sandbox image is pinned (the kubelet's GC leaves it alone). */
static char *
pinned_name (struct daemon *d)
{
  return d->config.sandbox_image ? image_name_with_tag (d->config.sandbox_image) : NULL;
}

static int
handle_list_images (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__ListImagesRequest *in = (const Runtime__V1__ListImagesRequest *)req;
  const char *filter = in->filter && in->filter->image && in->filter->image->image[0] ? in->filter->image->image : NULL;
  struct cri_images imgs;
  cleanup_free char *pinned = pinned_name (d);
  struct berth_store *s = open_view (d, &imgs, st);
  Runtime__V1__ListImagesResponse *r;
  berth_err err = NULL;
  int ret = 0;

  if (s == NULL)
    return -1;
  r = malloc (sizeof (*r));
  runtime__v1__list_images_response__init (r);
  r->images = malloc ((imgs.n + 1) * sizeof (*r->images));
  const struct cri_image *only = filter ? image_view_find (&imgs, filter) : NULL;
  for (size_t i = 0; i < imgs.n && ret == 0; i++)
    {
      if (filter && only != &imgs.v[i])
        continue;
      Runtime__V1__Image *m = image_view_to_pb (s, &imgs.v[i], pinned, &err);
      if (m == NULL)
        ret = rpc_fail_err (st, GRPC_STATUS_INTERNAL, &err);
      else
        r->images[r->n_images++] = m;
    }
  image_view_clear (&imgs);
  berth_store_close (s);
  if (ret < 0)
    {
      protobuf_c_message_free_unpacked (&r->base, NULL);
      return -1;
    }
  *resp = &r->base;
  return 0;
}

/* CRI: a missing image is an empty response, not an error (the kubelet
 * asks before every pull). */
static int
handle_image_status (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__ImageStatusRequest *in = (const Runtime__V1__ImageStatusRequest *)req;
  struct cri_images imgs;
  cleanup_free char *pinned = NULL;
  struct berth_store *s;
  Runtime__V1__ImageStatusResponse *r;
  const struct cri_image *img;
  berth_err err = NULL;

  if (in->image == NULL || in->image->image[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "image.image: required");
  s = open_view (d, &imgs, st);
  if (s == NULL)
    return -1;
  pinned = pinned_name (d);
  r = malloc (sizeof (*r));
  runtime__v1__image_status_response__init (r);
  img = image_view_find (&imgs, in->image->image);
  if (img)
    {
      r->image = image_view_to_pb (s, img, pinned, &err);
      if (r->image && in->verbose)
        {
          json_t *doc = berth_image_inspect (s, img->name, &err);
          if (doc)
            {
              Runtime__V1__ImageStatusResponse__InfoEntry *e = malloc (sizeof (*e));
              runtime__v1__image_status_response__info_entry__init (e);
              e->key = xstrdup ("info");
              e->value = json_dumps (doc, JSON_COMPACT);
              json_decref (doc);
              r->n_info = 1;
              r->info = malloc (sizeof (*r->info));
              r->info[0] = e;
            }
        }
    }
  image_view_clear (&imgs);
  berth_store_close (s);
  if (err)
    {
      protobuf_c_message_free_unpacked (&r->base, NULL);
      return rpc_fail_err (st, GRPC_STATUS_INTERNAL, &err);
    }
  *resp = &r->base;
  return 0;
}

/* Removes every name of the image, as containerd does; removing an image
 * that is not there succeeds (CRI: "idempotent"). */
static int
handle_remove_image (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  const Runtime__V1__RemoveImageRequest *in = (const Runtime__V1__RemoveImageRequest *)req;
  struct cri_images imgs;
  struct berth_store *s;
  const struct cri_image *img;
  Runtime__V1__RemoveImageResponse *r;
  berth_err err = NULL;
  size_t i;
  json_t *v;
  int ret = 0;

  if (in->image == NULL || in->image->image[0] == '\0')
    return rpc_fail (st, GRPC_STATUS_INVALID_ARGUMENT, "image.image: required");
  s = open_view (d, &imgs, st);
  if (s == NULL)
    return -1;
  img = image_view_find (&imgs, in->image->image);
  if (img)
    json_array_foreach (img->names, i, v)
    {
      if (berth_image_remove (s, json_string_value (v), &err) < 0)
        {
          /* Removed meanwhile by another call: that is what was asked. */
          if (strncmp (err->msg, "no such image", 13) == 0)
            berth_err_free (&err);
          else
            {
              ret = rpc_fail_err (st, GRPC_STATUS_INTERNAL, &err);
              break;
            }
        }
    }
  image_view_clear (&imgs);
  berth_store_close (s);
  if (ret < 0)
    return -1;
  daemon_gc_request (d);
  r = malloc (sizeof (*r));
  runtime__v1__remove_image_response__init (r);
  *resp = &r->base;
  return 0;
}

/* --- ImageFsInfo -------------------------------------------------------------- */

/* nftw has no user argument; each call walks on its own thread. */
static __thread double walk_blocks, walk_inodes;

static int
walk_one (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  /* A file with n links in the tree is counted 1/n at each: exact when
     all links are inside (layers hard-link within themselves). */
  double share = sb->st_nlink > 1 && !S_ISDIR (sb->st_mode) ? 1.0 / (double)sb->st_nlink : 1.0;

  walk_blocks += (double)sb->st_blocks * share;
  walk_inodes += share;
  return 0;
}

static Runtime__V1__UInt64Value *
u64 (uint64_t v)
{
  Runtime__V1__UInt64Value *m = malloc (sizeof (*m));

  runtime__v1__uint64_value__init (m);
  m->value = v;
  return m;
}

static int
handle_image_fs_info (struct daemon *d, const ProtobufCMessage *req, ProtobufCMessage **resp, struct rpc_status *st)
{
  Runtime__V1__ImageFsInfoResponse *r;
  Runtime__V1__FilesystemUsage *u;
  struct timespec now;

  walk_blocks = walk_inodes = 0;
  /* FTW_MOUNT: container roots mounted under the store are not images. */
  if (nftw (d->root, walk_one, 32, FTW_PHYS | FTW_MOUNT) < 0)
    return rpc_fail (st, GRPC_STATUS_INTERNAL, "walk image store `%s`: %s", d->root, strerror (errno));
  clock_gettime (CLOCK_REALTIME, &now);
  u = malloc (sizeof (*u));
  runtime__v1__filesystem_usage__init (u);
  u->timestamp = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
  u->fs_id = malloc (sizeof (*u->fs_id));
  runtime__v1__filesystem_identifier__init (u->fs_id);
  u->fs_id->mountpoint = xstrdup (d->root);
  u->used_bytes = u64 ((uint64_t)(walk_blocks * 512.0 + 0.5));
  u->inodes_used = u64 ((uint64_t)(walk_inodes + 0.5));
  r = malloc (sizeof (*r));
  runtime__v1__image_fs_info_response__init (r);
  r->n_image_filesystems = 1;
  r->image_filesystems = malloc (sizeof (*r->image_filesystems));
  r->image_filesystems[0] = u;
  *resp = &r->base;
  return 0;
}

const struct rpc_handler image_service_handlers[] = {
  { "ListImages", handle_list_images },
  { "ImageStatus", handle_image_status },
  { "RemoveImage", handle_remove_image },
  { "ImageFsInfo", handle_image_fs_info },
  { NULL, NULL },
};
