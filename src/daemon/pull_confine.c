/* berthd-pull confines itself before it talks to a registry: it parses what
 * a registry sends (HTTP, TLS, gzip, tar) and needs little of root's power
 * to store it.  See pull_confine.h. */
#include "daemon/pull_confine.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/capability.h>
#include <sys/prctl.h>

/* What unpacking a layer needs: owners and modes of any file (CHOWN,
 * FOWNER, FSETID, DAC_*), device nodes and whiteouts (MKNOD), file
 * capabilities (SETFCAP), and trusted.* / security.* xattrs, the overlay's
 * opaque marker among them (SYS_ADMIN: which is why mounting and the like
 * are also refused by the filter below). */
static const cap_value_t kept[] = {
  CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, CAP_SETFCAP, CAP_SYS_ADMIN,
};

/* Nothing a pull does: the mount API and namespaces, other processes'
 * memory, the kernel's modules, keys, clock and power, BPF and perf, and
 * io_uring (its operations would bypass this filter). */
static const char *const refused[] = {
  "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
  "mount_setattr", "unshare", "setns", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
  "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf", "perf_event_open",
  "keyctl", "add_key", "request_key", "swapon", "swapoff", "reboot", "acct", "quotactl", "settimeofday",
  "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "open_by_handle_at",
  "name_to_handle_at", "userfaultfd", "iopl", "ioperm", "fanotify_init", "io_uring_setup", "io_uring_enter",
  "io_uring_register", "lookup_dcookie",
};

static int
keep_only_needed_caps (berth_err *err)
{
  cap_t caps;
  int ret = 0;

  for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
    {
      bool keep = false;
      for (size_t i = 0; i < sizeof (kept) / sizeof (kept[0]); i++)
        keep |= kept[i] == c;
      if (!keep && prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
        return berth_fail (err, errno, "drop capability %d from the bounding set", (int)c);
    }
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return berth_fail (err, errno, "clear ambient capabilities");
  caps = cap_init ();
  if (caps == NULL)
    return berth_fail (err, errno, "cap_init");
  if (cap_set_flag (caps, CAP_PERMITTED, sizeof (kept) / sizeof (kept[0]), kept, CAP_SET) < 0
      || cap_set_flag (caps, CAP_EFFECTIVE, sizeof (kept) / sizeof (kept[0]), kept, CAP_SET) < 0
      || cap_set_proc (caps) < 0)
    ret = berth_fail (err, errno, "set capabilities");
  cap_free (caps);
  return ret;
}

static int
filter_syscalls (berth_err *err)
{
  static const unsigned long ns_flags[] = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                                            CLONE_NEWNET, CLONE_NEWCGROUP };
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
  int r = 0;

  if (ctx == NULL)
    return berth_fail (err, ENOMEM, "seccomp_init");
  for (size_t i = 0; r == 0 && i < sizeof (refused) / sizeof (refused[0]); i++)
    {
      int nr = seccomp_syscall_resolve_name (refused[i]);
      if (nr != __NR_SCMP_ERROR)
        r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 0);
    }
  /* clone3's flags are in memory, out of the filter's reach: ENOSYS makes
     glibc's threads fall back to clone, whose flags are checked. */
  if (r == 0)
    r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0);
  for (size_t i = 0; r == 0 && i < sizeof (ns_flags) / sizeof (ns_flags[0]); i++)
    r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (clone), 1,
                          SCMP_A0 (SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
  if (r == 0)
    r = seccomp_load (ctx);
  seccomp_release (ctx);
  return r < 0 ? berth_fail (err, -r, "load the seccomp filter") : 0;
}

int
pull_confine (berth_err *err)
{
  if (keep_only_needed_caps (err) < 0)
    return -1;
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return berth_fail (err, errno, "no_new_privs");
  return filter_syscalls (err);
}
