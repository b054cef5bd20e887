/* The host's device nodes as cri/ asks for them (cri_list_devices_fn):
 * config devices and every device of a privileged container.  A path may
 * be one node or a directory, walked without following symlinks (a link
 * such as /dev/fd would lead out of /dev). */
#include "daemon/containers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define MAX_DEPTH 8

void
ctr_devices_clear (struct ctr_devices *l)
{
  for (size_t i = 0; i < l->n; i++)
    free ((char *)l->v[i].path);
  free (l->v);
  l->v = NULL;
  l->n = l->cap = 0;
}

static void
add (struct ctr_devices *l, const char *path, const struct stat *st)
{
  struct cri_host_device *dv;

  if (l->n == l->cap)
    {
      l->cap = l->cap ? 2 * l->cap : 64;
      l->v = realloc (l->v, l->cap * sizeof (*l->v));
    }
  dv = &l->v[l->n++];
  dv->path = strdup (path);
  dv->type = S_ISBLK (st->st_mode) ? 'b' : 'c';
  dv->major = major (st->st_rdev);
  dv->minor = minor (st->st_rdev);
  dv->mode = st->st_mode & 07777;
  dv->uid = st->st_uid;
  dv->gid = st->st_gid;
}

static void
walk (struct ctr_devices *l, const char *path, int depth)
{
  struct stat st;
  DIR *dir;
  struct dirent *e;

  if (lstat (path, &st) < 0)
    return;
  if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
    {
      add (l, path, &st);
      return;
    }
  if (!S_ISDIR (st.st_mode) || depth >= MAX_DEPTH || (dir = opendir (path)) == NULL)
    return;
  while ((e = readdir (dir)) != NULL)
    {
      char *sub;
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      if (asprintf (&sub, "%s/%s", strcmp (path, "/") ? path : "", e->d_name) < 0)
        abort ();
      walk (l, sub, depth + 1);
      free (sub);
    }
  closedir (dir);
}

int
ctr_list_devices (void *user, const char *host_path, const struct cri_host_device **out, size_t *n_out, berth_err *err)
{
  struct ctr_devices *l = user;
  struct stat st;

  ctr_devices_clear (l);
  if (lstat (host_path, &st) < 0)
    return berth_fail (err, errno, "device `%s`", host_path);
  walk (l, host_path, 0);
  *out = l->v;
  *n_out = l->n;
  return 0;
}
