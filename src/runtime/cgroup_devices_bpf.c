/* Device rules as a cgroup v2 BPF_PROG_TYPE_CGROUP_DEVICE program, written
 * instruction by instruction (no libbpf, no clang): the program is a few
 * compares per rule.  Semantics in cgroup_devices_bpf.h.
 *
 * The kernel calls the program with r1 = struct bpf_cgroup_dev_ctx:
 *     access_type  (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*
 *     major, minor
 * and allows the access when it returns 1.
 *
 * Layout of the program:
 *
 *     r2 = ctx->access_type
 *     r3 = r2 >> 16            accesses asked for and not yet decided
 *     r2 &= 0xffff             device type
 *     r4 = ctx->major
 *     r5 = ctx->minor
 *     for each rule, LAST FIRST:
 *         if r2 != type  goto next       (omitted for 'a')
 *         if r4 != major goto next       (omitted for -1)
 *         if r5 != minor goto next       (omitted for -1)
 *       deny:  if (r3 & access) return 0
 *       allow: r3 &= ~access; if (r3 == 0) return 1
 *     next:
 *     return 0
 *
 * Walking the rules from the last one and deciding each access bit at the
 * first (i.e. last-listed) rule naming it is "last match wins" per access.
 * A rule with access "rwm" needs no bit work: it decides every bit still
 * open (return 0 or 1).  A rule matching every device with "rwm" ends the
 * program: the rules listed before it cannot be reached, and the verifier
 * refuses unreachable instructions, so they are not emitted.
 */
#include "runtime/cgroup_devices_bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/cleanup.h"

#define ACC_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)

static int
sys_bpf (int cmd, union bpf_attr *attr)
{
  return (int)syscall (__NR_bpf, cmd, attr, sizeof (*attr));
}

static uint64_t
ptr_u64 (const void *p)
{
  return (uint64_t)(uintptr_t)p;
}

/* ---- the generator ---- */

struct prog
{
  struct bpf_insn *insns;
  size_t n, cap;
};

