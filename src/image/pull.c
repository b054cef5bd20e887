/* Pull: manifest (through an index when there is one), then config and
 * layers in parallel over one curl multi handle, each layer unpacked in
 * its own thread as soon as its blob is in the store.
 *
 *   GET manifests/<tag>  -> index?  -> pick platform -> GET manifests/<digest>
 *   GET blobs/<config>, blobs/<layer>...     (parallel, skipped when stored)
 *       each: ingest/tmp-* -> size and digest checked -> blobs/sha256/<hex>
 *       each layer: snapshots/tmp-* -> snapshots/<hex>     (worker threads)
 *   manifest -> blobs/;  name -> manifest in index.json   (last, by rename)
 *
 * The shared store lock is held throughout, so GC never removes what this
 * pull has written but not yet named.  A kill at any point leaves only
 * temporaries (ingest/tmp-*, snapshots/tmp-*) and unnamed complete blobs,
 * which the next GC removes.
 */
#include "image/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

#define ACCEPT_MANIFESTS MT_OCI_INDEX ", " MT_OCI_MANIFEST ", " MT_DOCKER_LIST ", " MT_DOCKER_MANIFEST

struct pull;

struct transfer
{
  struct pull *p;
  const struct descriptor *d;
  size_t slot; /* in p->prog */
  bool is_layer;
  CURL *easy;
  struct curl_slist *headers;
  char *url;
  struct blob_writer w;
  bool open;
  bool wrong_status;
  berth_err err;
  char errbuf[CURL_ERROR_SIZE];
};

struct unpack_job
{
  struct pull *p;
  const char *digest;
  size_t slot;
  pthread_t thread;
  bool started;
  bool has_blob; /* w is verified, still to be stored (fsync, rename) */
  struct blob_writer w;
  berth_err err;
};

