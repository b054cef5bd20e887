/* berth's runtime/default seccomp profile, and the choice of profile from
 * a SecurityProfile (or the deprecated seccomp_profile_path string).
 *
 * The default is an allow list: what ordinary programs use (files,
 * memory, processes, signals, time, sockets, System V and POSIX IPC) is
 * allowed; the rest fails with EPERM.  Calls that act on the whole kernel
 * or on namespaces are allowed only when the process holds the capability
 * that would let it make them anyway (mount with CAP_SYS_ADMIN, reboot
 * with CAP_SYS_BOOT ...), so granting a capability in the pod spec keeps
 * working.  Left out on purpose: keyctl and friends (the keyring is not
 * namespaced), io_uring (a large and often exploited kernel surface),
 * userfaultfd (a common exploit helper), open_by_handle_at without
 * CAP_DAC_READ_SEARCH (it escapes bind mounts).  Names a kernel or
 * libseccomp does not know are skipped by the runtime, so 32-bit and
 * newer calls can be listed. */
#include <string.h>
#include <sys/capability.h>

#include "cri/cri_internal.h"

static const char *const allowed[] = {
  /* files and directories */
  "access",
  "faccessat",
  "faccessat2",
  "chdir",
  "fchdir",
  "chmod",
  "fchmod",
  "fchmodat",
  "fchmodat2",
  "chown",
  "chown32",
  "fchown",
  "fchown32",
  "fchownat",
  "lchown",
  "lchown32",
  "close",
  "close_range",
  "creat",
  "dup",
  "dup2",
  "dup3",
  "fadvise64",
  "fadvise64_64",
  "arm_fadvise64_64",
  "fallocate",
  "fcntl",
  "fcntl64",
  "fdatasync",
  "flock",
  "fsync",
  "ftruncate",
  "ftruncate64",
  "truncate",
  "truncate64",
  "getcwd",
  "getdents",
  "getdents64",
  "link",
  "linkat",
  "lseek",
  "_llseek",
  "mkdir",
  "mkdirat",
  "mknod",
  "mknodat",
  "open",
  "openat",
  "openat2",
  "pipe",
  "pipe2",
  "read",
  "readv",
  "pread64",
  "preadv",
  "preadv2",
  "readahead",
  "readlink",
  "readlinkat",
  "rename",
  "renameat",
  "renameat2",
  "rmdir",
  "sendfile",
  "sendfile64",
  "splice",
  "tee",
  "vmsplice",
  "copy_file_range",
  "stat",
  "stat64",
  "fstat",
  "fstat64",
  "lstat",
  "lstat64",
  "newfstatat",
  "fstatat64",
  "statx",
  "statfs",
  "statfs64",
  "fstatfs",
  "fstatfs64",
  "symlink",
  "symlinkat",
  "sync",
  "syncfs",
  "sync_file_range",
  "sync_file_range2",
  "arm_sync_file_range",
  "umask",
  "unlink",
  "unlinkat",
  "utime",
  "utimes",
  "utimensat",
  "utimensat_time64",
  "futimesat",
  "write",
  "writev",
  "pwrite64",
  "pwritev",
  "pwritev2",
  "ioctl",
  "getxattr",
  "lgetxattr",
  "fgetxattr",
  "listxattr",
  "llistxattr",
  "flistxattr",
  "setxattr",
  "lsetxattr",
  "fsetxattr",
  "removexattr",
  "lremovexattr",
  "fremovexattr",
  "inotify_init",
  "inotify_init1",
  "inotify_add_watch",
  "inotify_rm_watch",
  "memfd_create",
  "name_to_handle_at",
  /* asynchronous I/O and waiting on descriptors */
  "io_setup",
  "io_destroy",
  "io_getevents",
  "io_pgetevents",
  "io_pgetevents_time64",
  "io_submit",
  "io_cancel",
  "select",
  "_newselect",
  "pselect6",
  "pselect6_time64",
  "poll",
  "ppoll",
  "ppoll_time64",
  "epoll_create",
  "epoll_create1",
  "epoll_ctl",
  "epoll_ctl_old",
  "epoll_wait",
  "epoll_wait_old",
  "epoll_pwait",
  "epoll_pwait2",
  "eventfd",
  "eventfd2",
  "signalfd",
  "signalfd4",
  "timerfd_create",
  "timerfd_settime",
  "timerfd_settime64",
  "timerfd_gettime",
  "timerfd_gettime64",
  /* memory */
  "brk",
  "mmap",
  "mmap2",
  "munmap",
  "mremap",
  "mprotect",
  "pkey_mprotect",
  "pkey_alloc",
  "pkey_free",
  "madvise",
  "mincore",
  "mlock",
  "mlock2",
  "mlockall",
  "munlock",
  "munlockall",
  "msync",
  "remap_file_pages",
  "membarrier",
  /* processes, credentials, scheduling */
  "arch_prctl",
  "capget",
  "capset",
  "execve",
  "execveat",
  "exit",
  "exit_group",
  "fork",
  "vfork",
  "getpid",
  "getppid",
  "gettid",
  "getpgid",
  "getpgrp",
  "getsid",
  "setsid",
  "setpgid",
  "getuid",
  "getuid32",
  "geteuid",
  "geteuid32",
  "getgid",
  "getgid32",
  "getegid",
  "getegid32",
  "getresuid",
  "getresuid32",
  "getresgid",
  "getresgid32",
  "getgroups",
  "getgroups32",
  "setuid",
  "setuid32",
  "setgid",
  "setgid32",
  "setreuid",
  "setreuid32",
  "setregid",
  "setregid32",
  "setresuid",
  "setresuid32",
  "setresgid",
  "setresgid32",
  "setgroups",
  "setgroups32",
  "setfsuid",
  "setfsuid32",
  "setfsgid",
  "setfsgid32",
  "getpriority",
  "setpriority",
  "getrlimit",
  "ugetrlimit",
  "setrlimit",
  "prlimit64",
  "getrusage",
  "times",
  "prctl",
  "rseq",
  "set_robust_list",
  "get_robust_list",
  "set_tid_address",
  "futex",
  "futex_time64",
  "futex_waitv",
  "sched_yield",
  "sched_getaffinity",
  "sched_setaffinity",
  "sched_getparam",
  "sched_setparam",
  "sched_getscheduler",
  "sched_setscheduler",
  "sched_get_priority_max",
  "sched_get_priority_min",
  "sched_rr_get_interval",
  "sched_rr_get_interval_time64",
  "sched_getattr",
  "sched_setattr",
  "wait4",
  "waitid",
  "waitpid",
  "uname",
  "sysinfo",
  "getrandom",
  "getcpu",
  "ioprio_get",
  "ioprio_set",
  "restart_syscall",
  "set_thread_area",
  "get_thread_area",
  "set_tls",
  "cacheflush",
  "breakpoint",
  "seccomp",
  "landlock_create_ruleset",
  "landlock_add_rule",
  "landlock_restrict_self",
  "pidfd_open",
  "pidfd_send_signal",
  /* debugging: since Linux 4.8 seccomp is checked again after a tracer
     changes a call, so ptrace cannot be used to get around the filter */
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "kcmp",
  /* signals */
  "kill",
  "tkill",
  "tgkill",
  "rt_sigaction",
  "rt_sigpending",
  "rt_sigprocmask",
  "rt_sigqueueinfo",
  "rt_sigreturn",
  "rt_sigsuspend",
  "rt_sigtimedwait",
  "rt_sigtimedwait_time64",
  "rt_tgsigqueueinfo",
  "sigaction",
  "sigaltstack",
  "signal",
  "sigpending",
  "sigprocmask",
  "sigreturn",
  "sigsuspend",
  "pause",
  "alarm",
  "getitimer",
  "setitimer",
  /* time */
  "clock_getres",
  "clock_getres_time64",
  "clock_gettime",
  "clock_gettime64",
  "clock_nanosleep",
  "clock_nanosleep_time64",
  "gettimeofday",
  "nanosleep",
  "time",
  "timer_create",
  "timer_delete",
  "timer_getoverrun",
  "timer_gettime",
  "timer_gettime64",
  "timer_settime",
  "timer_settime64",
  /* sockets */
  "socket",
  "socketpair",
  "socketcall",
  "bind",
  "connect",
  "listen",
  "accept",
  "accept4",
  "getsockname",
  "getpeername",
  "getsockopt",
  "setsockopt",
  "sendto",
  "sendmsg",
  "sendmmsg",
  "recvfrom",
  "recvmsg",
  "recvmmsg",
  "recvmmsg_time64",
  "shutdown",
  /* System V and POSIX IPC (namespaced by the pod's ipc namespace) */
  "ipc",
  "mq_open",
  "mq_unlink",
  "mq_timedsend",
  "mq_timedsend_time64",
  "mq_timedreceive",
  "mq_timedreceive_time64",
  "mq_notify",
  "mq_getsetattr",
  "msgget",
  "msgsnd",
  "msgrcv",
  "msgctl",
  "semget",
  "semop",
  "semtimedop",
  "semtimedop_time64",
  "semctl",
  "shmget",
  "shmat",
  "shmdt",
  "shmctl",
};

