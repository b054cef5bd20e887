/* Time for deadlines and timeouts. */
#ifndef BERTH_UTIL_CLOCK_H
#define BERTH_UTIL_CLOCK_H

/* Milliseconds of CLOCK_MONOTONIC: deadlines that a change of the wall
 * clock cannot move. */
long long berth_monotonic_ms (void);

#endif
