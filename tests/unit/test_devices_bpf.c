/* The cgroup v2 device filter (cgroup_devices_bpf.c).
 *
 * Pure tests check the emitted instructions (as a disassembly) and run the
 * programs in a small interpreter of the instructions the generator emits,
 * against a model of the semantics, for many rule lists.
 *
 * Live tests (root, a cgroup2 hierarchy, bpf(2) working; skipped otherwise,
 * e.g. under valgrind when it lacks bpf(2): ENOSYS) make
 * berth-bpf-test-<pid> below this process's cgroup in the cgroup2
 * hierarchy (on a hybrid host, the one mounted at .../unified), attach a
 * program, and let forked children join that cgroup and open or mknod
 * devices.  The directory is removed after each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/cgroup_devices_bpf.h"
#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define R(allow_, type_, major_, minor_, access_)                                                                      \
  {                                                                                                                    \
    .allow = (allow_), .type = (type_), .major = (major_), .minor = (minor_), .access = (char *)(access_)              \
  }
#define N(a) (sizeof (a) / sizeof ((a)[0]))

/* ---- a disassembler and an interpreter for what the generator emits ---- */

static char *
disasm (const struct bpf_insn *p, size_t n)
{
  char *out = NULL;
  size_t size = 0;
  FILE *f = open_memstream (&out, &size);

  assert_non_null (f);
  for (size_t i = 0; i < n; i++)
    {
      const struct bpf_insn *x = &p[i];

      switch (x->code)
        {
        case BPF_LDX | BPF_W | BPF_MEM:
          fprintf (f, "ldxw r%d, [r%d+%d]\n", x->dst_reg, x->src_reg, x->off);
          break;
        case BPF_ALU | BPF_MOV | BPF_X:
          fprintf (f, "mov32 r%d, r%d\n", x->dst_reg, x->src_reg);
          break;
        case BPF_ALU64 | BPF_MOV | BPF_K:
          fprintf (f, "mov r%d, %d\n", x->dst_reg, x->imm);
          break;
        case BPF_ALU | BPF_RSH | BPF_K:
          fprintf (f, "rsh32 r%d, %d\n", x->dst_reg, x->imm);
          break;
        case BPF_ALU | BPF_AND | BPF_K:
          fprintf (f, "and32 r%d, %#x\n", x->dst_reg, (unsigned)x->imm);
          break;
        case BPF_JMP32 | BPF_JNE | BPF_K:
          fprintf (f, "jne32 r%d, %d, +%d\n", x->dst_reg, x->imm, x->off);
          break;
        case BPF_JMP32 | BPF_JEQ | BPF_K:
          fprintf (f, "jeq32 r%d, %d, +%d\n", x->dst_reg, x->imm, x->off);
          break;
        case BPF_JMP | BPF_EXIT:
          fprintf (f, "exit\n");
          break;
        default:
          fprintf (f, "?%#x\n", x->code);
        }
    }
  fclose (f);
  return out;
}

/* Runs the program on one request; fails the test on an instruction the
 * generator should not emit or a jump out of the program. */
