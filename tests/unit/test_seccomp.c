/* linux.seccomp: refusals name the JSON path (checked byte for byte), and
 * compiled filters behave as written once a forked child loads them.
 * JSON is written with single quotes and turned into real JSON here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/seccomp_filter.h"
#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static json_t *
load_json (const char *text)
{
  char *s = strdup (text);
  json_error_t jerr;
  json_t *j;

  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  j = json_loads (s, 0, &jerr);
  if (j == NULL)
    fail_msg ("bad test JSON: %s: %s", jerr.text, s);
  free (s);
  return j;
}

static struct berth_seccomp *
compile_ok (const char *text)
{
  berth_err err = NULL;
  json_t *j = load_json (text);
  struct berth_seccomp *s = berth_seccomp_compile (j, &err);

  if (s == NULL)
    fail_msg ("unexpected error: %s", err->msg);
  json_decref (j);
  return s;
}

static void
compile_fails (const char *text, const char *expected)
{
  berth_err err = NULL;
  json_t *j = load_json (text);
  struct berth_seccomp *s = berth_seccomp_compile (j, &err);

  if (s != NULL)
    fail_msg ("compiled, expected: %s", expected);
  assert_non_null (err);
  assert_string_equal (err->msg, expected);
  berth_err_free (&err);
  json_decref (j);
}

/* Valgrind (3.19) does not pass seccomp(2) through: it answers ENOSYS, so
 * libseccomp sees no notify support and no filter can be loaded. */
