#include "runtime/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

#define HOOK_OUTPUT_MAX 4096

char *
hooks_state_json (const char *id, const char *status, pid_t pid, const char *bundle, json_t *annotations)
{
  json_t *o = json_object ();
  char *text;

  json_object_set_new (o, "ociVersion", json_string (BERTH_OCI_VERSION));
  json_object_set_new (o, "id", json_string (id));
  json_object_set_new (o, "status", json_string (status));
  if (pid > 0)
    json_object_set_new (o, "pid", json_integer (pid));
  json_object_set_new (o, "bundle", json_string (bundle));
  if (annotations && json_object_size (annotations) > 0)
    json_object_set (o, "annotations", annotations);
  text = json_dumps (o, JSON_COMPACT);
  json_decref (o);
  return text;
}

unsigned
hooks_mask (const struct berth_spec *spec)
{
  unsigned mask = 0;
  for (int k = 0; k < BERTH_HOOK_KIND_COUNT; k++)
    if (spec->n_hooks[k] > 0)
      mask |= 1u << k;
  return mask;
}

static __attribute__ ((noreturn)) void
hook_child (const struct berth_hook *h, int in, int out)
{
  char *default_args[] = { h->path, NULL };

  if (dup2 (in, 0) < 0 || dup2 (out, 1) < 0 || dup2 (out, 2) < 0)
    _exit (127);
  syscall (SYS_close_range, 3, ~0U, 0);
  execve (h->path, h->n_args ? h->args : default_args, h->env ? h->env : (char *[]){ NULL });
  dprintf (2, "exec %s: %s", h->path, strerror (errno));
  _exit (127);
}

/* Collect output and wait, killing the hook at its deadline. */
static int
wait_hook (pid_t pid, int out, int timeout_s, char *buf, size_t *len, int *status)
{
  int pidfd = (int)syscall (SYS_pidfd_open, pid, 0);
  struct timespec start;
  bool out_open = true, timed_out = false;

  clock_gettime (CLOCK_MONOTONIC, &start);
  for (;;)
    {
      struct pollfd pfd[2] = { { .fd = out_open ? out : -1, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
      int wait_ms = -1;
      if (timeout_s > 0)
        {
          struct timespec now;
          clock_gettime (CLOCK_MONOTONIC, &now);
          long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
          wait_ms = elapsed >= timeout_s * 1000L ? 0 : (int)(timeout_s * 1000L - elapsed);
        }
      int r = poll (pfd, 2, wait_ms);
      if (r < 0 && errno == EINTR)
        continue;
      if (r == 0)
        {
          timed_out = true;
          kill (pid, SIGKILL);
          break;
        }
      if (pfd[0].revents)
        {
          char tmp[1024];
          ssize_t n = read (out, tmp, sizeof (tmp));
          if (n <= 0)
            out_open = false;
          else if (*len < HOOK_OUTPUT_MAX)
            {
              size_t take = (size_t)n < HOOK_OUTPUT_MAX - *len ? (size_t)n : HOOK_OUTPUT_MAX - *len;
              memcpy (buf + *len, tmp, take);
              *len += take;
            }
        }
      /* A hook may leave children holding the output pipe: its exit ends the wait. */
      if (pidfd >= 0 && (pfd[1].revents & POLLIN))
        break;
      if (pidfd < 0 && !out_open)
        break;
    }
  if (pidfd >= 0)
    close (pidfd);
  while (waitpid (pid, status, 0) < 0 && errno == EINTR)
    ;
  buf[*len] = '\0';
  return timed_out ? -1 : 0;
}

static int
run_one (const struct berth_hook *h, const char *kind, size_t idx, const char *state_json, berth_err *err)
{
  int in[2], out[2];
  pid_t pid;
  char output[HOOK_OUTPUT_MAX + 1];
  size_t len = 0;
  int status = 0;
  void (*old_pipe) (int);

  if (pipe2 (in, O_CLOEXEC) < 0)
    return berth_fail (err, errno, "%s hook #%zu: pipe", kind, idx);
  if (pipe2 (out, O_CLOEXEC) < 0)
    {
      close (in[0]);
      close (in[1]);
      return berth_fail (err, errno, "%s hook #%zu: pipe", kind, idx);
    }
  pid = fork ();
  if (pid == 0)
    hook_child (h, in[0], out[1]);
  close (in[0]);
  close (out[1]);
  if (pid < 0)
    {
      close (in[1]);
      close (out[0]);
      return berth_fail (err, errno, "%s hook #%zu: fork", kind, idx);
    }
  /* A hook that does not read its stdin must not kill us with SIGPIPE. */
  old_pipe = signal (SIGPIPE, SIG_IGN);
  if (write (in[1], state_json, strlen (state_json)) < 0 && errno != EPIPE)
    { /* reported through the hook's status if it matters */
    }
  signal (SIGPIPE, old_pipe);
  close (in[1]);
  if (wait_hook (pid, out[0], h->has_timeout ? h->timeout : 0, output, &len, &status) < 0)
    {
      close (out[0]);
      return berth_fail (err, 0, "%s hook #%zu (%s): timed out after %d seconds", kind, idx, h->path, h->timeout);
    }
  close (out[0]);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  if (WIFEXITED (status))
    return berth_fail (err, 0, "%s hook #%zu (%s): exit status %d%s%s", kind, idx, h->path, WEXITSTATUS (status),
                       len ? ", output: " : "", output);
  return berth_fail (err, 0, "%s hook #%zu (%s): killed by signal %d%s%s", kind, idx, h->path, WTERMSIG (status),
                     len ? ", output: " : "", output);
}

int
hooks_run (const struct berth_spec *spec, enum berth_hook_kind kind, const char *state_json, berth_err *err)
{
  for (size_t i = 0; i < spec->n_hooks[kind]; i++)
    if (run_one (&spec->hooks[kind][i], berth_hook_kind_name (kind), i, state_json, err) < 0)
      return -1;
  return 0;
}

void
hooks_run_warn (const struct berth_spec *spec, enum berth_hook_kind kind, const char *state_json)
{
  for (size_t i = 0; i < spec->n_hooks[kind]; i++)
    {
      berth_err one = NULL;
      if (run_one (&spec->hooks[kind][i], berth_hook_kind_name (kind), i, state_json, &one) < 0)
        {
          berth_log (BERTH_LOG_WARNING, "%s", one->msg);
          berth_err_free (&one);
        }
    }
}

bool
hooks_failure_is_warning (const struct berth_spec *spec, enum berth_hook_kind kind)
{
  /* runtime-spec 1.3 made a failing poststart hook stop the container;
     before it, the rule was "log a warning and go on".  A bundle is held to
     the version it declares. */
  if (kind == BERTH_HOOK_POSTSTART)
    return !berth_spec_version_at_least (spec, 1, 3);
  return kind == BERTH_HOOK_POSTSTOP;
}