static int
interpret (const struct bpf_insn *p, size_t n, uint32_t access_type, uint32_t major, uint32_t minor)
{
  const uint32_t ctx[3] = { access_type, major, minor };
  uint64_t r[11] = { 0 };
  size_t pc = 0;

  for (size_t steps = 0; steps < 100000; steps++)
    {
      const struct bpf_insn *x;

      assert_true (pc < n);
      x = &p[pc++];
      switch (x->code)
        {
        case BPF_LDX | BPF_W | BPF_MEM:
          assert_int_equal (x->src_reg, BPF_REG_1);
          assert_true (x->off >= 0 && x->off % 4 == 0 && x->off < 12);
          r[x->dst_reg] = ctx[x->off / 4];
          break;
        case BPF_ALU | BPF_MOV | BPF_X:
          r[x->dst_reg] = (uint32_t)r[x->src_reg];
          break;
        case BPF_ALU64 | BPF_MOV | BPF_K:
          r[x->dst_reg] = (uint64_t)(int64_t)x->imm;
          break;
        case BPF_ALU | BPF_RSH | BPF_K:
          r[x->dst_reg] = (uint32_t)r[x->dst_reg] >> x->imm;
          break;
        case BPF_ALU | BPF_AND | BPF_K:
          r[x->dst_reg] = (uint32_t)r[x->dst_reg] & (uint32_t)x->imm;
          break;
        case BPF_JMP32 | BPF_JNE | BPF_K:
          if ((uint32_t)r[x->dst_reg] != (uint32_t)x->imm)
            pc += (size_t)x->off;
          break;
        case BPF_JMP32 | BPF_JEQ | BPF_K:
          if ((uint32_t)r[x->dst_reg] == (uint32_t)x->imm)
            pc += (size_t)x->off;
          break;
        case BPF_JMP | BPF_EXIT:
          return (int)r[0];
        default:
          fail_msg ("unexpected opcode %#x at %zu", x->code, pc - 1);
        }
    }
  fail_msg ("program does not end");
  return -1;
}

/* The semantics, stated directly: every access asked for is decided by
 * the last rule that matches the device and names it; default deny. */
static bool
model (const struct berth_device_rule *rules, size_t n, char type, uint32_t major, uint32_t minor, const char *acc)
{
  for (const char *a = acc; *a != '\0'; a++)
    {
      bool allowed = false;

      for (size_t i = n; i-- > 0;)
        {
          const struct berth_device_rule *d = &rules[i];
          const char *da = d->access && *d->access ? d->access : "rwm";
          char dt = d->type ? d->type : 'a';

          if ((dt == 'a' || dt == type) && (d->major < 0 || d->major == major) && (d->minor < 0 || d->minor == minor)
              && strchr (da, *a) != NULL)
            {
              allowed = d->allow;
              break;
            }
        }
      if (!allowed)
        return false;
    }
  return true;
}

static uint32_t
access_type (char type, const char *acc)
{
  uint32_t a = 0;

  if (strchr (acc, 'm'))
    a |= BPF_DEVCG_ACC_MKNOD;
  if (strchr (acc, 'r'))
    a |= BPF_DEVCG_ACC_READ;
  if (strchr (acc, 'w'))
    a |= BPF_DEVCG_ACC_WRITE;
  return a << 16 | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
}

static char *
build_disasm (const struct berth_device_rule *rules, size_t n)
{
  cleanup_free struct bpf_insn *insns = NULL;
  berth_err err = NULL;
  size_t count;

  if (cg_devices_bpf_build (rules, n, &insns, &count, &err) < 0)
    fail_msg ("%s", err->msg);
  return disasm (insns, count);
}

#define PROLOGUE                                                                                                       \
  "ldxw r2, [r1+0]\n"                                                                                                  \
  "mov32 r3, r2\n"                                                                                                     \
  "rsh32 r3, 16\n"                                                                                                     \
  "and32 r2, 0xffff\n"                                                                                                 \
  "ldxw r4, [r1+4]\n"                                                                                                  \
  "ldxw r5, [r1+8]\n"

/* ---- pure tests ---- */

static void
test_build_empty_denies_all (void **state)
{
  cleanup_free char *text = build_disasm (NULL, 0);

  assert_string_equal (text, PROLOGUE "mov r0, 0\n"
                                      "exit\n");
}

