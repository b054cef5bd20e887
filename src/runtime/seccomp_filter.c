/* linux.seccomp: validation, compilation to BPF (parent) and loading (init).
 * The protocol with the seccomp agent is drawn in seccomp.h. */
#include "runtime/seccomp_filter.h"

#include "runtime/hooks.h"

#include <ctype.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "spec/json_path.h"
#include "spec/spec.h"
#include "util/cleanup.h"

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define SECCOMP_PATH "linux.seccomp"
/* libseccomp's binary-tree optimisation pays off on long profiles; runc
 * enables it past 32 entries (libseccomp <= 2.5.4 misbehaves with none). */
#define OPTIMIZE_MIN_RULES 32
#define MAX_SYSCALL_ARGS 6

struct berth_seccomp
{
  struct sock_filter *insns;
  unsigned short n_insns;
  unsigned int flags; /* SECCOMP_FILTER_FLAG_* for seccomp(2) */
  bool notify;        /* a rule uses SCMP_ACT_NOTIFY */
  char *listener_path;
  char *listener_metadata;
};

/* Name tables are sorted: `features` prints them in this order. */
struct action_name
{
  const char *name;
  uint32_t action;
  bool takes_errno;
};

static const struct action_name actions[] = {
  { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false },
  { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO (0), true },
  { "SCMP_ACT_KILL", SCMP_ACT_KILL, false },
  { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
  { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false },
  { "SCMP_ACT_LOG", SCMP_ACT_LOG, false },
  { "SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false },
  { "SCMP_ACT_TRACE", SCMP_ACT_TRACE (0), true },
  { "SCMP_ACT_TRAP", SCMP_ACT_TRAP, false },
};

struct op_name
{
  const char *name;
  enum scmp_compare op;
};

static const struct op_name operators[] = {
  { "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
  { "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
  { "SCMP_CMP_NE", SCMP_CMP_NE },
};

/* The spec's names (libseccomp 2.6's list).  libseccomp's own name for each
 * is the lower-case suffix ("SCMP_ARCH_X86_64" -> "x86_64"); which of them
 * work is asked of the libseccomp in use, at run time. */
static const char *const archs[] = {
  "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",       "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",     "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",  "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",      "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64",  "SCMP_ARCH_PPC",         "SCMP_ARCH_PPC64",    "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390",      "SCMP_ARCH_S390X",       "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB",
  "SCMP_ARCH_X32",     "SCMP_ARCH_X86",       "SCMP_ARCH_X86_64",
};

#define ARCH_PREFIX "SCMP_ARCH_"

/* The libseccomp token, 0 when this libseccomp does not know the arch. */
static uint32_t
arch_token (const char *spec_name)
{
  char lower[32];
  const char *suffix = spec_name + strlen (ARCH_PREFIX);
  size_t i;

  for (i = 0; suffix[i] && i < sizeof (lower) - 1; i++)
    lower[i] = (char)tolower ((unsigned char)suffix[i]);
  lower[i] = '\0';
  return seccomp_arch_resolve_name (lower);
}

/* In runc's order.  TSYNC is accepted and ignored, as runc does: the init
 * is single-threaded, and the kernel refuses TSYNC with a listener.
 * WAIT_KILLABLE_RECV only means something with a listener. */
struct flag_name
{
  const char *name;
  unsigned long flag;
};

static const struct flag_name flags[] = {
  { "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC },
  { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
  { "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
  { "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV },
};

#define N_ELEMENTS(a) (sizeof (a) / sizeof ((a)[0]))

/* The syscalls the init uses to hand the listener fd to the parent after
 * loading: notified, they would wait for an agent that has not got the fd
 * yet, and create would hang.  write is runc's rule (its init writes the fd
 * number); berth's init sends the fd with one sendmsg. */
static const char *const notify_forbidden[] = { "write", "sendmsg" };

static void
seccomp_ctx_releasep (scmp_filter_ctx *ctx)
{
  if (*ctx != NULL)
    seccomp_release (*ctx);
}
#define cleanup_scmp __attribute__ ((cleanup (seccomp_ctx_releasep)))

/* seccomp(2) checks the flags before it reads the program: with a NULL
 * program it answers EFAULT when the flags are known, EINVAL when not.
 * ENOSYS (valgrind) or EPERM (a filter denying seccomp) tell nothing.
 * Returns that errno; nothing is ever installed. */
static int
probe_flag (unsigned long flag)
{
  if (flag == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
    flag |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  return syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) < 0 ? errno : 0;
}

/* Every table starts with its name: the index of `name`, or -1. */
static ssize_t
find_name (const void *table, size_t n, size_t stride, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (*(const char *const *)((const char *)table + i * stride), name) == 0)
      return (ssize_t)i;
  return -1;
}
#define FIND_NAME(table, name) find_name (table, N_ELEMENTS (table), sizeof (table[0]), name)

static int
parse_action (json_t *obj, const char *parent, const char *key, const char *errno_key, uint32_t *out, berth_err *err)
{
  cleanup_free char *name = NULL;
  cleanup_free char *path = spec_path_key (parent, key);
  const struct action_name *a;
  uint16_t errno_ret = EPERM;
  int has_errno;
  ssize_t i;

  if (spec_get_string (obj, parent, key, SPEC_REQUIRED, &name, err) < 0)
    return -1;
  i = FIND_NAME (actions, name);
  if (i < 0)
    return spec_fail (err, path, "unknown action \"%s\"", name);
  a = &actions[i];
  has_errno = spec_get_uint16 (obj, parent, errno_key, 0, &errno_ret, err);
  if (has_errno < 0)
    return -1;
  if (has_errno && !a->takes_errno)
    {
      cleanup_free char *epath = spec_path_key (parent, errno_key);
      return spec_fail (err, epath, "action %s takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", name);
    }
  *out = a->takes_errno ? (a->action | errno_ret) : a->action;
  return 0;
}

static int
add_architectures (scmp_filter_ctx ctx, json_t *seccomp, berth_err *err)
{
  cleanup_strv char **names = NULL;
  size_t n = 0;

  if (spec_get_strv (seccomp, SECCOMP_PATH, "architectures", 0, &names, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *path = spec_path_index (SECCOMP_PATH ".architectures", i);
      const char *name = names[i];
      uint32_t token;
      int r;

      if (FIND_NAME (archs, name) < 0)
        return spec_fail (err, path, "unknown architecture \"%s\"", name);
      token = arch_token (name);
      if (token == 0)
        {
          const struct scmp_version *v = seccomp_version ();
          return spec_fail (err, path, "%s is not supported by libseccomp %u.%u.%u", name, v->major, v->minor,
                            v->micro);
        }
      r = seccomp_arch_add (ctx, token);
      if (r < 0 && r != -EEXIST)
        return berth_fail (err, -r, "%s: add architecture %s", path, name);
    }
  return 0;
}

static int
parse_flags (json_t *seccomp, unsigned int *out, berth_err *err)
{
  cleanup_strv char **names = NULL;
  size_t n = 0;

  *out = 0;
  if (spec_get_strv (seccomp, SECCOMP_PATH, "flags", 0, &names, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *path = spec_path_index (SECCOMP_PATH ".flags", i);
      ssize_t j = FIND_NAME (flags, names[i]);
      const struct flag_name *f = j < 0 ? NULL : &flags[j];

      if (f == NULL)
        return spec_fail (err, path, "unknown flag \"%s\"", names[i]);
      if (f->flag == SECCOMP_FILTER_FLAG_TSYNC)
        continue;
      if (probe_flag (f->flag) == EINVAL)
        return spec_fail (err, path, "%s is not supported by this kernel", names[i]);
      *out |= f->flag;
    }
  return 0;
}

/* args[] into conditions; *split when an index repeats (libseccomp takes
 * one condition per argument in a rule, so runc adds one rule each then). */
static int
parse_args (json_t *call, const char *parent, struct scmp_arg_cmp **out, size_t *n_out, bool *split, berth_err *err)
{
  cleanup_free char *path = spec_path_key (parent, "args");
  cleanup_free struct scmp_arg_cmp *conds = NULL;
  unsigned seen[MAX_SYSCALL_ARGS] = { 0 };
  json_t *args = NULL;
  size_t n;

  *n_out = 0;
  *split = false;
  if (spec_get_array (call, parent, "args", 0, &args, err) < 0)
    return -1;
  n = args ? json_array_size (args) : 0;
  conds = spec_xcalloc (n, sizeof (*conds));
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *apath = spec_path_index (path, i);
      cleanup_free char *op_name = NULL;
      json_t *arg = json_array_get (args, i);
      const struct op_name *op;
      ssize_t k;
      int64_t index = 0;
      uint64_t value = 0, value_two = 0;

      if (!json_is_object (arg))
        return spec_fail (err, apath, "expected object");
      if (spec_get_range (arg, apath, "index", SPEC_REQUIRED, 0, MAX_SYSCALL_ARGS - 1, &index, err) < 0
          || spec_get_uint64 (arg, apath, "value", SPEC_REQUIRED, &value, err) < 0
          || spec_get_uint64 (arg, apath, "valueTwo", 0, &value_two, err) < 0
          || spec_get_string (arg, apath, "op", SPEC_REQUIRED, &op_name, err) < 0)
        return -1;
      k = FIND_NAME (operators, op_name);
      if (k < 0)
        {
          cleanup_free char *opath = spec_path_key (apath, "op");
          return spec_fail (err, opath, "unknown operator \"%s\"", op_name);
        }
      op = &operators[k];
      if (seen[index]++)
        *split = true;
      conds[i] = (struct scmp_arg_cmp){ .arg = (unsigned)index, .op = op->op, .datum_a = value, .datum_b = value_two };
    }
  *out = steal_pointer (&conds);
  *n_out = n;
  return 0;
}

static int
add_rules_for (scmp_filter_ctx ctx, int nr, uint32_t action, const struct scmp_arg_cmp *conds, size_t n, bool split)
{
  int r = 0;

  if (!split)
    return seccomp_rule_add_array (ctx, action, nr, n, conds);
  for (size_t i = 0; i < n && r == 0; i++)
    r = seccomp_rule_add_array (ctx, action, nr, 1, &conds[i]);
  return r;
}

struct compile_state
{
  scmp_filter_ctx ctx;
  uint32_t default_action;
  bool notify_listed; /* SCMP_ACT_NOTIFY appears in the profile */
  bool notify_added;  /* ... and made it into the filter */
  size_t n_rules;
};

static int
add_syscall_entry (struct compile_state *cs, json_t *call, const char *path, berth_err *err)
{
  cleanup_free char *names_path = spec_path_key (path, "names");
  cleanup_free struct scmp_arg_cmp *conds = NULL;
  cleanup_strv char **names = NULL;
  size_t n_names = 0, n_conds = 0;
  uint32_t action;
  bool split;

  if (!json_is_object (call))
    return spec_fail (err, path, "expected object");
  if (spec_get_strv (call, path, "names", SPEC_REQUIRED, &names, &n_names, err) < 0)
    return -1;
  if (n_names == 0)
    return spec_fail (err, names_path, "must contain at least one entry");
  if (parse_action (call, path, "action", "errnoRet", &action, err) < 0)
    return -1;
  if (parse_args (call, path, &conds, &n_conds, &split, err) < 0)
    return -1;
  if (action == SCMP_ACT_NOTIFY)
    cs->notify_listed = true;
  for (size_t i = 0; i < n_names; i++)
    {
      cleanup_free char *npath = spec_path_index (names_path, i);
      int nr, r;

      if (names[i][0] == '\0')
        return spec_fail (err, npath, "must not be empty");
      if (action == SCMP_ACT_NOTIFY && FIND_NAME (notify_forbidden, names[i]) >= 0)
        return spec_fail (err, npath, "SCMP_ACT_NOTIFY cannot be used for the %s syscall", names[i]);
      /* libseccomp refuses a rule that repeats the default: it is a no-op. */
      if (action == cs->default_action)
        continue;
      nr = seccomp_syscall_resolve_name (names[i]);
      if (nr == __NR_SCMP_ERROR)
        continue; /* newer than this kernel or libseccomp */
      r = add_rules_for (cs->ctx, nr, action, conds, n_conds, split);
      if (r < 0)
        return berth_fail (err, -r, "%s: add seccomp rule for %s", npath, names[i]);
      cs->n_rules++;
      if (action == SCMP_ACT_NOTIFY)
        cs->notify_added = true;
    }
  return 0;
}

static int
add_syscalls (struct compile_state *cs, json_t *seccomp, berth_err *err)
{
  json_t *calls = NULL;

  if (spec_get_array (seccomp, SECCOMP_PATH, "syscalls", 0, &calls, err) < 0)
    return -1;
  for (size_t i = 0; calls && i < json_array_size (calls); i++)
    {
      cleanup_free char *path = spec_path_index (SECCOMP_PATH ".syscalls", i);
      if (add_syscall_entry (cs, json_array_get (calls, i), path, err) < 0)
        return -1;
    }
  return 0;
}

/* libseccomp 2.5 exports only to an fd; a memfd keeps it in memory. */
static int
export_bpf (scmp_filter_ctx ctx, struct berth_seccomp *s, berth_err *err)
{
  cleanup_close int fd = memfd_create ("berth-seccomp", MFD_CLOEXEC);
  off_t size;
  size_t n, done = 0;
  int r;

  if (fd < 0)
    return berth_fail (err, errno, "memfd_create");
  r = seccomp_export_bpf (ctx, fd);
  if (r < 0)
    return berth_fail (err, -r, "export seccomp filter");
  size = lseek (fd, 0, SEEK_END);
  if (size < 0)
    return berth_fail (err, errno, "seek seccomp filter");
  n = (size_t)size / sizeof (struct sock_filter);
  if (n == 0 || (size_t)size % sizeof (struct sock_filter) != 0)
    return berth_fail (err, 0, "export seccomp filter: unexpected size %lld", (long long)size);
  if (n > BPF_MAXINSNS)
    return berth_fail (err, 0, "seccomp filter too large: %zu instructions, the kernel takes %d", n, BPF_MAXINSNS);
  s->insns = spec_xcalloc (n, sizeof (struct sock_filter));
  s->n_insns = (unsigned short)n;
  while (done < (size_t)size)
    {
      ssize_t got = pread (fd, (char *)s->insns + done, (size_t)size - done, (off_t)done);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        return berth_fail (err, got < 0 ? errno : EIO, "read seccomp filter");
      done += (size_t)got;
    }
  return 0;
}

static int
parse_listener (json_t *seccomp, struct berth_seccomp *s, bool notify_listed, berth_err *err)
{
  if (spec_get_string (seccomp, SECCOMP_PATH, "listenerPath", 0, &s->listener_path, err) < 0
      || spec_get_string (seccomp, SECCOMP_PATH, "listenerMetadata", 0, &s->listener_metadata, err) < 0)
    return -1;
  if (s->listener_path && s->listener_path[0] == '\0')
    {
      free (s->listener_path);
      s->listener_path = NULL;
    }
  if (s->listener_metadata && s->listener_metadata[0] != '\0' && s->listener_path == NULL)
    return spec_fail (err, SECCOMP_PATH ".listenerMetadata", "must not be set without listenerPath");
  if (notify_listed && s->listener_path == NULL)
    return spec_fail (err, SECCOMP_PATH ".listenerPath", "required when SCMP_ACT_NOTIFY is used");
  return 0;
}

static int
compile_into (json_t *seccomp, struct berth_seccomp *s, berth_err *err)
{
  cleanup_scmp scmp_filter_ctx ctx = NULL;
  struct compile_state cs = { 0 };

  if (!json_is_object (seccomp))
    return spec_fail (err, SECCOMP_PATH, "expected object");
  if (parse_action (seccomp, SECCOMP_PATH, "defaultAction", "defaultErrnoRet", &cs.default_action, err) < 0)
    return -1;
  /* Same reason as for write: every syscall of the init would wait. */
  if (cs.default_action == SCMP_ACT_NOTIFY)
    return spec_fail (err, SECCOMP_PATH ".defaultAction", "SCMP_ACT_NOTIFY cannot be used as default action");
  ctx = seccomp_init (cs.default_action);
  if (ctx == NULL)
    return spec_fail (err, SECCOMP_PATH ".defaultAction", "not supported by this kernel or libseccomp");
  cs.ctx = ctx;
  if (add_architectures (ctx, seccomp, err) < 0 || parse_flags (seccomp, &s->flags, err) < 0
      || add_syscalls (&cs, seccomp, err) < 0 || parse_listener (seccomp, s, cs.notify_listed, err) < 0)
    return -1;
  if (cs.n_rules > OPTIMIZE_MIN_RULES)
    (void)seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* older libseccomp: keep the linear filter */
  s->notify = cs.notify_added;
  if (!s->notify)
    s->flags &= ~(unsigned int)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  return export_bpf (ctx, s, err);
}

struct berth_seccomp *
berth_seccomp_compile (json_t *seccomp, berth_err *err)
{
  struct berth_seccomp *s = spec_xcalloc (1, sizeof (*s));

  if (compile_into (seccomp, s, err) < 0)
    {
      berth_seccomp_free (s);
      return NULL;
    }
  return s;
}

int
berth_seccomp_load (const struct berth_seccomp *s, int *notify_fd_out, berth_err *err)
{
  struct sock_fprog prog = { .len = s->n_insns, .filter = s->insns };
  unsigned long fl = s->flags;
  long r;

  *notify_fd_out = -1;
  if (s->notify)
    fl |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  r = syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, fl, &prog);
  if (r < 0 && errno == ENOSYS && fl == 0)
    r = prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
  if (r < 0 && errno == EACCES)
    return berth_fail (err, errno, "load seccomp filter (needs no_new_privs or CAP_SYS_ADMIN)");
  if (r < 0)
    return berth_fail (err, errno, "load seccomp filter");
  if (s->notify)
    *notify_fd_out = (int)r;
  return 0;
}

bool
berth_seccomp_uses_notify (const struct berth_seccomp *s)
{
  return s->notify;
}

const char *
berth_seccomp_listener_path (const struct berth_seccomp *s)
{
  return s->listener_path;
}

const char *
berth_seccomp_listener_metadata (const struct berth_seccomp *s)
{
  return s->listener_metadata && s->listener_metadata[0] ? s->listener_metadata : NULL;
}

void
berth_seccomp_free (struct berth_seccomp *s)
{
  if (s == NULL)
    return;
  free (s->insns);
  free (s->listener_path);
  free (s->listener_metadata);
  free (s);
}

static char *
process_state_json (const char *metadata, json_t *container_state, pid_t pid)
{
  json_auto_t *doc = json_object ();
  char *text;

  json_object_set_new (doc, "ociVersion", json_string (BERTH_OCI_VERSION));
  json_object_set_new (doc, "fds", json_pack ("[s]", "seccompFd"));
  json_object_set_new (doc, "pid", json_integer (pid));
  if (metadata && *metadata)
    json_object_set_new (doc, "metadata", json_string (metadata));
  json_object_set (doc, "state", container_state ? container_state : json_null ());
  text = json_dumps (doc, JSON_COMPACT);
  if (text == NULL)
    abort ();
  return text;
}

static int
send_with_fd (int sock, const char *data, size_t len, int fd)
{
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof (u.buf) };
  struct cmsghdr *c;
  ssize_t n;

  memset (&u, 0, sizeof (u));
  c = CMSG_FIRSTHDR (&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (c), &fd, sizeof (int));
  do
    n = sendmsg (sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return (int)(n < 0 ? -1 : n);
}

/* The fd goes with the first chunk only, as the spec requires. */
static int
send_all (int sock, const char *data, size_t len, int fd)
{
  size_t done;
  int n = send_with_fd (sock, data, len, fd);

  if (n < 0)
    return -1;
  for (done = (size_t)n; done < len;)
    {
      ssize_t m = send (sock, data + done, len - done, MSG_NOSIGNAL);
      if (m < 0 && errno == EINTR)
        continue;
      if (m < 0)
        return -1;
      done += (size_t)m;
    }
  return 0;
}

int
berth_seccomp_send_notify_fd (int notify_fd, const char *listener_path, const char *metadata, json_t *container_state,
                              pid_t pid, berth_err *err)
{
  cleanup_free char *text = NULL;
  cleanup_close int sock = -1;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int r;

  if (listener_path == NULL || *listener_path == '\0')
    return berth_fail (err, 0, "%s.listenerPath: required when SCMP_ACT_NOTIFY is used", SECCOMP_PATH);
  if (strlen (listener_path) >= sizeof (addr.sun_path))
    return berth_fail (err, ENAMETOOLONG, "connect to seccomp agent at `%s`", listener_path);
  memcpy (addr.sun_path, listener_path, strlen (listener_path) + 1);
  sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return berth_fail (err, errno, "socket");
  do
    r = connect (sock, (struct sockaddr *)&addr, sizeof (addr));
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return berth_fail (err, errno, "connect to seccomp agent at `%s`", listener_path);
  text = process_state_json (metadata, container_state, pid);
  if (send_all (sock, text, strlen (text), notify_fd) < 0)
    return berth_fail (err, errno, "send seccomp fd to agent at `%s`", listener_path);
  return 0;
}

static json_t *
name_array (const void *table, size_t n, size_t stride)
{
  json_t *a = json_array ();

  for (size_t i = 0; i < n; i++)
    json_array_append_new (a, json_string (*(const char *const *)((const char *)table + i * stride)));
  return a;
}

json_t *
berth_seccomp_features (void)
{
  json_t *known = json_array (), *supported = json_array (), *archs_json = json_array ();

  for (size_t i = 0; i < N_ELEMENTS (archs); i++)
    if (arch_token (archs[i]) != 0)
      json_array_append_new (archs_json, json_string (archs[i]));

  for (size_t i = 0; i < N_ELEMENTS (flags); i++)
    {
      json_array_append_new (known, json_string (flags[i].name));
      if (probe_flag (flags[i].flag) == EFAULT)
        json_array_append_new (supported, json_string (flags[i].name));
    }
  return json_pack ("{s:b, s:o, s:o, s:o, s:o, s:o}", "enabled", 1, "actions",
                    name_array (actions, N_ELEMENTS (actions), sizeof (actions[0])), "operators",
                    name_array (operators, N_ELEMENTS (operators), sizeof (operators[0])), "archs", archs_json,
                    "knownFlags", known, "supportedFlags", supported);
}

int
berth_seccomp_forward_notify_fd (const struct berth_seccomp *s, int notify_fd, const char *id, const char *status,
                                 pid_t pid, const char *bundle, json_t *annotations, berth_err *err)
{
  cleanup_free char *text = hooks_state_json (id, status, pid, bundle, annotations);
  json_t *state;
  int ret;

  if (notify_fd < 0)
    return berth_fail (err, 0, "linux.seccomp: the container process sent no notify fd");
  state = json_loads (text, 0, NULL);
  ret = berth_seccomp_send_notify_fd (notify_fd, berth_seccomp_listener_path (s), berth_seccomp_listener_metadata (s),
                                      state, pid, err);
  json_decref (state);
  close (notify_fd);
  return ret;
}
