/* berthd's side of the pull helper (berthd-pull, pull_main.c).
 *
 * PullImage's download (libcurl) and unpack (libarchive) run in a helper
 * process, not in berthd: the parsing of untrusted registry data (HTTP,
 * TLS, gzip, tar) stays out of the daemon, and berthd links neither library
 * (it is linked fully static, docs/performance.md).  One helper per pull:
 *
 *   worker thread (berthd)                    berthd-pull
 *   ----------------------                    -----------
 *   pipes in, out, err, exec (all CLOEXEC)
 *   fork ───────────────────────────────────▶ PDEATHSIG = SIGKILL; fds 0-2 =
 *                                             in, out, err, 3 = exec; every
 *                                             other fd closed; signals reset
 *   read exec: EOF = exec'd  ◀──────────────  execv (berthd's environment);
 *              errno = exec failed            on failure: errno on fd 3
 *   write credentials (JSON) on in, close ──▶ read stdin to EOF
 *                                             berth_pull into --root (store
 *                                             lock shared, as in berthctl)
 *   read out and err to EOF  ◀──────────────  {"name","digest","id"} exit 0
 *                                             | {"error": "..."}      exit 1
 *   waitpid
 *
 * Credentials go on a pipe, never in argv or the environment, which other
 * users can read in /proc.  The mirror, the registries file and the store
 * root are arguments.  The helper dies with the thread that forked it
 * (PDEATHSIG), so a berthd that exits with a pull still running leaves no
 * helper behind; a helper killed at any point leaves what a killed
 * in-process pull left: temporaries (ingest/tmp-*, snapshots/tmp-*) and
 * unnamed blobs, which the next GC removes.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

#define PULL_HELPER_NAME "berthd-pull"
/* The answer is a few hundred bytes; stderr is kept for error messages. */
#define MAX_ANSWER (64 * 1024)
#define MAX_STDERR 4096

int
pull_helper_find (struct daemon *d, berth_err *err)
{
  char self[PATH_MAX];
  struct stat st;
  const char *key = "config key pull_helper";
  ssize_t n;

  free (d->pull_helper);
  d->pull_helper = NULL;
  if (d->config.pull_helper)
    d->pull_helper = xstrdup (d->config.pull_helper);
  else
    {
      key = "it belongs next to berthd, or set pull_helper in the config";
      n = readlink ("/proc/self/exe", self, sizeof (self) - 1);
      if (n < 0)
        return berth_fail (err, errno, "pull helper: readlink `/proc/self/exe`");
      self[n] = '\0';
      *strrchr (self, '/') = '\0';
      if (asprintf (&d->pull_helper, "%s/" PULL_HELPER_NAME, self) < 0)
        abort ();
    }
  if (stat (d->pull_helper, &st) < 0)
    return berth_fail (err, errno, "pull helper `%s` (%s)", d->pull_helper, key);
  if (!S_ISREG (st.st_mode) || access (d->pull_helper, X_OK) < 0)
    return berth_fail (err, S_ISREG (st.st_mode) ? errno : 0, "pull helper `%s` (%s): not an executable file",
                       d->pull_helper, key);
  return 0;
}

void
pull_helper_result_clear (struct pull_helper_result *r)
{
  free (r->name);
  free (r->digest);
  free (r->id);
  memset (r, 0, sizeof (*r));
}

/* Async-signal-safe: runs between fork and exec in a copy of a threaded
 * process. */
__attribute__ ((noreturn)) static void
child_exec (const char *path, char *const *argv, pid_t parent, int in, int out, int err_fd, int exec_fd)
{
  int fds[4] = { in, out, err_fd, exec_fd };
  sigset_t none;

  /* The worker thread that forked us is the parent PDEATHSIG watches; it
     waits for us, so it outlives us unless berthd itself dies. */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid () != parent)
    _exit (127);
  /* Above 3 first, so that dup2 to 0-3 never overwrites one of them. */
  for (int i = 0; i < 4; i++)
    if ((fds[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, 4)) < 0)
      _exit (127);
  for (int i = 0; i < 3; i++)
    if (dup2 (fds[i], i) < 0)
      _exit (127);
  if (dup3 (fds[3], 3, O_CLOEXEC) < 0)
    _exit (127);
  close_range (4, ~0U, 0);
  /* berthd ignores SIGPIPE and blocks SIGTERM and SIGINT in every thread
     (main.c's sigwait); both would survive exec. */
  signal (SIGPIPE, SIG_DFL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  execv (path, argv);
  {
    int e = errno;
    if (write (3, &e, sizeof (e)) < 0)
      _exit (127);
  }
  _exit (127);
}