static void
test_build_layout (void **state)
{
  const struct berth_device_rule rules[] = {
    R (false, 'a', -1, -1, "rwm"),
    R (true, 'c', 1, 3, "rwm"),
    R (true, 'c', 1, -1, "r"),
    R (false, 'b', 8, 0, "w"),
  };
  cleanup_free char *text = build_disasm (rules, N (rules));

  /* Last rule first; the leading "deny a *:* rwm" is the default. */
  assert_string_equal (text, PROLOGUE
                       /* deny b 8:0 w */
                       "jne32 r2, 1, +7\n"
                       "jne32 r4, 8, +6\n"
                       "jne32 r5, 0, +5\n"
                       "mov32 r0, r3\n"
                       "and32 r0, 0x4\n"
                       "jeq32 r0, 0, +2\n"
                       "mov r0, 0\n"
                       "exit\n"
                       /* allow c 1:* r */
                       "jne32 r2, 2, +5\n"
                       "jne32 r4, 1, +4\n"
                       "and32 r3, 0xfffffffd\n"
                       "jne32 r3, 0, +2\n"
                       "mov r0, 1\n"
                       "exit\n"
                       /* allow c 1:3 rwm */
                       "jne32 r2, 2, +4\n"
                       "jne32 r4, 1, +3\n"
                       "jne32 r5, 3, +2\n"
                       "mov r0, 1\n"
                       "exit\n"
                       /* deny a *:* rwm ends the program */
                       "mov r0, 0\n"
                       "exit\n");
}

static void
test_build_match_all_ends_program (void **state)
{
  const struct berth_device_rule rules[] = {
    R (true, 'c', 1, 3, "rwm"), R (true, 'a', -1, -1, NULL), /* access absent: rwm */
    R (false, 'c', 1, 5, ""),                                /* "": rwm, as the v1 writer reads it */
  };
  cleanup_free char *text = build_disasm (rules, N (rules));

  assert_string_equal (text, PROLOGUE "jne32 r2, 2, +4\n"
                                      "jne32 r4, 1, +3\n"
                                      "jne32 r5, 5, +2\n"
                                      "mov r0, 0\n"
                                      "exit\n"
                                      "mov r0, 1\n"
                                      "exit\n");
}

static void
expect_build_error (const struct berth_device_rule *rules, size_t n, const char *msg)
{
  struct bpf_insn *insns = NULL;
  berth_err err = NULL;
  size_t count = 0;

  assert_int_equal (cg_devices_bpf_build (rules, n, &insns, &count, &err), -1);
  assert_null (insns);
  assert_non_null (err);
  assert_string_equal (err->msg, msg);
  berth_err_free (&err);
}

static void
test_build_invalid_rules (void **state)
{
  /* Checked even behind a rule that ends the program. */
  const struct berth_device_rule type[] = { R (true, 'a', -1, -1, "rwm"), R (true, 'x', 1, 3, "r") };
  const struct berth_device_rule access[] = { R (true, 'c', 1, 3, "rx") };
  const struct berth_device_rule major[] = { R (true, 'c', (int64_t)UINT32_MAX + 1, 3, "r") };
  const struct berth_device_rule minor[] = { R (true, 'c', 1, (int64_t)UINT32_MAX + 1, "r") };

  expect_build_error (type, N (type), "devices[1]: invalid type `x`");
  expect_build_error (access, N (access), "devices[0]: invalid access `rx` (a combination of r, w and m)");
  expect_build_error (major, N (major), "devices[0]: major 4294967296 out of range");
  expect_build_error (minor, N (minor), "devices[0]: minor 4294967296 out of range");
}

static void
check_against_model (const struct berth_device_rule *rules, size_t n)
{
  static const char *const accesses[] = { "r", "w", "m", "rw", "rm", "wm", "rwm" };
  static const char types[] = { 'c', 'b' };
  static const uint32_t numbers[] = { 0, 1, 3, 5, 8, UINT32_MAX };
  cleanup_free struct bpf_insn *insns = NULL;
  berth_err err = NULL;
  size_t count;

  if (cg_devices_bpf_build (rules, n, &insns, &count, &err) < 0)
    fail_msg ("%s", err->msg);
  for (size_t t = 0; t < N (types); t++)
    for (size_t ma = 0; ma < N (numbers); ma++)
      for (size_t mi = 0; mi < N (numbers); mi++)
        for (size_t a = 0; a < N (accesses); a++)
          {
            bool want = model (rules, n, types[t], numbers[ma], numbers[mi], accesses[a]);
            int got = interpret (insns, count, access_type (types[t], accesses[a]), numbers[ma], numbers[mi]);

            if (got != (want ? 1 : 0))
              {
                cleanup_free char *text = disasm (insns, count);

                fail_msg ("%c %" PRIu32 ":%" PRIu32 " %s: program says %d, model %d\n%s", types[t], numbers[ma],
                          numbers[mi], accesses[a], got, want, text);
              }
          }
}

