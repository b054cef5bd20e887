/* CRI's view of the image store: one Image per config digest (its id),
 * with every name that points at it as a repo tag and every
 * "repo@manifest-digest" as a repo digest. */
#ifndef BERTH_DAEMON_IMAGE_VIEW_H
#define BERTH_DAEMON_IMAGE_VIEW_H

#include <jansson.h>
#include <stdint.h>

#include "daemon/daemon.h"
#include "image/image.h"

struct cri_image
{
  char *id;          /* config digest */
  char *name;        /* one stored name, for berth_image_inspect */
  json_t *tags;      /* "host/repo:tag" */
  json_t *digests;   /* "host/repo@sha256:..." */
  json_t *manifests; /* manifest digests */
  json_t *names;     /* every stored name (index.json key) */
  uint64_t size;
};

struct cri_images
{
  struct cri_image *v;
  size_t n;
};

int image_view_load (struct berth_store *s, struct cri_images *out, berth_err *err);
void image_view_clear (struct cri_images *imgs);

/* The image `what` names, as CRI clients name them: "host/repo:tag",
 * "host/repo" (:latest), "host/repo@sha256:...", the id "sha256:..." (or
 * its 64 hex digits), or a manifest digest.  NULL when none. */
const struct cri_image *image_view_find (const struct cri_images *imgs, const char *what);

/* "host/repo" -> "host/repo:latest"; names with a tag or digest unchanged. */
char *image_name_with_tag (const char *name);

struct Runtime__V1__Image;
/* The CRI message for img; uid or username from the image's User.
 * `pinned_name` (may be NULL) marks the image that has that tag pinned. */
struct Runtime__V1__Image *image_view_to_pb (struct berth_store *s, const struct cri_image *img,
                                             const char *pinned_name, berth_err *err);

#endif
