/* The re-exec of `create`, `run` and `exec` (CVE-2019-5736, see
 * runtime/sealed_exe.h), done before the C library starts.
 *
 * Why: starting glibc costs about 0.6 ms of CPU on a virtual machine whose
 * CPUID instruction traps to the hypervisor (the cache and CPU feature
 * probes make dozens of them), nearly all of the cost of a process that
 * does nothing.  `berth run` used to pay it twice: once to find that it must
 * re-execute itself, once in the re-executed image.  This entry point runs
 * first, with raw system calls only, and when an argument names one of those
 * commands and the binary is writable, re-executes at once through a
 * detached read-only bind mount of itself.  Anything it cannot do (no
 * privilege for the mount, a binary already sealed) it leaves to main, whose
 * check (berth_ensure_sealed_exe) stays the authority: a false positive here
 * costs one re-exec, a miss costs nothing but time.
 *
 * Constraints of running before libc: no libc calls (not even memset: the
 * string functions are IFUNCs not yet resolved), no stack protector (no TLS
 * yet), no tables of pointers (they would need relocation).  Built into the
 * static `berth` only (cli/meson.build); the entry jumps to glibc's _start
 * with the stack and %rdx/%x0 as the kernel left them. */
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/stat.h>
#include <stddef.h>
#include <sys/syscall.h>

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef O_CLOEXEC
#define O_CLOEXEC 02000000
#endif
#define EARLY_O_RDONLY 0
#define ST_RDONLY_FLAG 1 /* statfs f_flags: ST_RDONLY */

#if defined(__x86_64__)
static long
early_syscall (long n, long a, long b, long c, long d, long e)
{
  long ret;
  register long r10 __asm__ ("r10") = d;
  register long r8 __asm__ ("r8") = e;
  __asm__ volatile ("syscall"
                    : "=a"(ret)
                    : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                    : "rcx", "r11", "memory");
  return ret;
}

__asm__ (".text\n"
         ".globl berth_early_entry\n"
         ".type berth_early_entry,@function\n"
         "berth_early_entry:\n"
         "  xor %ebp, %ebp\n"
         "  mov %rsp, %rbx\n" /* callee-saved: survives the call */
         "  mov %rsp, %rdi\n"
         "  and $-16, %rsp\n"
         "  call berth_early_start\n"
         "  mov %rbx, %rsp\n"
         "  xor %edx, %edx\n" /* no rtld_fini: as the kernel leaves it */
         "  jmp _start\n");
#elif defined(__aarch64__)
static long
early_syscall (long n, long a, long b, long c, long d, long e)
{
  register long x8 __asm__ ("x8") = n;
  register long x0 __asm__ ("x0") = a;
  register long x1 __asm__ ("x1") = b;
  register long x2 __asm__ ("x2") = c;
  register long x3 __asm__ ("x3") = d;
  register long x4 __asm__ ("x4") = e;
  __asm__ volatile ("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
}

__asm__ (".text\n"
         ".globl berth_early_entry\n"
         ".type berth_early_entry,%function\n"
         "berth_early_entry:\n"
         "  mov x19, sp\n"
         "  mov x0, sp\n"
         "  bl berth_early_start\n"
         "  mov sp, x19\n"
         "  mov x0, #0\n"
         "  b _start\n");
#else
#error "early_start.c: add this architecture's system call and entry, or build without it"
#endif

/* The statfs(2) result, as the kernel lays it out on 64-bit Linux. */
struct early_statfs
{
  long f_type, f_bsize;
  unsigned long f_blocks, f_bfree, f_bavail, f_files, f_ffree;
  int f_fsid[2];
  long f_namelen, f_frsize, f_flags, f_spare[4];
};

static int
early_streq (const char *a, const char *b)
{
  while (*a && *a == *b)
    a++, b++;
  return *a == *b;
}

/* Whether an argument is one of the commands that start container
 * processes (those with sealed_exe or spawning an init in cli/). */
static int
names_sealed_command (long argc, char **argv)
{
  for (long i = 1; i < argc; i++)
    if (early_streq (argv[i], "create") || early_streq (argv[i], "run") || early_streq (argv[i], "exec"))
      return 1;
  return 0;
}

/* Called from the entry's assembly only: kept whatever the optimiser sees. */
void berth_early_start (long *sp) __attribute__ ((used));

void
berth_early_start (long *sp)
{
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  struct early_statfs vfs;
  struct mount_attr attr;
  int flags = 0;
  long exe, tree, seals;

  if (!names_sealed_command (argc, argv))
    return;
  exe = early_syscall (SYS_openat, AT_FDCWD, (long)"/proc/self/exe", EARLY_O_RDONLY | O_CLOEXEC, 0, 0);
  if (exe < 0)
    return;
  seals = early_syscall (SYS_fcntl, exe, F_GET_SEALS, 0, 0, 0);
  if (seals >= 0 && (seals & (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE))
                        == (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE))
    goto out;
  if (early_syscall (SYS_fstatfs, exe, (long)&vfs, 0, 0, 0) == 0 && (vfs.f_flags & ST_RDONLY_FLAG))
    goto out;
  if (early_syscall (SYS_ioctl, exe, FS_IOC_GETFLAGS, (long)&flags, 0, 0) == 0 && (flags & FS_IMMUTABLE_FL))
    goto out;
  tree = early_syscall (SYS_open_tree, exe, (long)"", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC, 0, 0);
  if (tree < 0)
    goto out;
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
  attr.attr_clr = 0;
  attr.propagation = 0;
  attr.userns_fd = 0;
  if (early_syscall (SYS_mount_setattr, tree, (long)"", AT_EMPTY_PATH, (long)&attr, sizeof (attr)) == 0)
    early_syscall (SYS_execveat, tree, (long)"", (long)argv, (long)envp, AT_EMPTY_PATH);
  early_syscall (SYS_close, tree, 0, 0, 0, 0);
out:
  early_syscall (SYS_close, exe, 0, 0, 0, 0);
}