static void
test_semantics_match_model (void **state)
{
  static const char types[] = { 'a', 'c', 'b', 0 };
  static const int64_t numbers[] = { -1, 1, 3, 5, UINT32_MAX };
  static const char *const accesses[] = { "r", "w", "m", "rw", "rm", "wm", "rwm", "mwr", "", NULL };
  uint32_t seed = 12345;

  /* The classic lists by hand... */
  {
    const struct berth_device_rule rules[] = { R (false, 'a', -1, -1, "rwm"), R (true, 'c', 1, 3, "rwm"),
                                               R (true, 'c', 1, 5, "rwm"), R (true, 'c', 5, 0, "rwm") };
    check_against_model (rules, N (rules));
  }
  {
    const struct berth_device_rule rules[]
        = { R (true, 'a', -1, -1, "rwm"), R (false, 'c', 1, 5, "w"), R (false, 'b', -1, -1, "m") };
    check_against_model (rules, N (rules));
  }
  {
    const struct berth_device_rule rules[]
        = { R (true, 'c', 1, 3, "r"), R (true, 'c', 1, 3, "w"), R (false, 'c', 1, -1, "m") };
    check_against_model (rules, N (rules));
  }
  check_against_model (NULL, 0);
  /* ... and many made up (a fixed seed: failures reproduce). */
  for (int round = 0; round < 3000; round++)
    {
      struct berth_device_rule rules[7];
      size_t n;

      seed = seed * 1103515245u + 12345u;
      n = (seed >> 16) % N (rules);
      for (size_t i = 0; i < n; i++)
        {
          seed = seed * 1103515245u + 12345u;
          rules[i] = (struct berth_device_rule)R (
              (seed >> 8) & 1, types[(seed >> 9) % N (types)], numbers[(seed >> 12) % N (numbers)],
              numbers[(seed >> 15) % N (numbers)], accesses[(seed >> 18) % N (accesses)]);
        }
      check_against_model (rules, n);
    }
}

/* ---- bpf(2) and live tests ---- */

static char *cg_dir; /* the test cgroup; NULL: live tests skip */
static char *skip_why;

static bool
bpf_usable (void)
{
  static const struct berth_device_rule none[1];
  berth_err err = NULL;
  struct bpf_insn *insns = NULL;
  size_t n;
  int fd;

  if (cg_devices_bpf_build (none, 0, &insns, &n, &err) < 0)
    fail_msg ("%s", err->msg);
  fd = cg_devices_bpf_load (insns, n, &err);
  free (insns);
  if (fd < 0)
    {
      if (asprintf (&skip_why, "bpf(2) unusable: %s", err->msg) < 0)
        abort ();
      berth_err_free (&err);
      return false;
    }
  close (fd);
  return true;
}