/* Calls allowed only with a capability. */
static const struct
{
  int cap;
  const char *names[16];
} by_cap[] = {
  { CAP_SYS_ADMIN,
    { "mount", "umount", "umount2", "pivot_root", "unshare", "setns", "sethostname", "setdomainname", "quotactl",
      "fanotify_init", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick" } },
  { CAP_SYS_ADMIN, { "mount_setattr", "lookup_dcookie", "clone", "clone3" } },
  { CAP_SYS_BOOT, { "reboot", "kexec_load", "kexec_file_load" } },
  { CAP_SYS_CHROOT, { "chroot" } },
  { CAP_SYS_MODULE, { "init_module", "finit_module", "delete_module" } },
  { CAP_SYS_PACCT, { "acct" } },
  { CAP_SYS_RAWIO, { "iopl", "ioperm" } },
  { CAP_SYS_TIME,
    { "settimeofday", "stime", "clock_settime", "clock_settime64", "adjtimex", "clock_adjtime", "clock_adjtime64" } },
  { CAP_SYS_TTY_CONFIG, { "vhangup" } },
  { CAP_SYS_NICE, { "get_mempolicy", "mbind", "set_mempolicy", "migrate_pages", "move_pages" } },
  { CAP_SYSLOG, { "syslog" } },
  { CAP_DAC_READ_SEARCH, { "open_by_handle_at" } },
  { CAP_BPF, { "bpf" } },
  { CAP_SYS_ADMIN, { "bpf", "perf_event_open" } },
  { CAP_PERFMON, { "perf_event_open" } },
};

/* clone() may not make namespaces without CAP_SYS_ADMIN: CLONE_NEWNS,
 * NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.  (CLONE_NEWTIME is
 * 0x80, the exit-signal byte of clone(): clone() cannot ask for it.) */
#define CLONE_NS_FLAGS 0x7E020000ULL

static bool
has_cap (uint64_t caps, int cap)
{
  return cap < 64 && (caps & (UINT64_C (1) << cap)) != 0;
}

static json_t *
architectures (void)
{
#if defined(__x86_64__)
  return json_pack ("[s, s, s]", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
#elif defined(__aarch64__)
  return json_pack ("[s, s]", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
#elif defined(__i386__)
  return json_pack ("[s]", "SCMP_ARCH_X86");
#else
  return json_array (); /* the native one */
#endif
}

static void
add_rule (json_t *syscalls, json_t *names, const char *action, json_t *args)
{
  json_t *r = json_pack ("{s:o, s:s}", "names", names, "action", action);

  if (args)
    json_object_set_new (r, "args", args);
  json_array_append_new (syscalls, r);
}

json_t *
cri_seccomp_default (uint64_t caps)
{
  json_t *syscalls = json_array ();
  json_t *names = cri_strv_json (allowed, CRI_ARRAY_SIZE (allowed));
  json_t *extra = json_array ();
  /* personality(2): only the Linux personalities (and the query), not the
     ones that change the address space layout (ADDR_NO_RANDOMIZE ...). */
  static const json_int_t personalities[] = { 0x0, 0x0008, 0x20000, 0x20008, 0xffffffff };

  for (size_t i = 0; i < CRI_ARRAY_SIZE (by_cap); i++)
    if (has_cap (caps, by_cap[i].cap))
      for (size_t k = 0; k < CRI_ARRAY_SIZE (by_cap[i].names) && by_cap[i].names[k]; k++)
        if (!cri_strv_contains (extra, by_cap[i].names[k]))
          json_array_append_new (extra, json_string (by_cap[i].names[k]));
  json_array_extend (names, extra);
  json_decref (extra);
  add_rule (syscalls, names, "SCMP_ACT_ALLOW", NULL);
  for (size_t i = 0; i < CRI_ARRAY_SIZE (personalities); i++)
    add_rule (syscalls, json_pack ("[s]", "personality"), "SCMP_ACT_ALLOW",
              json_pack ("[{s:i, s:I, s:s}]", "index", 0, "value", personalities[i], "op", "SCMP_CMP_EQ"));
  if (!has_cap (caps, CAP_SYS_ADMIN))
    {
      /* The flags are argument 0 of clone on every architecture berth
         builds for but s390x, where they are argument 1. */
#if defined(__s390x__)
      int flags_arg = 1;
#else
      int flags_arg = 0;
#endif
      add_rule (syscalls, json_pack ("[s]", "clone"), "SCMP_ACT_ALLOW",
                json_pack ("[{s:i, s:I, s:I, s:s}]", "index", flags_arg, "value", (json_int_t)CLONE_NS_FLAGS,
                           "valueTwo", (json_int_t)0, "op", "SCMP_CMP_MASKED_EQ"));
      /* clone3 passes its flags in memory, out of a filter's reach: ENOSYS
         makes libcs fall back to clone, which is checked above. */
      json_t *r = json_pack ("{s:[s], s:s, s:i}", "names", "clone3", "action", "SCMP_ACT_ERRNO", "errnoRet", 38);
      json_array_append_new (syscalls, r);
    }
  return json_pack ("{s:s, s:i, s:o, s:o}", "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", 1, "architectures",
                    architectures (), "syscalls", syscalls);
}

/* Which profile: `none` set (and NULL returned) for unconfined. */
json_t *
cri_seccomp_profile_for (const Runtime__V1__SecurityProfile *sp, const char *deprecated_path, const char *field,
                         const struct cri_pod_ctx *pctx, json_t *localhost, uint64_t caps, bool *none, berth_err *err)
{
  const char *path = NULL;

  *none = false;
  if (sp != NULL)
    {
      switch (sp->profile_type)
        {
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault:
          goto runtime_default;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined:
          *none = true;
          return NULL;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost:
          path = sp->localhost_ref;
          if (cri_empty (path) || path[0] != '/')
            return berth_fail (err, 0, "%sseccomp.localhost_ref: \"%s\" is not an absolute path", field, CRI_S (path)),
                   NULL;
          goto from_localhost;
        default:
          return berth_fail (err, 0, "%sseccomp.profile_type: unknown value %d", field, (int)sp->profile_type), NULL;
        }
    }
  /* The deprecated string: "" is unconfined (the CRI's default). */
  if (cri_empty (deprecated_path) || strcmp (deprecated_path, "unconfined") == 0)
    {
      *none = true;
      return NULL;
    }
  if (strcmp (deprecated_path, "runtime/default") == 0 || strcmp (deprecated_path, "docker/default") == 0)
    goto runtime_default;
  if (strncmp (deprecated_path, "localhost/", 10) == 0 && deprecated_path[10] == '/')
    {
      path = deprecated_path + 10;
      goto from_localhost;
    }
  return berth_fail (err, 0, "%sseccomp_profile_path: unknown profile \"%s\"", field, deprecated_path), NULL;

runtime_default:
  if (pctx && pctx->seccomp_default)
    return json_deep_copy (pctx->seccomp_default);
  return cri_seccomp_default (caps);

from_localhost:
  if (!json_is_object (localhost))
    return berth_fail (err, 0, "%sseccomp: localhost profile \"%s\" was not loaded (the daemon reads it)", field, path),
           NULL;
  return json_deep_copy (localhost);
}

static const char *
localhost_path (const Runtime__V1__SecurityProfile *sp, const char *deprecated_path)
{
  if (sp != NULL)
    return sp->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost && !cri_empty (sp->localhost_ref)
               ? sp->localhost_ref
               : NULL;
  if (deprecated_path && strncmp (deprecated_path, "localhost/", 10) == 0 && deprecated_path[10] == '/')
    return deprecated_path + 10;
  return NULL;
}

const char *
cri_seccomp_localhost_path (const Runtime__V1__ContainerConfig *c)
{
  const Runtime__V1__LinuxContainerSecurityContext *sc
      = c && c->linux && c->linux->security_context ? c->linux->security_context : NULL;

  if (sc == NULL || sc->privileged)
    return NULL;
  return localhost_path (sc->seccomp, sc->seccomp_profile_path);
}

const char *
cri_pod_seccomp_localhost_path (const Runtime__V1__PodSandboxConfig *pod)
{
  const Runtime__V1__LinuxSandboxSecurityContext *sc
      = pod && pod->linux && pod->linux->security_context ? pod->linux->security_context : NULL;

  if (sc == NULL || sc->privileged)
    return NULL;
  return localhost_path (sc->seccomp, sc->seccomp_profile_path);
}
