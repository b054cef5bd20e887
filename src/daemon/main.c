/* berthd [--address SOCKET] [--root DIR] [--state DIR] [--config FILE]
 *        [--log FILE] [--debug]
 *
 * Serves the CRI on a unix socket until SIGTERM or SIGINT, then stops
 * accepting, lets running calls finish (10 s at most) and removes the
 * socket.  Signals are taken by sigwait in the main thread: gRPC's and the
 * workers' threads never see them.
 */
#include "daemon/daemon.h"
#include "daemon/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/containers.h"
#include "daemon/pods.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/log.h"

#define STOP_GRACE_S 10

static void
usage (FILE *f)
{
  fprintf (f, "usage: berthd [--address SOCKET] [--root DIR] [--state DIR] [--config FILE] [--log FILE] [--debug]\n"
              "  --address  unix socket to serve the CRI on (default " BERTHD_DEFAULT_ADDRESS ")\n"
              "  --root     image store and records (default " BERTHD_DEFAULT_ROOT ")\n"
              "  --state    runtime state (default " BERTHD_DEFAULT_STATE ")\n"
              "  --config   JSON config file (default " BERTHD_DEFAULT_CONFIG ", optional)\n");
}

/* Start-up errors go to stderr as a plain line (and to the log too when
 * there is one): a person or a unit file reads them, not a log parser. */
static void
daemon_free (struct daemon *d)
{
  ctrs_shutdown (d);
  pods_shutdown (d);
  daemon_config_clear (&d->config);
  free (d->registries_conf);
  free (d->pull_helper);
  free (d->address);
  free (d->root);
  free (d->state);
}

static int
fail_start (struct daemon *d, berth_err *err, const char *log_path)
{
  fprintf (stderr, "berthd: %s\n", (*err)->msg);
  if (log_path)
    berth_log (BERTH_LOG_ERROR, "%s", (*err)->msg);
  berth_err_free (err);
  if (d->registries_conf)
    unlink (d->registries_conf);
  daemon_free (d);
  return 1;
}

static int
mkdir_p (const char *path, mode_t mode, berth_err *err)
{
  cleanup_free char *dup = strdup (path);

  for (char *p = dup + 1;; p++)
    if (*p == '/' || *p == '\0')
      {
        char c = *p;
        *p = '\0';
        if (mkdir (dup, mode) < 0 && errno != EEXIST)
          return berth_fail (err, errno, "mkdir `%s`", dup);
        if (c == '\0')
          return 0;
        *p = c;
      }
}

/* src/image reads insecure hosts from a registries file; berthd writes its
 * config's ones there (mirrors are passed per pull). */
static int
write_registries_conf (struct daemon *d, berth_err *err)
{
  json_t *list = json_array (), *doc;
  cleanup_free char *tmp = NULL;
  int ret = 0;

  for (size_t i = 0; i < d->config.n_registries; i++)
    if (d->config.registries[i].insecure)
      json_array_append_new (list, json_string (d->config.registries[i].host));
  doc = json_pack ("{s:o}", "insecure-registries", list);
  if (asprintf (&d->registries_conf, "%s/registries.json", d->state) < 0
      || asprintf (&tmp, "%s.tmp", d->registries_conf) < 0)
    abort ();
  if (json_dump_file (doc, tmp, JSON_COMPACT) < 0 || rename (tmp, d->registries_conf) < 0)
    ret = berth_fail (err, errno, "write `%s`", d->registries_conf);
  json_decref (doc);
  return ret;
}

