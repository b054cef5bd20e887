/* monitor_test: drives the container monitor (src/daemon/monitor.h) for
 * tests/monitor/test_monitor.py.  Results are one JSON line on stdout;
 * errors one line on stderr ("error: <berth_err text>") and exit 1.
 *
 *   monitor_test spawn --id ID --bundle DIR --root DIR --exit-file PATH
 *                [--config PATH] [--log PATH] [--max-line N] [--tty]
 *                [--stdin FIFO [--stdin-once]] [--berthd-like] [--berthd-log PATH]
 *                [--hang] [--attach SOCKET]
 *       --berthd-like: spawn as berthd would, from a worker thread with every
 *       signal blocked, SIGPIPE and signal 32 ignored, and a stray
 *       inheritable socket open (none of it may reach the monitor or the
 *       container);
 *       --berthd-log: berthd's log file, with debug lines, opened first;
 *       --hang: stay alive after printing (the test SIGKILLs this parent)
 *   monitor_test start --root DIR --id ID
 *   monitor_test reopen --pid PID --start-time T [--log PATH]
 *   monitor_test exec --root DIR --id ID [--timeout S] [--max N] -- ARGV...
 *   monitor_test exit-file PATH
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/monitor.h"
#include "runtime/container.h"
#include "util/log.h"

static int
fail (berth_err *err)
{
  fprintf (stderr, "error: %s\n", (*err)->msg);
  berth_err_free (err);
  return 1;
}

static void
print_json (json_t *doc)
{
  char *s = json_dumps (doc, JSON_COMPACT);
  printf ("%s\n", s);
  fflush (stdout);
  free (s);
  json_decref (doc);
}

struct spawn_job
{
  struct monitor_opts o;
  struct monitor_info info;
  berth_err err;
  int ret;
};

static void *
spawn_thread (void *arg)
{
  struct spawn_job *j = arg;
  j->ret = monitor_spawn (&j->o, &j->info, &j->err);
  return NULL;
}

static int
cmd_spawn (int argc, char **argv)
{
  static const struct option opts[] = {
    { "id", required_argument, 0, 'i' },
    { "bundle", required_argument, 0, 'b' },
    { "root", required_argument, 0, 'r' },
    { "exit-file", required_argument, 0, 'e' },
    { "config", required_argument, 0, 'c' },
    { "log", required_argument, 0, 'l' },
    { "max-line", required_argument, 0, 'm' },
    { "tty", no_argument, 0, 't' },
    { "stdin", required_argument, 0, 's' },
    { "stdin-once", no_argument, 0, 'O' },
    { "berthd-like", no_argument, 0, 'B' },
    { "hang", no_argument, 0, 'H' },
    { "berthd-log", required_argument, 0, 'L' },
    { "attach", required_argument, 0, 'A' },
    { 0, 0, 0, 0 },
  };
  struct spawn_job j = { 0 };
  bool berthd_like = false, hang = false;
  int c;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
      case 'i':
        j.o.id = optarg;
        break;
      case 'b':
        j.o.bundle = optarg;
        break;
      case 'r':
        j.o.state_root = optarg;
        break;
      case 'e':
        j.o.exit_file = optarg;
        break;
      case 'c':
        j.o.config_path = optarg;
        break;
      case 'l':
        j.o.log_path = optarg;
        break;
      case 'm':
        j.o.max_line = strtoul (optarg, NULL, 10);
        break;
      case 't':
        j.o.tty = true;
        break;
      case 's':
        j.o.stdin_fifo = optarg;
        break;
      case 'O':
        j.o.stdin_once = true;
        break;
      case 'A':
        j.o.attach_socket = optarg;
        break;
      case 'B':
        berthd_like = true;
        break;
      case 'H':
        hang = true;
        break;
      case 'L':
        /* berthd's --log --debug: libberth's debug lines go there. */
        if (berth_log_init (optarg, NULL, true, &j.err) < 0)
          return fail (&j.err);
        break;
      default:
        return 2;
      }
  if (berthd_like)
    {
      /* berthd: signals blocked in every thread (sigwait in main), gRPC
         sockets open; here one without O_CLOEXEC, the worst case. */
      sigset_t all;
      pthread_t t;
      int sv[2];
      /* And ignored: SIGPIPE (as servers do), and signal 32 (glibc's own,
         which glibc's sigaction cannot reset) as a parent may leave it. */
      struct
      {
        void (*handler) (int);
        unsigned long flags;
        void (*restorer) (void);
        unsigned long mask;
      } ign = { .handler = SIG_IGN };
      signal (SIGPIPE, SIG_IGN);
      syscall (SYS_rt_sigaction, 32, &ign, NULL, sizeof (ign.mask));
      sigfillset (&all);
      pthread_sigmask (SIG_BLOCK, &all, NULL);
      if (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 1;
      pthread_create (&t, NULL, spawn_thread, &j);
      pthread_join (t, NULL);
    }
  else
    spawn_thread (&j);
  if (j.ret < 0)
    return fail (&j.err);
  print_json (json_pack ("{s:i, s:I, s:i}", "pid", (int)j.info.pid, "start_time", (json_int_t)j.info.start_time,
                         "init_pid", (int)j.info.init_pid));
  if (hang)
    for (;;)
      pause ();
  return 0;
}

