/* Pull progress on a terminal: one line per layer, redrawn in place.
 *
 *   3a1f0c2d9e8b  downloading  12.3 MiB / 40.0 MiB  55.1 MiB/s
 *
 * Only called when stderr is a terminal; pipes and logs stay quiet. */
#include "berthctl/berthctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static size_t lines_drawn;
static double *started;
static size_t n_started;

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
state_name (enum berth_progress_state s)
{
  switch (s)
    {
    case BERTH_PROGRESS_WAITING:
      return "waiting";
    case BERTH_PROGRESS_DOWNLOADING:
      return "downloading";
    case BERTH_PROGRESS_EXISTS:
      return "exists";
    case BERTH_PROGRESS_UNPACKING:
      return "unpacking";
    case BERTH_PROGRESS_DONE:
      return "done";
    }
  return "?";
}

void
ctl_progress (void *user, const struct berth_progress *layers, size_t n)
{
  double t = now ();

  if (n_started < n)
    {
      started = realloc (started, n * sizeof (*started));
      for (size_t i = n_started; i < n; i++)
        started[i] = 0;
      n_started = n;
    }
  if (lines_drawn)
    fprintf (stderr, "\033[%zuA", lines_drawn);
  for (size_t i = 0; i < n; i++)
    {
      const struct berth_progress *l = &layers[i];
      char rate[32] = "";
      if (l->state == BERTH_PROGRESS_DOWNLOADING && started[i] == 0)
        started[i] = t;
      if (l->state == BERTH_PROGRESS_DOWNLOADING && t > started[i] + 0.05)
        snprintf (rate, sizeof (rate), "%6.1f MiB/s", (double)l->done / (t - started[i]) / 1048576.0);
      fprintf (stderr, "\033[2K%.12s  %-11s  %7.1f MiB / %7.1f MiB  %s\n", l->digest + 7, state_name (l->state),
               (double)l->done / 1048576.0, (double)l->total / 1048576.0, rate);
    }
  lines_drawn = n;
  fflush (stderr);
}

void
ctl_progress_finish (void)
{
  free (started);
  started = NULL;
  n_started = 0;
  lines_drawn = 0;
}