struct pull
{
  struct berth_store *s;
  struct registry *r;
  const struct berth_pull_opts *o;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int running_unpacks, max_unpacks;
  atomic_bool cancel;
  struct berth_progress *prog;
  size_t n_prog;
  struct unpack_job *jobs;
  size_t n_jobs;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once (void)
{
  curl_global_init (CURL_GLOBAL_DEFAULT);
}

static void
set_state (struct pull *p, size_t slot, enum berth_progress_state st)
{
  pthread_mutex_lock (&p->mu);
  p->prog[slot].state = st;
  pthread_mutex_unlock (&p->mu);
}

static void
report (struct pull *p)
{
  if (p->o->progress == NULL)
    return;
  pthread_mutex_lock (&p->mu);
  p->o->progress (p->o->progress_user, p->prog, p->n_prog);
  pthread_mutex_unlock (&p->mu);
}

/* --- unpack workers ---------------------------------------------------------*/

static void *
unpack_main (void *arg)
{
  struct unpack_job *j = arg;
  struct pull *p = j->p;

  /* Named first (the snapshot reads it by name), and here rather than in
     the download loop, whose other transfers an fsync would stall. */
  if (j->has_blob)
    {
      if (atomic_load (&p->cancel))
        blob_writer_abort (&j->w);
      else if (blob_writer_store (&j->w, &j->err) < 0)
        atomic_store (&p->cancel, true);
      j->has_blob = false;
      if (j->err || atomic_load (&p->cancel))
        {
          set_state (p, j->slot, BERTH_PROGRESS_DONE);
          return NULL;
        }
    }

  /* At most max_unpacks at once: decompression is CPU-bound. */
  pthread_mutex_lock (&p->mu);
  while (p->running_unpacks >= p->max_unpacks)
    pthread_cond_wait (&p->cond, &p->mu);
  p->running_unpacks++;
  p->prog[j->slot].state = BERTH_PROGRESS_UNPACKING;
  pthread_mutex_unlock (&p->mu);

  if (!atomic_load (&p->cancel))
    snapshot_ensure (p->s, j->digest, &j->err);

  pthread_mutex_lock (&p->mu);
  p->running_unpacks--;
  p->prog[j->slot].state = BERTH_PROGRESS_DONE;
  pthread_cond_signal (&p->cond);
  pthread_mutex_unlock (&p->mu);
  return NULL;
}

/* `w`, when not NULL, is the layer's verified blob, not yet stored: the job
 * stores it, or it is stored here when no job is needed. */
static int
start_unpack (struct pull *p, const char *digest, size_t slot, struct blob_writer *w, berth_err *err)
{
  struct unpack_job *j = &p->jobs[p->n_jobs];
  bool needed = !(p->o->no_unpack || snapshot_exists (p->s, digest));

  /* The same layer twice in one image: one job is enough. */
  for (size_t i = 0; needed && i < p->n_jobs; i++)
    if (strcmp (p->jobs[i].digest, digest) == 0)
      needed = false;
  if (!needed)
    {
      if (w && blob_writer_store (w, err) < 0)
        return -1;
      set_state (p, slot, BERTH_PROGRESS_DONE);
      return 0;
    }
  j->p = p;
  j->digest = digest;
  j->slot = slot;
  j->has_blob = w != NULL;
  if (w)
    j->w = *w;
  if (pthread_create (&j->thread, NULL, unpack_main, j) != 0)
    {
      if (j->has_blob)
        blob_writer_abort (&j->w);
      j->has_blob = false;
      return berth_fail (err, errno, "start an unpack thread");
    }
  j->started = true;
  p->n_jobs++;
  return 0;
}

static int
join_unpacks (struct pull *p, berth_err *err)
{
  int ret = 0;

  for (size_t i = 0; i < p->n_jobs; i++)
    {
      pthread_join (p->jobs[i].thread, NULL);
      if (p->jobs[i].err)
        {
          if (ret == 0 && (err == NULL || *err == NULL))
            berth_err_move (err, &p->jobs[i].err);
          ret = -1;
        }
      berth_err_free (&p->jobs[i].err);
    }
  p->n_jobs = 0;
  return ret;
}

/* --- blob transfers ----------------------------------------------------------*/

static size_t
on_blob_data (char *ptr, size_t size, size_t n, void *user)
{
  struct transfer *t = user;
  size_t len = size * n;
  long status = 0;

  curl_easy_getinfo (t->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200)
    {
      t->wrong_status = true;
      return len; /* an error document, not the blob */
    }
  if (atomic_load (&t->p->cancel))
    return 0;
  if (t->w.size + len > (uint64_t)t->d->size)
    {
      berth_fail (&t->err, 0, "blob %s: the registry sent more than its descriptor's %lld bytes", t->d->digest,
                  (long long)t->d->size);
      return 0;
    }
  if (blob_writer_write (&t->w, ptr, len, &t->err) < 0)
    return 0;
  pthread_mutex_lock (&t->p->mu);
  t->p->prog[t->slot].done = (int64_t)t->w.size;
  t->p->prog[t->slot].state = BERTH_PROGRESS_DOWNLOADING;
  pthread_mutex_unlock (&t->p->mu);
  return len;
}

static int
transfer_done (struct pull *p, struct transfer *t, CURLcode rc, berth_err *err)
{
  long status = 0;
  char what[128];

  curl_easy_getinfo (t->easy, CURLINFO_RESPONSE_CODE, &status);
  if (t->err)
    {
      berth_err_move (err, &t->err);
      return -1;
    }
  if (rc != CURLE_OK)
    return registry_transport_error (p->r, t->url, rc, t->errbuf, err);
  if (status == 404)
    return berth_fail (err, 0, "registry %s: blob %s of %s not found (HTTP 404)", p->r->host, t->d->digest, p->r->repo);
  if (status == 401 || status == 403)
    return berth_fail (err, 0, "authentication refused: registry %s answered %ld for blob %s", p->r->host, status,
                       t->d->digest);
  if (status != 200 || t->wrong_status)
    return berth_fail (err, 0, "registry %s: GET %s: HTTP status %ld", p->r->host, t->url, status);
  snprintf (what, sizeof (what), "blob %s from %s", t->d->digest, p->r->host);
  t->open = false;
  if (!t->is_layer)
    {
      if (blob_writer_commit (&t->w, t->d->digest, t->d->size, NULL, what, err) < 0)
        return -1;
      set_state (p, t->slot, BERTH_PROGRESS_DONE);
      return 0;
    }
  if (blob_writer_verify (&t->w, t->d->digest, t->d->size, NULL, what, err) < 0)
    return -1;
  return start_unpack (p, t->d->digest, t->slot, &t->w, err);
}

static int
fetch_blobs (struct pull *p, const struct manifest *m, berth_err *err)
{
  size_t n = m->n_layers + 1;
  struct transfer *ts = calloc (n, sizeof (*ts));
  CURLM *multi = curl_multi_init ();
  int running = 0, ret = -1;
  struct timespec last = { 0 }, now;

  p->prog = calloc (n, sizeof (*p->prog));
  p->jobs = calloc (n, sizeof (*p->jobs));
  p->n_prog = m->n_layers;
  /* Progress lists layers only; the config is the last slot, unseen. */
  for (size_t i = 0; i < n; i++)
    {
      const struct descriptor *d = i < m->n_layers ? &m->layers[i] : &m->config;
      struct transfer *t = &ts[i];
      bool dup = false;

      t->p = p;
      t->d = d;
      t->slot = i;
      t->is_layer = i < m->n_layers;
      p->prog[i].digest = d->digest;
      p->prog[i].total = d->size;
      for (size_t k = 0; k < i; k++)
        if (strcmp (ts[k].d->digest, d->digest) == 0)
          dup = true;
      if (dup || blob_exists (p->s, d->digest))
        {
          p->prog[i].done = d->size;
          p->prog[i].state = BERTH_PROGRESS_EXISTS;
          if (t->is_layer && !dup && start_unpack (p, d->digest, i, NULL, err) < 0)
            goto out;
          continue;
        }
      if (blob_writer_open (p->s, &t->w, err) < 0)
        goto out;
      t->open = true;
      if (asprintf (&t->url, "%s%s/blobs/%s", p->r->base, p->r->repo, d->digest) < 0)
        abort ();
      t->easy = curl_easy_init ();
      registry_setup (p->r, t->easy, t->url, &t->headers);
      curl_easy_setopt (t->easy, CURLOPT_WRITEFUNCTION, on_blob_data);
      curl_easy_setopt (t->easy, CURLOPT_WRITEDATA, t);
      curl_easy_setopt (t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
      curl_easy_setopt (t->easy, CURLOPT_PRIVATE, t);
      curl_multi_add_handle (multi, t->easy);
    }
  curl_multi_setopt (multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);

  for (;;)
    {
      CURLMsg *msg;
      int q;

      if (curl_multi_perform (multi, &running) != CURLM_OK)
        {
          berth_fail (err, 0, "registry %s: transfer failed", p->r->host);
          goto out;
        }
      while ((msg = curl_multi_info_read (multi, &q)) != NULL)
        {
          struct transfer *t;
          if (msg->msg != CURLMSG_DONE)
            continue;
          curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
          if (transfer_done (p, t, msg->data.result, err) < 0)
            goto out;
        }
      clock_gettime (CLOCK_MONOTONIC, &now);
      if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 >= 100)
        {
          report (p);
          last = now;
        }
      if (running == 0)
        break;
      curl_multi_poll (multi, NULL, 0, 100, NULL);
    }
  ret = 0;
out:
  if (ret < 0)
    atomic_store (&p->cancel, true);
  for (size_t i = 0; i < n; i++)
    {
      if (ts[i].easy)
        {
          curl_multi_remove_handle (multi, ts[i].easy);
          curl_easy_cleanup (ts[i].easy);
        }
      curl_slist_free_all (ts[i].headers);
      free (ts[i].url);
      if (ts[i].open)
        blob_writer_abort (&ts[i].w);
      berth_err_free (&ts[i].err);
    }
  curl_multi_cleanup (multi);
  free (ts);
  /* Workers finish (or see the cancel flag) before the layers go away. */
  if (join_unpacks (p, ret < 0 ? NULL : err) < 0)
    ret = -1;
  report (p);
  return ret;
}

/* --- manifests -----------------------------------------------------------------*/

static int
get_manifest (struct registry *r, const char *name, const char *ref, const char *want_digest, struct http_response *h,
              char digest[BERTH_DIGEST_LEN], berth_err *err)
{
  cleanup_free char *path = NULL;

  if (asprintf (&path, "%s/manifests/%s", r->repo, ref) < 0)
    abort ();
  if (registry_get (r, path, ACCEPT_MANIFESTS, BERTH_MANIFEST_MAX, h, err) < 0)
    return -1;
  if (h->status == 404)
    return berth_fail (err, 0, "image not found: %s (registry %s has no manifest \"%s\" in %s)", name, r->host, ref,
                       r->repo);
  if (h->status != 200)
    return berth_fail (err, 0, "registry %s: GET %s%s: HTTP status %ld", r->host, r->base, path, h->status);
  sha256_buf (h->body ? h->body : "", h->len, digest);
  if (want_digest && strcmp (want_digest, digest) != 0)
    return berth_fail (err, 0, "manifest of %s: digest mismatch: expected %s, got %s", name, want_digest, digest);
  if (want_digest == NULL && h->docker_digest && digest_valid (h->docker_digest)
      && strcmp (h->docker_digest, digest) != 0)
    return berth_fail (err, 0, "manifest of %s: digest mismatch: registry says %s, content is %s", name,
                       h->docker_digest, digest);
  /* Trust the document over the header: registries differ on what they
     send for OCI manifests without a mediaType. */
  char *sniffed = manifest_sniff_media_type (h->body ? h->body : "", h->len);
  if (sniffed)
    {
      free (h->content_type);
      h->content_type = sniffed;
    }
  return 0;
}

int
berth_pull (struct berth_store *s, const char *refstr, const struct berth_pull_opts *o, struct berth_image_ref *out,
            berth_err *err)
{
  struct berth_pull_opts defaults = { 0 };
  struct image_reference ref = { 0 };
  struct registry r = { 0 };
  struct http_response h = { 0 };
  struct manifest m = { 0 };
  struct descriptor chosen = { 0 };
  struct pull p = { 0 };
  cleanup_free char *name = NULL;
  cleanup_free char *cfg = NULL;
  char digest[BERTH_DIGEST_LEN];
  struct berth_image_config c;
  size_t cfg_len;
  long ncpu;
  int ret = -1;

  pthread_once (&curl_once, curl_init_once);
  if (o == NULL)
    o = &defaults;
  if (reference_parse (refstr, &ref, err) < 0)
    return -1;
  name = reference_name (&ref);
  if (registry_init (&r, &ref, o, err) < 0)
    {
      reference_clear (&ref);
      return -1;
    }
  if (store_lock (s, LOCK_SH, err) < 0)
    goto out;

  if (get_manifest (&r, name, ref.digest ? ref.digest : ref.tag, ref.digest, &h, digest, err) < 0)
    goto out;
  if (media_type_is_index (h.content_type))
    {
      const char *os = o->os ? o->os : "linux", *arch = o->arch ? o->arch : "amd64";
      if (index_select_platform (h.body, h.len, os, arch, o->variant, &chosen, err) < 0)
        {
          berth_wrap (err, "%s", name);
          goto out;
        }
      http_response_clear (&h);
      if (get_manifest (&r, name, chosen.digest, chosen.digest, &h, digest, err) < 0)
        goto out;
    }
  if (!media_type_is_manifest (h.content_type))
    {
      berth_fail (err, 0, "%s: unsupported manifest type \"%s\"", name, h.content_type ? h.content_type : "(none)");
      goto out;
    }
  if (manifest_parse (h.body, h.len, &m, err) < 0)
    {
      berth_wrap (err, "%s", name);
      goto out;
    }

  p.s = s;
  p.r = &r;
  p.o = o;
  pthread_mutex_init (&p.mu, NULL);
  pthread_cond_init (&p.cond, NULL);
  ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  p.max_unpacks = ncpu > 0 ? (int)ncpu : 1;
  ret = fetch_blobs (&p, &m, err);
  pthread_mutex_destroy (&p.mu);
  pthread_cond_destroy (&p.cond);
  free (p.prog);
  free (p.jobs);
  if (ret < 0)
    goto out;
  ret = -1;

  /* The config must parse before the image gets a name. */
  cfg = blob_read (s, m.config.digest, BERTH_CONFIG_MAX, &cfg_len, err);
  if (cfg == NULL || berth_image_config_parse (cfg, cfg_len, &c, err) < 0)
    {
      berth_wrap (err, "%s", name);
      goto out;
    }
  berth_image_config_clear (&c);
  if (blob_put (s, h.body, h.len, digest, NULL, err) < 0 || index_set (s, name, digest, h.content_type, err) < 0)
    goto out;
  if (out)
    {
      out->name = strdup (name);
      strcpy (out->digest, digest);
      out->media_type = strdup (h.content_type);
    }
  ret = 0;
out:
  store_unlock (s);
  manifest_clear (&m);
  descriptor_clear (&chosen);
  http_response_clear (&h);
  registry_clear (&r);
  reference_clear (&ref);
  return ret;
}