/* The cgroup2 mount point and this process's cgroup in it. */
static char *
v2_own_dir (void)
{
  cleanup_free char *line = NULL;
  cleanup_free char *mnt = NULL;
  cleanup_free char *own = NULL;
  size_t cap = 0;
  FILE *f = fopen ("/proc/self/mountinfo", "re");
  char *dir = NULL;

  if (f == NULL)
    return NULL;
  while (mnt == NULL && getline (&line, &cap, f) > 0)
    {
      char *sep = strstr (line, " - ");
      char point[PATH_MAX];

      if (sep != NULL && strncmp (sep, " - cgroup2 ", 11) == 0 && sscanf (line, "%*s %*s %*s %*s %4095s", point) == 1)
        {
          mnt = strdup (point);
          cg_unescape_mountinfo (mnt);
        }
    }
  fclose (f);
  f = fopen ("/proc/self/cgroup", "re");
  if (f == NULL)
    return NULL;
  while (own == NULL && getline (&line, &cap, f) > 0)
    if (strncmp (line, "0::", 3) == 0)
      {
        line[strcspn (line, "\n")] = '\0';
        own = strdup (line + 3);
      }
  fclose (f);
  if (mnt == NULL || own == NULL)
    return NULL;
  if (asprintf (&dir, "%s%s", mnt, strcmp (own, "/") == 0 ? "" : own) < 0)
    abort ();
  return dir;
}

static int
group_setup (void **state)
{
  cleanup_free char *own = NULL;

  if (geteuid () != 0)
    return skip_why = strdup ("not root"), 0;
  own = v2_own_dir ();
  if (own == NULL)
    return skip_why = strdup ("no cgroup2 hierarchy"), 0;
  if (!bpf_usable ())
    return 0;
  if (asprintf (&cg_dir, "%s/berth-bpf-test-%d", own, (int)getpid ()) < 0)
    abort ();
  return 0;
}

static int
group_teardown (void **state)
{
  free (cg_dir);
  free (skip_why);
  return 0;
}

static int
live_setup (void **state)
{
  if (cg_dir != NULL && mkdir (cg_dir, 0755) < 0)
    {
      print_message ("mkdir %s: %s\n", cg_dir, strerror (errno));
      free (skip_why);
      skip_why = strdup ("cannot make a cgroup2 directory");
      free (cg_dir);
      cg_dir = NULL;
    }
  return 0;
}

static int
live_teardown (void **state)
{
  if (cg_dir == NULL)
    return 0;
  /* The children are reaped; the kernel may take a moment to let go. */
  for (int i = 0; i < 200 && rmdir (cg_dir) < 0 && errno == EBUSY; i++)
    nanosleep (&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
  if (access (cg_dir, F_OK) == 0)
    {
      print_error ("rmdir %s: %s\n", cg_dir, strerror (errno));
      return -1;
    }
  return 0;
}

static void
maybe_skip (void)
{
  if (cg_dir == NULL)
    {
      print_message ("skipped: %s\n", skip_why ? skip_why : "?");
      skip ();
    }
}

static void
apply (const struct berth_device_rule *rules, size_t n)
{
  berth_err err = NULL;

  if (cg_devices_bpf_apply (cg_dir, rules, n, &err) < 0)
    fail_msg ("%s", err->msg);
}

enum probe_op
{
  PROBE_OPEN,
  PROBE_MKNOD,
};

/* In a child moved into cg_dir: open(path, flags), or mknod a character
 * device maj:min at path.  Returns 0 or the errno. */
static int
probe (enum probe_op op, const char *path, int flags, unsigned maj, unsigned min)
{
  pid_t pid;
  int status;

  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      char procs[PATH_MAX];
      int fd;

      snprintf (procs, sizeof (procs), "%s/cgroup.procs", cg_dir);
      fd = open (procs, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, "0", 1) != 1)
        _exit (200);
      close (fd);
      if (op == PROBE_OPEN)
        fd = open (path, flags | O_CLOEXEC);
      else
        fd = mknod (path, S_IFCHR | 0600, makedev (maj, min));
      _exit (fd < 0 ? errno : 0);
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) == 200)
    fail_msg ("the child could not join %s", cg_dir);
  return WEXITSTATUS (status);
}

#define assert_open(path, flags, want) assert_int_equal (probe (PROBE_OPEN, (path), (flags), 0, 0), (want))