/* Reads out (the answer) and err (kept for messages) until both end. */
static int
read_streams (int out, int errfd, char **answer, size_t *answer_len, char *errbuf, size_t *err_len)
{
  size_t cap = 0;
  int fds[2] = { out, errfd };

  *answer = NULL;
  *answer_len = *err_len = 0;
  while (fds[0] >= 0 || fds[1] >= 0)
    {
      struct pollfd p[2] = { { .fd = fds[0], .events = POLLIN }, { .fd = fds[1], .events = POLLIN } };
      char chunk[4096];

      if (poll (p, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      for (int i = 0; i < 2; i++)
        {
          ssize_t n;
          if (fds[i] < 0 || p[i].revents == 0)
            continue;
          n = read (fds[i], chunk, sizeof (chunk));
          if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
          if (n <= 0)
            {
              fds[i] = -1; /* the caller closes it */
              continue;
            }
          if (i == 0 && *answer_len + (size_t)n <= MAX_ANSWER)
            {
              if (*answer_len + (size_t)n + 1 > cap)
                {
                  cap = *answer_len + (size_t)n + 1 + 1024;
                  *answer = realloc (*answer, cap);
                  if (*answer == NULL)
                    abort ();
                }
              memcpy (*answer + *answer_len, chunk, (size_t)n);
              *answer_len += (size_t)n;
              (*answer)[*answer_len] = '\0';
            }
          else if (i == 1)
            {
              /* The last MAX_STDERR - 1 bytes: a dying process says why last. */
              size_t keep = (size_t)n < MAX_STDERR - 1 ? (size_t)n : MAX_STDERR - 1;
              if (*err_len + keep > MAX_STDERR - 1)
                {
                  size_t drop = *err_len + keep - (MAX_STDERR - 1);
                  memmove (errbuf, errbuf + drop, *err_len - drop);
                  *err_len -= drop;
                }
              memcpy (errbuf + *err_len, chunk + (size_t)n - keep, keep);
              *err_len += keep;
            }
        }
    }
  errbuf[*err_len] = '\0';
  return 0;
}

static char *
creds_json (const struct pull_helper_request *rq)
{
  json_t *doc = json_object ();
  char *text;

  if (rq->username)
    json_object_set_new (doc, "username", json_string (rq->username));
  if (rq->password)
    json_object_set_new (doc, "password", json_string (rq->password));
  if (rq->registry_token)
    json_object_set_new (doc, "registry_token", json_string (rq->registry_token));
  text = json_object_size (doc) ? json_dumps (doc, JSON_COMPACT) : xstrdup ("");
  /* jansson's own copies are freed unwiped; the text that crosses the pipe
     is wiped by the caller. */
  json_decref (doc);
  if (text == NULL)
    abort ();
  return text;
}

/* "exited with status 3" / "killed by signal 9", then the helper's last
 * stderr line(s) when it wrote any. */
static int
fail_status (const char *path, int status, const char *errtext, berth_err *err)
{
  char how[64];
  size_t n = strlen (errtext);

  while (n > 0 && (errtext[n - 1] == '\n' || errtext[n - 1] == ' '))
    n--;
  if (WIFSIGNALED (status))
    snprintf (how, sizeof (how), "killed by signal %d (%s)", WTERMSIG (status), strsignal (WTERMSIG (status)));
  else
    snprintf (how, sizeof (how), "exited with status %d", WEXITSTATUS (status));
  berth_fail (err, 0, "pull helper `%s` %s%s%.*s", path, how, n ? ": " : "", (int)n, errtext);
  return PULL_HELPER_FAILED;
}

static int
parse_answer (const char *path, int status, const char *answer, size_t len, const char *errtext,
              struct pull_helper_result *out, berth_err *err)
{
  json_t *doc = answer ? json_loadb (answer, len, 0, NULL) : NULL;
  const char *msg = json_string_value (json_object_get (doc, "error"));
  const char *name = json_string_value (json_object_get (doc, "name"));
  const char *digest = json_string_value (json_object_get (doc, "digest"));
  const char *id = json_string_value (json_object_get (doc, "id"));
  int ret = PULL_HELPER_FAILED;

  if (WIFEXITED (status) && WEXITSTATUS (status) == 1 && msg)
    ret = berth_fail (err, 0, "%s", msg);
  else if (WIFEXITED (status) && WEXITSTATUS (status) == 0 && name && digest && id)
    {
      out->name = xstrdup (name);
      out->digest = xstrdup (digest);
      out->id = xstrdup (id);
      ret = 0;
    }
  else if (WIFEXITED (status) && WEXITSTATUS (status) <= 1)
    berth_fail (err, 0, "pull helper `%s` exited with status %d without a valid answer", path, WEXITSTATUS (status));
  else
    fail_status (path, status, errtext, err);
  json_decref (doc);
  return ret;
}

int
pull_helper_run (struct daemon *d, const struct pull_helper_request *rq, struct pull_helper_result *out, berth_err *err)
{
  const char *argv[10];
  int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, execp[2] = { -1, -1 };
  cleanup_free char *creds = NULL, *answer = NULL;
  char errtext[MAX_STDERR];
  size_t n = 0, answer_len, err_len;
  int exec_errno = 0, status = 0, ret = PULL_HELPER_FAILED;
  pid_t parent = getpid (), pid;
  ssize_t got;

  memset (out, 0, sizeof (*out));
  argv[n++] = PULL_HELPER_NAME;
  argv[n++] = "--root";
  argv[n++] = d->root;
  if (rq->unpack_only)
    argv[n++] = "--unpack";
  else
    {
      argv[n++] = "--registries-conf";
      argv[n++] = d->registries_conf;
      if (rq->mirror)
        {
          argv[n++] = "--mirror";
          argv[n++] = rq->mirror;
        }
    }
  argv[n++] = "--";
  argv[n++] = rq->image;
  argv[n] = NULL;
  creds = rq->unpack_only ? xstrdup ("") : creds_json (rq);

  if (pipe2 (in, O_CLOEXEC) < 0 || pipe2 (outp, O_CLOEXEC) < 0 || pipe2 (errp, O_CLOEXEC) < 0
      || pipe2 (execp, O_CLOEXEC) < 0)
    {
      berth_fail (err, errno, "pull helper `%s`: pipes", d->pull_helper);
      goto out;
    }
  pid = fork ();
  if (pid < 0)
    {
      berth_fail (err, errno, "pull helper `%s`: fork", d->pull_helper);
      goto out;
    }
  if (pid == 0)
    child_exec (d->pull_helper, (char *const *)argv, parent, in[0], outp[1], errp[1], execp[1]);
  close (in[0]);
  close (outp[1]);
  close (errp[1]);
  close (execp[1]);
  in[0] = outp[1] = errp[1] = execp[1] = -1;

  /* EOF once execv succeeded (the fd is CLOEXEC), else its errno. */
  do
    got = read (execp[0], &exec_errno, sizeof (exec_errno));
  while (got < 0 && errno == EINTR);
  if (got == sizeof (exec_errno))
    {
      while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
        ;
      berth_fail (err, exec_errno, "pull helper `%s`: exec", d->pull_helper);
      goto out;
    }
  /* The helper reads all of stdin before anything else, so this cannot
     block for long; EPIPE means it died, which waitpid tells better. */
  if (berth_write_all (in[1], creds, strlen (creds)) < 0 && errno != EPIPE)
    berth_fail (err, errno, "pull helper `%s`: write its stdin", d->pull_helper);
  close (in[1]);
  in[1] = -1;
  if (read_streams (outp[0], errp[0], &answer, &answer_len, errtext, &err_len) < 0 && *err == NULL)
    berth_fail (err, errno, "pull helper `%s`: read its answer", d->pull_helper);
  if (*err)
    kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (*err == NULL)
    ret = parse_answer (d->pull_helper, status, answer, answer_len, errtext, out, err);
out:
  explicit_bzero (creds, strlen (creds));
  for (int i = 0; i < 2; i++)
    {
      int *fds[] = { &in[i], &outp[i], &errp[i], &execp[i] };
      for (size_t k = 0; k < 4; k++)
        if (*fds[k] >= 0)
          close (*fds[k]);
    }
  return ret;
}