static int
cmd_start (int argc, char **argv)
{
  static const struct option opts[]
      = { { "root", required_argument, 0, 'r' }, { "id", required_argument, 0, 'i' }, { 0, 0, 0, 0 } };
  struct berth_context ctx = { 0 };
  const char *id = NULL;
  berth_err err = NULL;
  int c;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    if (c == 'r')
      ctx.state_root = optarg;
    else if (c == 'i')
      id = optarg;
    else
      return 2;
  if (berth_container_start (&ctx, id, &err) < 0)
    return fail (&err);
  return 0;
}

static int
cmd_reopen (int argc, char **argv)
{
  static const struct option opts[] = { { "pid", required_argument, 0, 'p' },
                                        { "start-time", required_argument, 0, 's' },
                                        { "log", required_argument, 0, 'l' },
                                        { 0, 0, 0, 0 } };
  struct monitor_info m = { 0 };
  const char *log = NULL;
  berth_err err = NULL;
  int c;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    if (c == 'p')
      m.pid = atoi (optarg);
    else if (c == 's')
      m.start_time = strtoull (optarg, NULL, 10);
    else if (c == 'l')
      log = optarg;
    else
      return 2;
  if (monitor_reopen_log (&m, log, &err) < 0)
    return fail (&err);
  return 0;
}

static int
cmd_exec (int argc, char **argv)
{
  static const struct option opts[] = {
    { "root", required_argument, 0, 'r' },
    { "id", required_argument, 0, 'i' },
    { "timeout", required_argument, 0, 't' },
    { "max", required_argument, 0, 'm' },
    { 0, 0, 0, 0 },
  };
  struct monitor_exec_opts o = { 0 };
  struct monitor_exec_result r;
  berth_err err = NULL;
  int c;

  while ((c = getopt_long (argc, argv, "+", opts, NULL)) != -1)
    switch (c)
      {
      case 'r':
        o.state_root = optarg;
        break;
      case 'i':
        o.id = optarg;
        break;
      case 't':
        o.timeout_s = strtoul (optarg, NULL, 10);
        break;
      case 'm':
        o.max_output = strtoul (optarg, NULL, 10);
        break;
      default:
        return 2;
      }
  o.argv = argv + optind;
  if (monitor_exec_sync (&o, &r, &err) < 0)
    return fail (&err);
  print_json (json_pack ("{s:i, s:b, s:b, s:s#, s:s#}", "exit_code", r.exit_code, "timed_out", r.timed_out, "truncated",
                         r.truncated, "stdout", r.out, r.out_len, "stderr", r.err, r.err_len));
  monitor_exec_result_clear (&r);
  return 0;
}

static int
cmd_exit_file (int argc, char **argv)
{
  struct monitor_exit e;
  berth_err err = NULL;
  int r;

  if (argc != 2)
    return 2;
  r = monitor_exit_read (argv[1], &e, &err);
  if (r < 0)
    return fail (&err);
  if (r == 0)
    print_json (json_null ());
  else
    print_json (json_pack ("{s:i, s:i, s:i, s:b, s:s, s:s}", "pid", (int)e.pid, "exit_code", e.exit_code, "signal",
                           e.signal, "oom_killed", e.oom_killed, "exited_at", e.exited_at, "reason", e.reason));
  monitor_exit_clear (&e);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: monitor_test spawn|start|reopen|exec|exit-file ...\n");
      return 2;
    }
  argv++;
  argc--;
  if (strcmp (argv[0], "spawn") == 0)
    return cmd_spawn (argc, argv);
  if (strcmp (argv[0], "start") == 0)
    return cmd_start (argc, argv);
  if (strcmp (argv[0], "reopen") == 0)
    return cmd_reopen (argc, argv);
  if (strcmp (argv[0], "exec") == 0)
    return cmd_exec (argc, argv);
  if (strcmp (argv[0], "exit-file") == 0)
    return cmd_exit_file (argc, argv);
  fprintf (stderr, "monitor_test: unknown command `%s`\n", argv[0]);
  return 2;
}
