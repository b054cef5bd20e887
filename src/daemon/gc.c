/* Background GC of the image store.
 *
 * RemoveImage removes the name and asks for a GC here instead of running
 * it: GC takes the store's exclusive lock, which waits for every pull in
 * progress (they hold it shared), and a RemoveImage must not wait for a
 * slow pull.  Requests made while a GC runs are folded into the next one.
 */
#include "daemon/daemon.h"

#include "image/image.h"
#include "util/log.h"

static void *
gc_main (void *arg)
{
  struct daemon *d = arg;

  pthread_mutex_lock (&d->gc_mu);
  for (;;)
    {
      while (!d->gc_wanted && !d->gc_stop)
        pthread_cond_wait (&d->gc_cond, &d->gc_mu);
      if (d->gc_stop)
        break;
      d->gc_wanted = false;
      pthread_mutex_unlock (&d->gc_mu);

      struct berth_store *s;
      struct berth_gc_stats stats = { 0 };
      berth_err err = NULL;
      if (berth_store_open (d->root, &s, &err) == 0)
        {
          if (berth_gc (s, &stats, &err) == 0)
            berth_log (BERTH_LOG_DEBUG, "gc: removed %u blobs, %u snapshots, %u temporaries (%llu bytes)", stats.blobs,
                       stats.snapshots, stats.temp, (unsigned long long)stats.bytes);
          berth_store_close (s);
        }
      if (err)
        {
          berth_log (BERTH_LOG_WARNING, "gc: %s", err->msg);
          berth_err_free (&err);
        }
      pthread_mutex_lock (&d->gc_mu);
    }
  pthread_mutex_unlock (&d->gc_mu);
  return NULL;
}

int
daemon_gc_start (struct daemon *d, berth_err *err)
{
  int rc = pthread_create (&d->gc_thread, NULL, gc_main, d);

  if (rc != 0)
    return berth_fail (err, rc, "start the gc thread");
  d->gc_started = true;
  return 0;
}

void
daemon_gc_request (struct daemon *d)
{
  pthread_mutex_lock (&d->gc_mu);
  d->gc_wanted = true;
  pthread_cond_signal (&d->gc_cond);
  pthread_mutex_unlock (&d->gc_mu);
}

/* A GC in progress finishes first (it only waits for pulls, which have
 * ended or been cancelled by then). */
void
daemon_gc_stop (struct daemon *d)
{
  if (!d->gc_started)
    return;
  pthread_mutex_lock (&d->gc_mu);
  d->gc_stop = true;
  pthread_cond_signal (&d->gc_cond);
  pthread_mutex_unlock (&d->gc_mu);
  pthread_join (d->gc_thread, NULL);
  d->gc_started = false;
}