static void
emit (struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
  if (p->n == p->cap)
    {
      p->cap = p->cap ? p->cap * 2 : 64;
      p->insns = realloc (p->insns, p->cap * sizeof (*p->insns));
      if (p->insns == NULL)
        abort ();
    }
  p->insns[p->n++] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

static void
emit_return (struct prog *p, int value)
{
  emit (p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, value);
  emit (p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* A rule checked and converted to the kernel's terms. */
struct dev_rule
{
  bool allow;
  bool any_type, any_major, any_minor;
  int32_t type;          /* BPF_DEVCG_DEV_* */
  uint32_t major, minor; /* when not any */
  int32_t access;        /* BPF_DEVCG_ACC_* */
};

static int
convert_rule (const struct berth_device_rule *d, size_t i, struct dev_rule *out, berth_err *err)
{
  char type = d->type ? d->type : 'a';

  memset (out, 0, sizeof (*out));
  out->allow = d->allow;
  switch (type)
    {
    case 'a':
      out->any_type = true;
      break;
    case 'c':
      out->type = BPF_DEVCG_DEV_CHAR;
      break;
    case 'b':
      out->type = BPF_DEVCG_DEV_BLOCK;
      break;
    default:
      return berth_fail (err, 0, "devices[%zu]: invalid type `%c`", i, type);
    }
  if (d->major > (int64_t)UINT32_MAX)
    return berth_fail (err, 0, "devices[%zu]: major %" PRId64 " out of range", i, d->major);
  if (d->minor > (int64_t)UINT32_MAX)
    return berth_fail (err, 0, "devices[%zu]: minor %" PRId64 " out of range", i, d->minor);
  out->any_major = d->major < 0;
  out->any_minor = d->minor < 0;
  out->major = out->any_major ? 0 : (uint32_t)d->major;
  out->minor = out->any_minor ? 0 : (uint32_t)d->minor;
  if (d->access == NULL || d->access[0] == '\0')
    out->access = ACC_ALL;
  for (const char *c = d->access; c != NULL && *c != '\0'; c++)
    switch (*c)
      {
      case 'r':
        out->access |= BPF_DEVCG_ACC_READ;
        break;
      case 'w':
        out->access |= BPF_DEVCG_ACC_WRITE;
        break;
      case 'm':
        out->access |= BPF_DEVCG_ACC_MKNOD;
        break;
      default:
        return berth_fail (err, 0, "devices[%zu]: invalid access `%s` (a combination of r, w and m)", i, d->access);
      }
  return 0;
}

/* Emit one rule; returns true when it matches every access to every
 * device, i.e. nothing after it can run. */
static bool
emit_rule (struct prog *p, const struct dev_rule *r)
{
  int conds = !r->any_type + !r->any_major + !r->any_minor;
  int action;
  int left;

  if (r->access == ACC_ALL)
    action = 2;
  else
    action = r->allow ? 4 : 5;
  /* Each compare jumps over the rest of the block: `left` instructions
   * follow it. */
  left = conds - 1 + action;
  if (!r->any_type)
    emit (p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, (int16_t)left--, r->type);
  if (!r->any_major)
    emit (p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, (int16_t)left--, (int32_t)r->major);
  if (!r->any_minor)
    emit (p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, (int16_t)left--, (int32_t)r->minor);
  if (r->access == ACC_ALL)
    emit_return (p, r->allow ? 1 : 0);
  else if (r->allow)
    {
      emit (p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_3, 0, 0, ~r->access);
      emit (p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_3, 0, 2, 0);
      emit_return (p, 1);
    }
  else
    {
      emit (p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_3, 0, 0);
      emit (p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_0, 0, 0, r->access);
      emit (p, BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0);
      emit_return (p, 0);
    }
  return conds == 0 && r->access == ACC_ALL;
}

int
cg_devices_bpf_build (const struct berth_device_rule *rules, size_t n, struct bpf_insn **out, size_t *n_out,
                      berth_err *err)
{
  struct prog p = { 0 };
  bool ended = false;

  /* Check every rule first: an invalid one is an error even where the
   * program would never reach it. */
  for (size_t i = 0; i < n; i++)
    {
      struct dev_rule r;

      if (convert_rule (&rules[i], i, &r, err) < 0)
        return -1;
    }

  emit (&p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, offsetof (struct bpf_cgroup_dev_ctx, access_type), 0);
  emit (&p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
  emit (&p, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
  emit (&p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
  emit (&p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, offsetof (struct bpf_cgroup_dev_ctx, major), 0);
  emit (&p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, offsetof (struct bpf_cgroup_dev_ctx, minor), 0);
  for (size_t i = n; i-- > 0 && !ended;)
    {
      struct dev_rule r;

      (void)convert_rule (&rules[i], i, &r, err);
      ended = emit_rule (&p, &r);
    }
  if (!ended)
    emit_return (&p, 0);
  *out = p.insns;
  *n_out = p.n;
  return 0;
}

/* ---- the kernel side ---- */

/* The end of the verifier's log is where it says why. */
static const char *
log_tail (char *log)
{
  size_t len = strlen (log);
  const size_t keep = 2048;
  char *last;

  while (len > 0 && (log[len - 1] == '\n' || log[len - 1] == ' '))
    log[--len] = '\0';
  /* The statistics line that ends every log says nothing about why. */
  last = strrchr (log, '\n');
  if (last != NULL && strncmp (last + 1, "processed ", 10) == 0)
    {
      *last = '\0';
      len = (size_t)(last - log);
    }
  for (char *c = log; *c != '\0'; c++)
    if (*c == '\n')
      *c = ' ';
  return len > keep ? log + len - keep : log;
}

int
cg_devices_bpf_load (const struct bpf_insn *insns, size_t n, berth_err *err)
{
  const size_t log_size = 64 * 1024;
  cleanup_free char *log = NULL;
  union bpf_attr attr;
  int fd;

  memset (&attr, 0, sizeof (attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = ptr_u64 (insns);
  attr.insn_cnt = (uint32_t)n;
  attr.license = ptr_u64 ("GPL");
  memcpy (attr.prog_name, "berth_devices", sizeof ("berth_devices"));
  fd = sys_bpf (BPF_PROG_LOAD, &attr);
  if (fd >= 0)
    return fd;
  if (errno != EINVAL && errno != EACCES)
    {
      if (errno == EPERM)
        return berth_fail (err, errno,
                           "load the device filter (BPF_PROG_LOAD; needs CAP_BPF or CAP_SYS_ADMIN; before Linux "
                           "5.11 also a large enough RLIMIT_MEMLOCK)");
      return berth_fail (err, errno, "load the device filter (BPF_PROG_LOAD)");
    }
  /* Again with the verifier's log, which says which instruction it
   * refused and why. */
  log = calloc (1, log_size);
  if (log == NULL)
    abort ();
  attr.log_level = 1;
  attr.log_buf = ptr_u64 (log);
  attr.log_size = (uint32_t)log_size;
  fd = sys_bpf (BPF_PROG_LOAD, &attr);
  if (fd >= 0)
    return fd;
  if (log[0] == '\0')
    return berth_fail (err, errno, "load the device filter (BPF_PROG_LOAD)");
  return berth_fail (err, errno, "load the device filter: the verifier says `%s`", log_tail (log));
}

/* The programs attached to dirfd itself and the flags they were attached
 * with.  The kernel says how many there are when asked with no buffer (or
 * a small one: ENOSPC); the count may grow before the next call. */
static int
query (int dirfd, uint32_t **ids, size_t *n, uint32_t *flags, berth_err *err)
{
  cleanup_free uint32_t *buf = NULL;
  uint32_t cap = 0;

  for (;;)
    {
      union bpf_attr attr;
      int r;

      memset (&attr, 0, sizeof (attr));
      attr.query.target_fd = (uint32_t)dirfd;
      attr.query.attach_type = BPF_CGROUP_DEVICE;
      attr.query.prog_ids = ptr_u64 (buf);
      attr.query.prog_cnt = cap;
      r = sys_bpf (BPF_PROG_QUERY, &attr);
      if (r < 0 && errno != ENOSPC)
        return berth_fail (err, errno, "query the device programs (BPF_PROG_QUERY)");
      if (r == 0 && attr.query.prog_cnt <= cap)
        {
          *n = attr.query.prog_cnt;
          *flags = attr.query.attach_flags;
          *ids = steal_pointer (&buf);
          return 0;
        }
      cap = attr.query.prog_cnt + 4;
      free (buf);
      buf = calloc (cap, sizeof (*buf));
      if (buf == NULL)
        abort ();
    }
}

int
cg_devices_bpf_query (int dirfd, uint32_t **ids, size_t *n, berth_err *err)
{
  uint32_t flags;

  *ids = NULL;
  *n = 0;
  return query (dirfd, ids, n, &flags, err);
}

/* Detach the program with this id from dirfd; one already gone (a
 * concurrent update) is fine. */
static int
detach_id (int dirfd, uint32_t id, berth_err *err)
{
  cleanup_close int fd = -1;
  union bpf_attr attr;

  memset (&attr, 0, sizeof (attr));
  attr.prog_id = id;
  fd = sys_bpf (BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return 0;
      return berth_fail (err, errno, "open the earlier device program %" PRIu32 " (BPF_PROG_GET_FD_BY_ID)", id);
    }
  memset (&attr, 0, sizeof (attr));
  attr.target_fd = (uint32_t)dirfd;
  attr.attach_bpf_fd = (uint32_t)fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  if (sys_bpf (BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
    return berth_fail (err, errno, "detach the earlier device program %" PRIu32 " (BPF_PROG_DETACH)", id);
  return 0;
}

int
cg_devices_bpf_attach (int dirfd, int prog_fd, berth_err *err)
{
  cleanup_free uint32_t *old = NULL;
  size_t n_old = 0;
  uint32_t flags = 0;
  union bpf_attr attr;

  if (query (dirfd, &old, &n_old, &flags, err) < 0)
    return -1;
  memset (&attr, 0, sizeof (attr));
  attr.target_fd = (uint32_t)dirfd;
  attr.attach_bpf_fd = (uint32_t)prog_fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  if (n_old > 0 && !(flags & BPF_F_ALLOW_MULTI))
    {
      /* Someone attached without BPF_F_ALLOW_MULTI: a multi attach would
       * fail (EPERM); attaching with the same flags replaces that one. */
      attr.attach_flags = flags;
      if (sys_bpf (BPF_PROG_ATTACH, &attr) < 0)
        return berth_fail (err, errno, "attach the device filter (BPF_PROG_ATTACH, replacing)");
      return 0;
    }
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf (BPF_PROG_ATTACH, &attr) < 0)
    return berth_fail (err, errno, "attach the device filter (BPF_PROG_ATTACH)");
  /* Until these are gone both filters apply: stricter, never looser. */
  for (size_t i = 0; i < n_old; i++)
    if (detach_id (dirfd, old[i], err) < 0)
      return -1;
  return 0;
}

int
cg_devices_bpf_apply (const char *dir, const struct berth_device_rule *rules, size_t n, berth_err *err)
{
  cleanup_free struct bpf_insn *insns = NULL;
  cleanup_close int dirfd = -1;
  cleanup_close int prog_fd = -1;
  struct statfs fs;
  size_t n_insns;

  if (cg_devices_bpf_build (rules, n, &insns, &n_insns, err) < 0)
    return -1;
  dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return berth_fail (err, errno, "open `%s`", dir);
  if (fstatfs (dirfd, &fs) < 0)
    return berth_fail (err, errno, "statfs `%s`", dir);
  if (fs.f_type != CGROUP2_SUPER_MAGIC)
    return berth_fail (err, 0, "`%s` is not a cgroup v2 directory (device programs attach only to those)", dir);
  prog_fd = cg_devices_bpf_load (insns, n_insns, err);
  if (prog_fd < 0)
    return -1;
  if (cg_devices_bpf_attach (dirfd, prog_fd, err) < 0)
    return berth_wrap (err, "`%s`", dir);
  return 0;
}
