/* `run`: create and start in one process.  In the foreground the init is
 * our child: we forward signals to it (or relay its terminal), reap it, and
 * delete the container, exiting with its status. */
#include <unistd.h>

#include "runtime/container.h"
#include "runtime/create.h"
#include "runtime/signals.h"
#include "runtime/terminal.h"
#include "util/log.h"

int
berth_container_run (const struct berth_context *ctx, const struct berth_create_options *opts, bool detach,
                     int *exit_status, berth_err *err)
{
  struct created_container cc;
  int ret;

  *exit_status = 0;
  if (create_container (ctx, opts, !detach, true, &cc, err) < 0)
    return -1;
  ret = start_created (cc.dirfd, cc.state, cc.fifo_fd, err);
  cc.fifo_fd = -1; /* closed by start_created */
  if (ret == 0 && !detach)
    {
      if (cc.master_fd >= 0)
        ret = terminal_relay (cc.master_fd, cc.state->pid, exit_status, err);
      else
        ret = process_wait_forwarding_signals (cc.state->pid, exit_status, err);
    }
  if (!detach)
    berth_log (BERTH_LOG_DEBUG, "container %s: init exited with status %d", opts->id, *exit_status);
  if (ret < 0 || !detach)
    {
      berth_err derr = NULL;
      if (destroy_container (ctx, cc.dirfd, cc.state, &derr) < 0)
        {
          if (ret == 0)
            berth_err_move (err, &derr);
          else
            berth_err_free (&derr);
          ret = -1;
        }
    }
  created_container_release (&cc);
  return ret;
}
