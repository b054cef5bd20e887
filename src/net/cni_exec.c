/* Running one CNI plugin binary, as the CNI spec's "execution protocol" says:
 * parameters in CNI_* environment variables, the network config on stdin,
 * the result (or an error object {code, msg, details}) on stdout.
 *
 * posix_spawn (vfork-like, cheap from a large berthd) with three pipes; the
 * config is written into the stdin pipe before the spawn (it fits: the pipe
 * is grown to hold it), so the loop only reads.  The plugin runs in its own
 * process group so that a timeout also kills what it started (iptables).
 * No shell is involved anywhere.
 */
#include "net/cni_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/clock.h"

extern char **environ;

#define STDOUT_MAX (16 * 1024 * 1024)
#define STDERR_KEEP (16 * 1024)

struct buf
{
  char *data;
  size_t len, cap, limit;
  bool truncated;
};

static void
buf_append (struct buf *b, const char *p, size_t n)
{
  if (b->len + n > b->limit)
    {
      b->truncated = true;
      n = b->limit - b->len;
    }
  if (b->len + n + 1 > b->cap)
    {
      size_t cap = b->cap ? b->cap : 4096;
      while (cap < b->len + n + 1)
        cap *= 2;
      b->data = realloc (b->data, cap);
      if (b->data == NULL)
        abort ();
      b->cap = cap;
    }
  memcpy (b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

/* Finds `type` in the colon-separated `dirs`. */
static char *
find_plugin (const char *type, const char *dirs, berth_err *err)
{
  const char *p = dirs;
  while (*p)
    {
      const char *end = strchrnul (p, ':');
      char *path = NULL;
      struct stat st;
      if (end > p && asprintf (&path, "%.*s/%s", (int)(end - p), p, type) >= 0)
        {
          if (stat (path, &st) == 0 && S_ISREG (st.st_mode) && access (path, X_OK) == 0)
            return path;
          free (path);
        }
      p = *end ? end + 1 : end;
    }
  return (berth_fail (err, ENOENT, "plugin \"%s\": not found in %s", type, dirs), NULL);
}

/* berthd's environment (PATH matters: portmap runs iptables) without any
   CNI_* of its own, then the call's. */
static char **
build_env (const struct cni_call *call)
{
  size_t n = 0, k = 0;
  char **env;

  for (char **e = environ; e && *e; e++)
    n++;
  env = calloc (n + 8, sizeof (char *));
  if (env == NULL)
    abort ();
  for (char **e = environ; e && *e; e++)
    if (strncmp (*e, "CNI_", 4) != 0)
      env[k++] = strdup (*e);
  if (asprintf (&env[k++], "CNI_COMMAND=%s", call->command) < 0
      || asprintf (&env[k++], "CNI_CONTAINERID=%s", call->container_id ? call->container_id : "") < 0
      || asprintf (&env[k++], "CNI_NETNS=%s", call->netns ? call->netns : "") < 0
      || asprintf (&env[k++], "CNI_IFNAME=%s", call->ifname ? call->ifname : "") < 0
      || asprintf (&env[k++], "CNI_ARGS=%s", call->args ? call->args : "") < 0
      || asprintf (&env[k++], "CNI_PATH=%s", call->bin_dirs) < 0)
    abort ();
  if (getenv ("PATH") == NULL)
    env[k++] = strdup ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  env[k] = NULL;
  return env;
}

/* Puts all of `input` in a fresh pipe; returns its read end. */
static int
stdin_pipe (const char *input, size_t len, berth_err *err)
{
  int p[2];
  size_t off = 0;

  if (pipe2 (p, O_CLOEXEC) < 0)
    return berth_fail (err, errno, "pipe");
  if (len > 65536 && fcntl (p[1], F_SETPIPE_SZ, (int)len) < 0)
    {
      int e = errno;
      close (p[0]);
      close (p[1]);
      return berth_fail (err, e, "config of %zu bytes too large for a pipe", len);
    }
  fcntl (p[1], F_SETFL, O_NONBLOCK);
  while (off < len)
    {
      ssize_t n = write (p[1], input + off, len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int e = n < 0 ? errno : EIO;
          close (p[0]);
          close (p[1]);
          return berth_fail (err, e, "write config to plugin stdin");
        }
      off += (size_t)n;
    }
  close (p[1]);
  return p[0];
}

/* Reads stdout and stderr to EOF or the deadline; false on timeout. */
static bool
drain (int out_fd, int err_fd, struct buf *out, struct buf *errb, int timeout_ms)
{
  long long deadline = berth_monotonic_ms () + timeout_ms;
  struct pollfd pfd[2] = { { .fd = out_fd, .events = POLLIN }, { .fd = err_fd, .events = POLLIN } };
  char chunk[8192];

  while (pfd[0].fd >= 0 || pfd[1].fd >= 0)
    {
      long long left = deadline - berth_monotonic_ms ();
      int r;
      if (left <= 0)
        return false;
      r = poll (pfd, 2, (int)left);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return false;
      for (int i = 0; i < 2; i++)
        {
          ssize_t n;
          if (pfd[i].fd < 0 || pfd[i].revents == 0)
            continue;
          n = read (pfd[i].fd, chunk, sizeof (chunk));
          if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
          if (n <= 0)
            {
              pfd[i].fd = -1;
              continue;
            }
          buf_append (i == 0 ? out : errb, chunk, (size_t)n);
        }
    }
  return true;
}

/* The error object of the spec: {"code": N, "msg": "...", "details": "..."}. */
static int
plugin_error (const char *type, const char *command, const struct buf *out, const struct buf *errb, int status,
              berth_err *err)
{
  json_t *doc = out->len ? json_loadb (out->data, out->len, 0, NULL) : NULL;
  const char *msg = doc ? json_string_value (json_object_get (doc, "msg")) : NULL;
  int ret;

  if (msg != NULL)
    {
      const char *details = json_string_value (json_object_get (doc, "details"));
      json_t *code = json_object_get (doc, "code");
      ret = berth_fail (err, 0, "plugin \"%s\" %s: %s%s%s (code %lld)", type, command, msg,
                        details && *details ? ": " : "", details && *details ? details : "",
                        json_is_integer (code) ? (long long)json_integer_value (code) : -1LL);
    }
  else
    {
      /* No error object: the last lines of stderr, else how it ended. */
      char how[64];
      size_t n = errb->len;
      while (n > 0 && (errb->data[n - 1] == '\n' || errb->data[n - 1] == ' '))
        n--;
      if (WIFSIGNALED (status))
        snprintf (how, sizeof (how), "killed by signal %d", WTERMSIG (status));
      else
        snprintf (how, sizeof (how), "exit status %d", WEXITSTATUS (status));
      if (n > 0)
        ret = berth_fail (err, 0, "plugin \"%s\" %s: %s: %.*s", type, command, how, (int)n, errb->data);
      else
        ret = berth_fail (err, 0, "plugin \"%s\" %s: %s", type, command, how);
    }
  json_decref (doc);
  return ret;
}

int
cni_exec_plugin (const char *type, const struct cni_call *call, const char *input, size_t input_len, json_t **result,
                 berth_err *err)
{
  cleanup_free char *path = NULL;
  cleanup_strv char **env = NULL;
  cleanup_close int in_r = -1;
  cleanup_close int out_r = -1;
  cleanup_close int err_r = -1;
  struct buf out = { .limit = STDOUT_MAX }, errb = { .limit = STDERR_KEEP };
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int op[2] = { -1, -1 }, ep[2] = { -1, -1 };
  sigset_t none, all;
  char *argv[2];
  int status = 0, rc, ret = -1;
  bool in_time;
  pid_t pid;

  *result = NULL;
  path = find_plugin (type, call->bin_dirs, err);
  if (path == NULL)
    return -1;
  in_r = stdin_pipe (input, input_len, err);
  if (in_r < 0)
    return berth_wrap (err, "plugin \"%s\" %s", type, call->command);
  if (pipe2 (op, O_CLOEXEC) < 0 || pipe2 (ep, O_CLOEXEC) < 0)
    {
      int e = errno;
      for (int i = 0; i < 2; i++)
        {
          if (op[i] >= 0)
            close (op[i]);
          if (ep[i] >= 0)
            close (ep[i]);
        }
      return berth_fail (err, e, "plugin \"%s\" %s: pipe", type, call->command);
    }
  out_r = op[0];
  err_r = ep[0];
  env = build_env (call);
  argv[0] = (char *)type;
  argv[1] = NULL;

  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, in_r, 0);
  posix_spawn_file_actions_adddup2 (&fa, op[1], 1);
  posix_spawn_file_actions_adddup2 (&fa, ep[1], 2);
  posix_spawnattr_init (&attr);
  /* berthd may block or handle signals; the plugin starts clean. */
  sigemptyset (&none);
  sigfillset (&all);
  posix_spawnattr_setsigmask (&attr, &none);
  posix_spawnattr_setsigdefault (&attr, &all);
  posix_spawnattr_setpgroup (&attr, 0);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  rc = posix_spawn (&pid, path, &fa, &attr, argv, env);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&attr);
  close (op[1]);
  close (ep[1]);
  if (rc != 0)
    return berth_fail (err, rc, "plugin \"%s\" %s: spawn `%s`", type, call->command, path);
  close (steal_fd (&in_r));

  in_time = drain (out_r, err_r, &out, &errb, call->timeout_ms);
  if (!in_time)
    kill (-pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!in_time)
    {
      berth_fail (err, ETIMEDOUT, "plugin \"%s\" %s: no answer in %d ms", type, call->command, call->timeout_ms);
      goto out;
    }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      plugin_error (type, call->command, &out, &errb, status, err);
      goto out;
    }
  if (out.truncated)
    {
      berth_fail (err, 0, "plugin \"%s\" %s: output larger than %d bytes", type, call->command, STDOUT_MAX);
      goto out;
    }
  /* DEL and CHECK print nothing on success. */
  if (out.len > 0 && strspn (out.data, " \t\r\n") < out.len)
    {
      json_error_t jerr;
      *result = json_loadb (out.data, out.len, 0, &jerr);
      if (*result == NULL)
        {
          berth_fail (err, 0, "plugin \"%s\" %s: output is not JSON: line %d: %s", type, call->command, jerr.line,
                      jerr.text);
          goto out;
        }
    }
  ret = 0;
out:
  free (out.data);
  free (errb.data);
  return ret;
}