static void
assert_mknod (unsigned maj, unsigned min, int want)
{
  char dir[] = "/tmp/berth-bpf-mknod-XXXXXX";
  char path[sizeof (dir) + 8];
  int got;

  assert_non_null (mkdtemp (dir));
  snprintf (path, sizeof (path), "%s/node", dir);
  got = probe (PROBE_MKNOD, path, 0, maj, min);
  unlink (path);
  rmdir (dir);
  assert_int_equal (got, want);
}

static size_t
attached_count (void)
{
  cleanup_close int fd = open (cg_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_free uint32_t *ids = NULL;
  berth_err err = NULL;
  size_t n;

  assert_true (fd >= 0);
  if (cg_devices_bpf_query (fd, &ids, &n, &err) < 0)
    fail_msg ("%s", err->msg);
  return n;
}

static void
test_live_deny_all_allow_null (void **state)
{
  const struct berth_device_rule rules[] = { R (false, 'a', -1, -1, "rwm"), R (true, 'c', 1, 3, "rwm") };

  maybe_skip ();
  assert_open ("/dev/null", O_RDWR, 0);
  assert_open ("/dev/zero", O_RDONLY, 0); /* no program yet */
  apply (rules, N (rules));
  assert_int_equal (attached_count (), 1);
  assert_open ("/dev/null", O_RDWR, 0);
  assert_open ("/dev/zero", O_RDONLY, EPERM);
  assert_open ("/dev/full", O_WRONLY, EPERM);
}

/* No rules: deny every device, as the v1 writer ("devices.deny a", then
 * the rules) and runc's device filter do. */
static void
test_live_empty_rules_deny_all (void **state)
{
  maybe_skip ();
  apply (NULL, 0);
  assert_open ("/dev/null", O_RDWR, EPERM);
  assert_open ("/dev/null", O_RDONLY, EPERM);
  assert_mknod (1, 3, EPERM);
}

static void
test_live_mknod (void **state)
{
  const struct berth_device_rule rw[] = { R (true, 'c', 1, 3, "rw") };
  const struct berth_device_rule rwm[] = { R (true, 'c', 1, 3, "rwm") };

  maybe_skip ();
  apply (rw, N (rw));
  assert_mknod (1, 3, EPERM);
  assert_open ("/dev/null", O_RDWR, 0);
  apply (rwm, N (rwm));
  assert_mknod (1, 3, 0);
  assert_mknod (1, 5, EPERM);
}

static void
test_live_wildcards (void **state)
{
  /* c 1:* r (null 1:3, zero 1:5, full 1:7); c *:0 rw (tty is 5:0) */
  const struct berth_device_rule rules[] = { R (true, 'c', 1, -1, "r"), R (true, 'c', -1, 0, "rw") };

  maybe_skip ();
  apply (rules, N (rules));
  assert_open ("/dev/null", O_RDONLY, 0);
  assert_open ("/dev/zero", O_RDONLY, 0);
  assert_open ("/dev/full", O_RDONLY, 0);
  assert_open ("/dev/full", O_WRONLY, EPERM);
  assert_mknod (1, 3, EPERM);
  assert_mknod (5, 0, EPERM); /* rw only */
}

static void
test_live_type_a (void **state)
{
  const struct berth_device_rule one[] = { R (true, 'a', 1, 3, "rwm") };
  const struct berth_device_rule all_but_zero[] = { R (true, 'a', -1, -1, "rwm"), R (false, 'c', 1, 5, "rwm") };

  maybe_skip ();
  apply (one, N (one));
  assert_open ("/dev/null", O_RDWR, 0);
  assert_open ("/dev/zero", O_RDWR, EPERM);
  apply (all_but_zero, N (all_but_zero));
  assert_open ("/dev/null", O_RDWR, 0);
  assert_open ("/dev/full", O_RDWR, 0);
  assert_open ("/dev/zero", O_RDONLY, EPERM);
}

static void
test_live_last_rule_wins (void **state)
{
  const struct berth_device_rule deny_then_allow[] = { R (false, 'c', 1, 3, "rwm"), R (true, 'c', 1, 3, "rwm") };
  const struct berth_device_rule allow_then_deny[] = { R (true, 'c', 1, 3, "rwm"), R (false, 'c', 1, 3, "rwm") };
  /* A later partial deny takes only what it names. */
  const struct berth_device_rule deny_write[] = { R (true, 'c', 1, -1, "rwm"), R (false, 'c', 1, 3, "w") };

  maybe_skip ();
  apply (deny_then_allow, N (deny_then_allow));
  assert_open ("/dev/null", O_RDWR, 0);
  apply (allow_then_deny, N (allow_then_deny));
  assert_open ("/dev/null", O_RDONLY, EPERM);
  apply (deny_write, N (deny_write));
  assert_open ("/dev/null", O_RDONLY, 0);
  assert_open ("/dev/null", O_WRONLY, EPERM);
  assert_open ("/dev/null", O_RDWR, EPERM);
  assert_open ("/dev/zero", O_RDWR, 0);
}

static void
test_live_access_subsets (void **state)
{
  const struct berth_device_rule r_only[] = { R (true, 'c', 1, 3, "r") };
  const struct berth_device_rule r_and_w[] = { R (true, 'c', 1, 3, "r"), R (true, 'c', 1, 3, "w") };

  maybe_skip ();
  apply (r_only, N (r_only));
  assert_open ("/dev/null", O_RDONLY, 0);
  assert_open ("/dev/null", O_WRONLY, EPERM);
  assert_open ("/dev/null", O_RDWR, EPERM);
  /* Two rules together grant what neither grants alone. */
  apply (r_and_w, N (r_and_w));
  assert_open ("/dev/null", O_RDWR, 0);
}

static void
test_live_update_replaces (void **state)
{
  const struct berth_device_rule null_only[] = { R (true, 'c', 1, 3, "rwm") };
  const struct berth_device_rule zero_only[] = { R (true, 'c', 1, 5, "rwm") };

  maybe_skip ();
  for (int i = 0; i < 3; i++)
    {
      apply (null_only, N (null_only));
      assert_int_equal (attached_count (), 1);
      apply (zero_only, N (zero_only));
      assert_int_equal (attached_count (), 1);
    }
  assert_open ("/dev/zero", O_RDWR, 0);
  assert_open ("/dev/null", O_RDWR, EPERM);
}

/* A program someone attached without BPF_F_ALLOW_MULTI is replaced. */
static void
test_live_replaces_non_multi (void **state)
{
  const struct berth_device_rule deny[] = { R (false, 'a', -1, -1, "rwm") };
  const struct berth_device_rule null_only[] = { R (true, 'c', 1, 3, "rwm") };
  cleanup_free struct bpf_insn *insns = NULL;
  cleanup_close int dirfd = -1;
  cleanup_close int prog = -1;
  berth_err err = NULL;
  union bpf_attr attr;
  size_t n;

  maybe_skip ();
  assert_int_equal (cg_devices_bpf_build (deny, N (deny), &insns, &n, &err), 0);
  prog = cg_devices_bpf_load (insns, n, &err);
  assert_true (prog >= 0);
  dirfd = open (cg_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (dirfd >= 0);
  memset (&attr, 0, sizeof (attr));
  attr.target_fd = (uint32_t)dirfd;
  attr.attach_bpf_fd = (uint32_t)prog;
  attr.attach_type = BPF_CGROUP_DEVICE;
  assert_int_equal (syscall (__NR_bpf, BPF_PROG_ATTACH, &attr, sizeof (attr)), 0);
  assert_open ("/dev/null", O_RDWR, EPERM);
  apply (null_only, N (null_only));
  assert_int_equal (attached_count (), 1);
  assert_open ("/dev/null", O_RDWR, 0);
}

/* How the cgroup code reaches the filter: a host whose only hierarchy is
 * v2 applies linux.resources.devices as a program; one with a v1 devices
 * controller uses that instead and attaches nothing. */
static void
test_live_wiring (void **state)
{
  struct berth_device_rule rules[] = { R (true, 'c', 1, 3, "rwm") };
  struct berth_resources res = { .devices = rules, .n_devices = N (rules) };
  char empty[] = "";
  char v1_controllers[] = "devices";
  char v1_path[] = "/nonexistent/berth-bpf-test";
  struct cg_hier v2_only[] = { { .version = 2, .controllers = empty, .path = cg_dir } };
  struct cg_hier hybrid[] = {
    { .version = 1, .controllers = v1_controllers, .path = v1_path },
    { .version = 2, .controllers = empty, .path = cg_dir },
  };
  struct berth_cgroup cg_v2 = { v2_only, N (v2_only) };
  struct berth_cgroup cg_hybrid = { hybrid, N (hybrid) };
  berth_err err = NULL;

  maybe_skip ();
  assert_int_equal (cg_apply_resources (&cg_hybrid, &res, &err), -1);
  assert_non_null (strstr (err->msg, "devices.deny"));
  berth_err_free (&err);
  assert_int_equal (attached_count (), 0);

  if (cg_apply_resources (&cg_v2, &res, &err) < 0)
    fail_msg ("%s", err->msg);
  assert_int_equal (attached_count (), 1);
  assert_open ("/dev/null", O_RDWR, 0);
  assert_open ("/dev/zero", O_RDWR, EPERM);
}

static void
test_load_error_has_verifier_log (void **state)
{
  /* No exit: the verifier refuses it and says so. */
  const struct bpf_insn bad[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 } };
  berth_err err = NULL;

  if (geteuid () != 0 || (skip_why != NULL && strncmp (skip_why, "bpf(2)", 6) == 0))
    {
      print_message ("skipped: %s\n", skip_why);
      skip ();
    }
  assert_int_equal (cg_devices_bpf_load (bad, N (bad), &err), -1);
  assert_non_null (strstr (err->msg, "load the device filter: the verifier says `"));
  assert_non_null (strstr (err->msg, "exit"));
  berth_err_free (&err);
}

static void
test_apply_names_bad_dir (void **state)
{
  const struct berth_device_rule rules[] = { R (true, 'c', 1, 3, "rwm") };
  berth_err err = NULL;

  assert_int_equal (cg_devices_bpf_apply ("/nonexistent/berth", rules, N (rules), &err), -1);
  assert_string_equal (err->msg, "open `/nonexistent/berth`: no such file or directory");
  berth_err_free (&err);
  assert_int_equal (cg_devices_bpf_apply ("/tmp", rules, N (rules), &err), -1);
  assert_string_equal (err->msg, "`/tmp` is not a cgroup v2 directory (device programs attach only to those)");
  berth_err_free (&err);
}

#define LIVE(f) cmocka_unit_test_setup_teardown (f, live_setup, live_teardown)

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_build_empty_denies_all),
    cmocka_unit_test (test_build_layout),
    cmocka_unit_test (test_build_match_all_ends_program),
    cmocka_unit_test (test_build_invalid_rules),
    cmocka_unit_test (test_semantics_match_model),
    cmocka_unit_test (test_apply_names_bad_dir),
    cmocka_unit_test (test_load_error_has_verifier_log),
    LIVE (test_live_deny_all_allow_null),
    LIVE (test_live_empty_rules_deny_all),
    LIVE (test_live_mknod),
    LIVE (test_live_wildcards),
    LIVE (test_live_type_a),
    LIVE (test_live_last_rule_wins),
    LIVE (test_live_access_subsets),
    LIVE (test_live_update_replaces),
    LIVE (test_live_replaces_non_multi),
    LIVE (test_live_wiring),
  };

  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