static int
prepare (struct daemon *d, const char *config, bool config_given, berth_err *err)
{
  struct berth_store *s;

  if (daemon_config_load (config, config_given, &d->config, err) < 0 || pull_helper_find (d, err) < 0)
    return -1;
  if (d->root[0] != '/' || d->state[0] != '/')
    return berth_fail (err, 0, "--%s `%s`: expected an absolute path", d->root[0] != '/' ? "root" : "state",
                       d->root[0] != '/' ? d->root : d->state);
  if (mkdir_p (d->state, 0711, err) < 0 || write_registries_conf (d, err) < 0)
    return -1;
  /* Opening the store creates its layout and tells now, not at the first
     call, when --root is unusable. */
  if (berth_store_open (d->root, &s, err) < 0)
    return -1;
  berth_store_close (s);
  if (dispatch_check (err) < 0)
    return -1;
  /* Pods and containers from before a crash or restart, before the first
   * call can ask: half-made ones undone, dead ones settled. */
  if (pods_init (d, err) < 0)
    return -1;
  ctrs (d);
  return 0;
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "address", required_argument, NULL, 'a' }, { "root", required_argument, NULL, 'r' },
    { "state", required_argument, NULL, 's' },   { "config", required_argument, NULL, 'c' },
    { "log", required_argument, NULL, 'l' },     { "debug", no_argument, NULL, 'd' },
    { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
  };
  struct daemon d = { 0 };
  const char *config = BERTHD_DEFAULT_CONFIG, *log_path = NULL;
  bool config_given = false, debug = false;
  struct rpc_server *srv = NULL;
  berth_err err = NULL;
  sigset_t set;
  int c, sig;

  d.address = xstrdup (BERTHD_DEFAULT_ADDRESS);
  d.root = xstrdup (BERTHD_DEFAULT_ROOT);
  d.state = xstrdup (BERTHD_DEFAULT_STATE);
  while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1)
    switch (c)
      {
      case 'a':
        free (d.address);
        d.address = xstrdup (optarg);
        break;
      case 'r':
        free (d.root);
        d.root = xstrdup (optarg);
        break;
      case 's':
        free (d.state);
        d.state = xstrdup (optarg);
        break;
      case 'c':
        config = optarg;
        config_given = true;
        break;
      case 'l':
        log_path = optarg;
        break;
      case 'd':
        debug = true;
        break;
      case 'h':
        usage (stdout);
        return 0;
      default:
        usage (stderr);
        return 2;
      }
  if (optind != argc)
    {
      fprintf (stderr, "berthd: unexpected argument \"%s\"\n", argv[optind]);
      usage (stderr);
      return 2;
    }
  if (berth_log_init (log_path, "text", debug, &err) < 0)
    {
      fprintf (stderr, "berthd: %s\n", err->msg);
      return 1;
    }

  /* One malloc arena for every thread.  glibc gives each thread that
     allocates an arena of its own, up to 8 per CPU; berthd's threads (gRPC's,
     the worker pool, up to WORKERS_MAX) each kept 100-300 KiB of arena
     pages, 2.0 MiB of anonymous RSS in all under the CRI bench's load, 1.4
     MiB with one arena (docs/performance.md).  Calls are few and short:
     contention on the one arena's lock does not show in the bench's
     latencies.  Set before the first thread; monitors (forks) inherit it. */
  mallopt (M_ARENA_MAX, 1);

  /* Blocked before any thread starts, so every thread inherits the mask
     and only sigwait below receives them. */
  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  signal (SIGPIPE, SIG_IGN);

  pthread_mutex_init (&d.gc_mu, NULL);
  pthread_cond_init (&d.gc_cond, NULL);
  if (prepare (&d, config, config_given, &err) < 0 || daemon_gc_start (&d, &err) < 0)
    return fail_start (&d, &err, log_path);
  if (stream_server_start (&d, d.config.stream_server_address, &d.streams, &err) < 0)
    {
      daemon_gc_stop (&d);
      return fail_start (&d, &err, log_path);
    }
  grpc_init ();
  if (rpc_server_start (&d, &srv, &err) < 0)
    {
      daemon_gc_stop (&d);
      grpc_shutdown ();
      return fail_start (&d, &err, log_path);
    }
  berth_log (BERTH_LOG_INFO, "berthd %s serving the CRI on %s (root %s, state %s)", BERTH_VERSION, d.address, d.root,
             d.state);
  berth_log (BERTH_LOG_INFO, "streaming server (Exec, Attach, PortForward) on http://%s",
             stream_server_address (d.streams));

  while (sigwait (&set, &sig) != 0)
    ;
  berth_log (BERTH_LOG_INFO, "signal %d: stopping", sig);
  if (rpc_server_stop (srv, STOP_GRACE_S) < 0)
    {
      /* A call is stuck (it may hold the store lock GC waits for). */
      unlink (d.registries_conf);
      _exit (0);
    }
  stream_server_stop (d.streams);
  daemon_gc_stop (&d);
  unlink (d.registries_conf);
  /* No grpc_shutdown (): when a call was left running it would wait for
     it; exit releases everything. */
  daemon_free (&d);
  return 0;
}