static bool
have_seccomp_syscall (void)
{
  uint32_t action = SECCOMP_RET_ALLOW;
  return syscall (SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

#define ALLOW_WITH(calls) "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [" calls "]}"

static void
test_refusals_name_the_path (void **state)
{
  compile_fails ("{}", "linux.seccomp.defaultAction: required property missing");
  compile_fails ("[]", "linux.seccomp: expected object");
  compile_fails ("{'defaultAction': 'SCMP_ACT_FOO'}", "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\"");
  compile_fails ("{'defaultAction': 'SCMP_ACT_ALLOW', 'defaultErrnoRet': 1}",
                 "linux.seccomp.defaultErrnoRet: action SCMP_ACT_ALLOW takes no errno"
                 " (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)");
  compile_fails ("{'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 70000}",
                 "linux.seccomp.defaultErrnoRet: 70000 is out of range (0 to 65535)");
  compile_fails ("{'defaultAction': 'SCMP_ACT_NOTIFY', 'listenerPath': '/x'}",
                 "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action");
  compile_fails ("{'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_VAX']}",
                 "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\"");
  if (seccomp_arch_resolve_name ("loongarch64") == 0)
    {
      const struct scmp_version *v = seccomp_version ();
      char *want = NULL;
      assert_true (asprintf (&want,
                             "linux.seccomp.architectures[0]: SCMP_ARCH_LOONGARCH64 is not supported by libseccomp "
                             "%u.%u.%u",
                             v->major, v->minor, v->micro)
                   > 0);
      compile_fails ("{'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['SCMP_ARCH_LOONGARCH64']}", want);
      free (want);
    }
  compile_fails ("{'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': 'SCMP_ARCH_X86'}",
                 "linux.seccomp.architectures: expected array");
  compile_fails ("{'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ['SECCOMP_FILTER_FLAG_LOG', 'FLAG_X']}",
                 "linux.seccomp.flags[1]: unknown flag \"FLAG_X\"");
  compile_fails ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': {}}", "linux.seccomp.syscalls: expected array");
}

static void
test_refusals_in_syscalls (void **state)
{
  compile_fails (ALLOW_WITH ("{'names': ['mkdir'], 'action': 'SCMP_ACT_ERRNO'}, 7"),
                 "linux.seccomp.syscalls[1]: expected object");
  compile_fails (ALLOW_WITH ("{'action': 'SCMP_ACT_ERRNO'}"),
                 "linux.seccomp.syscalls[0].names: required property missing");
  compile_fails (ALLOW_WITH ("{'names': [], 'action': 'SCMP_ACT_ERRNO'}"),
                 "linux.seccomp.syscalls[0].names: must contain at least one entry");
  compile_fails (ALLOW_WITH ("{'names': ['mkdir', 3], 'action': 'SCMP_ACT_ERRNO'}"),
                 "linux.seccomp.syscalls[0].names[1]: expected string");
  compile_fails (ALLOW_WITH ("{'names': ['mkdir', ''], 'action': 'SCMP_ACT_ERRNO'}"),
                 "linux.seccomp.syscalls[0].names[1]: must not be empty");
  compile_fails (ALLOW_WITH ("{'names': ['mkdir']}"), "linux.seccomp.syscalls[0].action: required property missing");
  compile_fails (ALLOW_WITH ("{'names': ['a'], 'action': 'SCMP_ACT_LOG'}, {'names': ['a'], 'action': 'SCMP_ACT_LOG'},"
                             "{'names': ['a'], 'action': 'SCMP_ACT_LOG'}, {'names': ['a'], 'action': 'SCMP_ACT_FOO'}"),
                 "linux.seccomp.syscalls[3].action: unknown action \"SCMP_ACT_FOO\"");
  compile_fails (ALLOW_WITH ("{'names': ['mkdir'], 'action': 'SCMP_ACT_KILL', 'errnoRet': 1}"),
                 "linux.seccomp.syscalls[0].errnoRet: action SCMP_ACT_KILL takes no errno"
                 " (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)");
  compile_fails (ALLOW_WITH ("{'names': ['mkdir'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': -1}"),
                 "linux.seccomp.syscalls[0].errnoRet: -1 is out of range (0 to 65535)");
  compile_fails (ALLOW_WITH ("{'names': ['write'], 'action': 'SCMP_ACT_NOTIFY'}"),
                 "linux.seccomp.syscalls[0].names[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall");
  compile_fails (ALLOW_WITH ("{'names': ['getppid', 'sendmsg'], 'action': 'SCMP_ACT_NOTIFY'}"),
                 "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the sendmsg syscall");
  if (have_seccomp_syscall ())
    compile_fails (ALLOW_WITH ("{'names': ['getppid'], 'action': 'SCMP_ACT_NOTIFY'}"),
                   "linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used");
  compile_fails ("{'defaultAction': 'SCMP_ACT_ALLOW', 'listenerMetadata': 'm'}",
                 "linux.seccomp.listenerMetadata: must not be set without listenerPath");
}

static void
test_refusals_in_args (void **state)
{
#define ARGS(a) ALLOW_WITH ("{'names': ['personality'], 'action': 'SCMP_ACT_ERRNO', 'args': [" a "]}")
  compile_fails (ARGS ("{'index': 0, 'value': 1, 'op': 'SCMP_CMP_EQ'}, {'index': 1, 'value': 1, 'op': 'SCMP_CMP_FOO'}"),
                 "linux.seccomp.syscalls[0].args[1].op: unknown operator \"SCMP_CMP_FOO\"");
  compile_fails (ARGS ("{'index': 6, 'value': 1, 'op': 'SCMP_CMP_EQ'}"),
                 "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0 to 5)");
  compile_fails (ARGS ("{'value': 1, 'op': 'SCMP_CMP_EQ'}"),
                 "linux.seccomp.syscalls[0].args[0].index: required property missing");
  compile_fails (ARGS ("{'index': 0, 'op': 'SCMP_CMP_EQ'}"),
                 "linux.seccomp.syscalls[0].args[0].value: required property missing");
  compile_fails (ARGS ("{'index': 0, 'value': -2, 'op': 'SCMP_CMP_EQ'}"),
                 "linux.seccomp.syscalls[0].args[0].value: -2 is out of range (0 to 9223372036854775807)");
  compile_fails (ARGS ("{'index': 0, 'value': 1}"), "linux.seccomp.syscalls[0].args[0].op: required property missing");
  compile_fails (ARGS ("[]"), "linux.seccomp.syscalls[0].args[0]: expected object");
  compile_fails (ALLOW_WITH ("{'names': ['personality'], 'action': 'SCMP_ACT_ERRNO', 'args': {}}"),
                 "linux.seccomp.syscalls[0].args: expected array");
#undef ARGS
}

static void
test_compiles_real_profiles (void **state)
{
  /* Unknown names are skipped; a rule equal to the default is a no-op;
   * every action, operator and the multi-arch set engines send. */
  struct berth_seccomp *s = compile_ok (
      "{'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 38,"
      " 'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],"
      " 'flags': ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_LOG'],"
      " 'syscalls': ["
      "  {'names': ['read', 'write', 'no_such_syscall_at_all', 'socketcall'], 'action': 'SCMP_ACT_ALLOW'},"
      "  {'names': ['mkdir'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 38},"
      "  {'names': ['kill'], 'action': 'SCMP_ACT_KILL'},"
      "  {'names': ['tkill'], 'action': 'SCMP_ACT_KILL_THREAD'},"
      "  {'names': ['ptrace'], 'action': 'SCMP_ACT_TRACE', 'errnoRet': 1},"
      "  {'names': ['getpid'], 'action': 'SCMP_ACT_TRAP'},"
      "  {'names': ['clone'], 'action': 'SCMP_ACT_ALLOW', 'args': ["
      "    {'index': 0, 'value': 2114060288, 'op': 'SCMP_CMP_MASKED_EQ'}]},"
      "  {'names': ['setpriority'], 'action': 'SCMP_ACT_ALLOW', 'args': ["
      "    {'index': 0, 'value': 1, 'op': 'SCMP_CMP_NE'}, {'index': 1, 'value': 1, 'op': 'SCMP_CMP_LT'},"
      "    {'index': 2, 'value': 1, 'op': 'SCMP_CMP_LE'}, {'index': 3, 'value': 1, 'op': 'SCMP_CMP_GE'},"
      "    {'index': 4, 'value': 1, 'op': 'SCMP_CMP_GT'}, {'index': 5, 'value': 1, 'op': 'SCMP_CMP_EQ'}]}"
      "]}");

  assert_false (berth_seccomp_uses_notify (s));
  assert_null (berth_seccomp_listener_path (s));
  berth_seccomp_free (s);
  berth_seccomp_free (NULL);
  /* libseccomp asks the kernel for these actions. */
  if (!have_seccomp_syscall ())
    return;
  s = compile_ok (ALLOW_WITH ("{'names': ['tgkill'], 'action': 'SCMP_ACT_KILL_PROCESS'},"
                              "{'names': ['uname'], 'action': 'SCMP_ACT_LOG'}"));
  berth_seccomp_free (s);

  s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW', 'listenerPath': '/run/agent.sock',"
                  " 'listenerMetadata': 'meta', 'flags': ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],"
                  " 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_NOTIFY'}]}");
  assert_true (berth_seccomp_uses_notify (s));
  assert_string_equal (berth_seccomp_listener_path (s), "/run/agent.sock");
  assert_string_equal (berth_seccomp_listener_metadata (s), "meta");
  berth_seccomp_free (s);
}

/* Runs fn in a forked child under the filter; returns the exit status
 * (fn returns 0 when all its checks hold, else the failed check's number). */
static int
run_filtered (struct berth_seccomp *s, bool set_nnp, int (*fn) (int notify_fd, void *), void *arg)
{
  int status;
  pid_t pid = fork ();

  assert_true (pid >= 0);
  if (pid == 0)
    {
      berth_err err = NULL;
      int notify_fd = -2;

      if (set_nnp && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        _exit (100);
      if (berth_seccomp_load (s, &notify_fd, &err) < 0)
        {
          fprintf (stderr, "%s\n", err->msg);
          _exit (101);
        }
      _exit (fn (notify_fd, arg));
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static const char *PROFILE
    = "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': ["
      " {'names': ['mkdir', 'mkdirat'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 1},"
      " {'names': ['rmdir'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 39},"
      " {'names': ['personality'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 22, 'args': ["
      "   {'index': 0, 'value': 4294967295, 'op': 'SCMP_CMP_NE'}]},"
      /* index 0 twice: one rule per condition, i.e. either matches */
      " {'names': ['setpriority'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 13, 'args': ["
      "   {'index': 1, 'value': 11111, 'op': 'SCMP_CMP_EQ'}, {'index': 1, 'value': 22222, 'op': 'SCMP_CMP_EQ'}]}"
      "]}";

static int
check_profile (int notify_fd, void *arg)
{
  const char *dir = arg;

  if (notify_fd != -1)
    return 1;
  errno = 0;
  if (mkdir (dir, 0700) == 0 || errno != EPERM)
    return 2;
  if (rmdir ("/") == 0 || errno != ENOTEMPTY)
    return 3;
  if (personality (0xffffffff) < 0) /* the query is allowed */
    return 4;
  if (personality (PER_LINUX) == 0 || errno != EINVAL)
    return 5;
  if (setpriority (PRIO_PROCESS, 11111, 0) == 0 || errno != EACCES)
    return 6;
  if (setpriority (PRIO_PROCESS, 22222, 0) == 0 || errno != EACCES)
    return 7;
  if (setpriority (PRIO_PROCESS, 0, getpriority (PRIO_PROCESS, 0)) < 0)
    return 8;
  return 0;
}

static void
test_filter_denies_in_child (void **state)
{
  char dir[] = "/tmp/berth-seccomp-XXXXXX";
  struct berth_seccomp *s;

  if (!have_seccomp_syscall ())
    skip ();
  s = compile_ok (PROFILE);
  assert_non_null (mkdtemp (dir));
  assert_int_equal (rmdir (dir), 0);
  assert_int_equal (run_filtered (s, true, check_profile, dir), 0);
  /* The parent is not filtered. */
  assert_int_equal (mkdir (dir, 0700), 0);
  assert_int_equal (rmdir (dir), 0);
  /* Without no_new_privs only CAP_SYS_ADMIN lets a filter in. */
  if (geteuid () == 0)
    assert_int_equal (run_filtered (s, false, check_profile, dir), 0);
  berth_seccomp_free (s);
}

static int
check_default_errno (int notify_fd, void *arg)
{
  errno = 0;
  if (mkdir ("/tmp/berth-seccomp-never", 0700) == 0 || errno != EHWPOISON)
    return 1;
  if (rmdir ("/") == 0 || errno != EHWPOISON)
    return 2;
  return 0; /* exit_group is on the allow list */
}

static void
test_default_errno_ret (void **state)
{
  struct berth_seccomp *s;

  if (!have_seccomp_syscall ())
    skip ();
  s = compile_ok ("{'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 133, 'syscalls': ["
                  " {'names': ['exit_group', 'exit'], 'action': 'SCMP_ACT_ALLOW'}]}");
  assert_int_equal (EHWPOISON, 133);
  assert_int_equal (run_filtered (s, true, check_default_errno, NULL), 0);
  berth_seccomp_free (s);
}

static void
test_load_needs_nnp_or_cap (void **state)
{
  struct berth_seccomp *s;
  pid_t pid;
  int status;

  if (!have_seccomp_syscall ())
    skip ();
  s = compile_ok (PROFILE);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      berth_err err = NULL;
      int fd;

      /* An unprivileged user without no_new_privs. */
      if (geteuid () == 0 && (setgid (65534) < 0 || setuid (65534) < 0))
        _exit (10);
      if (berth_seccomp_load (s, &fd, &err) == 0)
        _exit (11);
      _exit (strcmp (err->msg, "load seccomp filter (needs no_new_privs or CAP_SYS_ADMIN): permission denied") == 0
                 ? 0
                 : 12);
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
  berth_seccomp_free (s);
}

struct agent
{
  char dir[32];
  char path[108];
  int listen_fd;
};

static void
agent_listen (struct agent *a)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };

  snprintf (a->dir, sizeof (a->dir), "/tmp/berth-seccomp-XXXXXX");
  assert_non_null (mkdtemp (a->dir));
  snprintf (a->path, sizeof (a->path), "%s/agent.sock", a->dir);
  memcpy (addr.sun_path, a->path, strlen (a->path) + 1);
  a->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true (a->listen_fd >= 0);
  assert_int_equal (bind (a->listen_fd, (struct sockaddr *)&addr, sizeof (addr)), 0);
  assert_int_equal (listen (a->listen_fd, 1), 0);
}

static void
agent_close (struct agent *a)
{
  close (a->listen_fd);
  unlink (a->path);
  rmdir (a->dir);
}

/* Plays the seccomp agent: one connection, one process state, one fd.
 * Returns the fd received. */
static int
agent_receive (struct agent *a, pid_t pid_expected, const char *metadata_expected)
{
  char buf[4096] = "";
  union
  {
    char b[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof (buf) - 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof (u.b) };
  cleanup_close int conn = accept4 (a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  json_t *doc, *md;
  ssize_t n, m;
  int fd;

  assert_true (conn >= 0);
  n = recvmsg (conn, &msg, MSG_CMSG_CLOEXEC);
  assert_true (n > 0);
  assert_non_null (CMSG_FIRSTHDR (&msg));
  assert_int_equal (CMSG_FIRSTHDR (&msg)->cmsg_type, SCM_RIGHTS);
  assert_int_equal (CMSG_FIRSTHDR (&msg)->cmsg_len, CMSG_LEN (sizeof (int)));
  memcpy (&fd, CMSG_DATA (CMSG_FIRSTHDR (&msg)), sizeof (int));
  /* The runtime closes after one state: read to EOF. */
  while ((m = read (conn, buf + n, sizeof (buf) - 1 - (size_t)n)) > 0)
    n += m;
  doc = json_loads (buf, 0, NULL);
  assert_non_null (doc);
  assert_string_equal (json_string_value (json_object_get (doc, "ociVersion")), "1.3.0");
  assert_int_equal (json_array_size (json_object_get (doc, "fds")), 1);
  assert_string_equal (json_string_value (json_array_get (json_object_get (doc, "fds"), 0)), "seccompFd");
  assert_int_equal (json_integer_value (json_object_get (doc, "pid")), pid_expected);
  md = json_object_get (doc, "metadata");
  if (metadata_expected)
    assert_string_equal (json_string_value (md), metadata_expected);
  else
    assert_null (md);
  assert_string_equal (json_string_value (json_object_get (json_object_get (doc, "state"), "id")), "c1");
  json_decref (doc);
  return fd;
}

static json_t *
container_state (pid_t pid)
{
  return json_pack ("{s:s, s:s, s:s, s:i, s:s}", "ociVersion", "1.2.0", "id", "c1", "status", "creating", "pid",
                    (int)pid, "bundle", "/b");
}

static void
test_send_notify_fd_state (void **state)
{
  struct agent a;
  berth_err err = NULL;
  json_t *st = container_state (4422);
  struct stat sa, sb;
  int pipefd[2], fd;

  agent_listen (&a);
  assert_int_equal (pipe2 (pipefd, O_CLOEXEC), 0);
  /* The listen backlog takes the connection and the socket buffer the
   * state, so one process can play both sides. */
  assert_int_equal (berth_seccomp_send_notify_fd (pipefd[0], a.path, NULL, st, 4422, &err), 0);
  fd = agent_receive (&a, 4422, NULL);
  assert_int_equal (fstat (fd, &sa), 0);
  assert_int_equal (fstat (pipefd[0], &sb), 0);
  assert_true (sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev);
  close (fd);
  assert_int_equal (berth_seccomp_send_notify_fd (pipefd[0], a.path, "MKNOD=/dev/null", st, 4422, &err), 0);
  close (agent_receive (&a, 4422, "MKNOD=/dev/null"));
  close (pipefd[0]);
  close (pipefd[1]);
  json_decref (st);
  agent_close (&a);
}

static int
notify_child (int notify_fd, void *arg)
{
  struct agent *a = arg;
  berth_err err = NULL;
  json_t *st;

  if (notify_fd < 0 || !(fcntl (notify_fd, F_GETFD) & FD_CLOEXEC))
    return 1;
  st = container_state (getpid ());
  if (berth_seccomp_send_notify_fd (notify_fd, a->path, "MKNOD=/dev/null", st, getpid (), &err) < 0)
    return 2;
  json_decref (st);
  close (notify_fd);
  /* Answered by the agent, not the kernel. */
  if (syscall (SYS_getppid) != 4242)
    return 3;
  return 0;
}

static void
test_notify_fd_reaches_agent (void **state)
{
  struct agent a;
  struct berth_seccomp *s;
  cleanup_free char *profile = NULL;
  cleanup_close int fd = -1;
  struct seccomp_notif req;
  struct seccomp_notif_resp resp;
  pid_t pid;
  int status;

  if (!have_seccomp_syscall ())
    skip ();
  agent_listen (&a);
  assert_true (asprintf (&profile,
                         "{'defaultAction': 'SCMP_ACT_ALLOW', 'listenerPath': '%s',"
                         " 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_NOTIFY'}]}",
                         a.path)
               > 0);
  s = compile_ok (profile);

  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      berth_err err = NULL;
      int nfd = -1;
      if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || berth_seccomp_load (s, &nfd, &err) < 0)
        _exit (100);
      _exit (notify_child (nfd, &a));
    }
  fd = agent_receive (&a, pid, "MKNOD=/dev/null");
  memset (&req, 0, sizeof (req));
  assert_int_equal (ioctl (fd, SECCOMP_IOCTL_NOTIF_RECV, &req), 0);
  assert_int_equal (req.pid, pid);
  assert_int_equal (req.data.nr, SYS_getppid);
  memset (&resp, 0, sizeof (resp));
  resp.id = req.id;
  resp.val = 4242;
  assert_int_equal (ioctl (fd, SECCOMP_IOCTL_NOTIF_SEND, &resp), 0);

  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
  agent_close (&a);
  berth_seccomp_free (s);
}

static void
test_send_notify_fd_errors (void **state)
{
  berth_err err = NULL;

  assert_int_equal (berth_seccomp_send_notify_fd (0, "/nonexistent/agent.sock", NULL, NULL, 1, &err), -1);
  assert_non_null (err);
  assert_non_null (strstr (err->msg, "connect to seccomp agent at `/nonexistent/agent.sock`: "));
  assert_int_equal (err->errnum, ENOENT);
  berth_err_free (&err);
}

static bool
array_has (json_t *a, const char *s)
{
  for (size_t i = 0; i < json_array_size (a); i++)
    if (strcmp (json_string_value (json_array_get (a, i)), s) == 0)
      return true;
  return false;
}

static void
test_features (void **state)
{
  json_t *f = berth_seccomp_features ();
  json_t *actions = json_object_get (f, "actions");

  assert_true (json_is_true (json_object_get (f, "enabled")));
  assert_int_equal (json_array_size (actions), 9);
  assert_string_equal (json_string_value (json_array_get (actions, 0)), "SCMP_ACT_ALLOW");
  assert_string_equal (json_string_value (json_array_get (actions, 8)), "SCMP_ACT_TRAP");
  assert_int_equal (json_array_size (json_object_get (f, "operators")), 7);
  assert_true (array_has (json_object_get (f, "archs"), "SCMP_ARCH_X86_64"));
  assert_true (array_has (json_object_get (f, "archs"), "SCMP_ARCH_AARCH64"));
  assert_true (array_has (json_object_get (f, "archs"), "SCMP_ARCH_X32"));
  assert_int_equal (array_has (json_object_get (f, "archs"), "SCMP_ARCH_LOONGARCH64"),
                    seccomp_arch_resolve_name ("loongarch64") != 0);
  assert_true (array_has (json_object_get (f, "knownFlags"), "SECCOMP_FILTER_FLAG_TSYNC"));
  if (have_seccomp_syscall ())
    assert_true (array_has (json_object_get (f, "supportedFlags"), "SECCOMP_FILTER_FLAG_LOG"));
  json_decref (f);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_refusals_name_the_path),
    cmocka_unit_test (test_refusals_in_syscalls),
    cmocka_unit_test (test_refusals_in_args),
    cmocka_unit_test (test_compiles_real_profiles),
    cmocka_unit_test (test_filter_denies_in_child),
    cmocka_unit_test (test_default_errno_ret),
    cmocka_unit_test (test_load_needs_nnp_or_cap),
    cmocka_unit_test (test_notify_fd_reaches_agent),
    cmocka_unit_test (test_send_notify_fd_state),
    cmocka_unit_test (test_send_notify_fd_errors),
    cmocka_unit_test (test_features),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
