/* Name tables (signals, namespaces, hooks, rlimits, capabilities) and the
 * mount option table. */
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <linux/capability.h>

#include "test_spec_util.h"

static void
test_signal_names (void **state)
{
  assert_int_equal (berth_signal_from_name ("KILL"), SIGKILL);
  assert_int_equal (berth_signal_from_name ("SIGKILL"), SIGKILL);
  assert_int_equal (berth_signal_from_name ("9"), 9);
  assert_int_equal (berth_signal_from_name ("sigterm"), SIGTERM);
  assert_int_equal (berth_signal_from_name ("term"), SIGTERM);
  assert_int_equal (berth_signal_from_name ("HUP"), SIGHUP);
  assert_int_equal (berth_signal_from_name ("SIGWINCH"), SIGWINCH);
  assert_int_equal (berth_signal_from_name ("CHLD"), SIGCHLD);
  assert_int_equal (berth_signal_from_name ("CLD"), SIGCHLD);
  assert_int_equal (berth_signal_from_name ("USR2"), SIGUSR2);
  assert_int_equal (berth_signal_from_name ("RTMIN"), SIGRTMIN);
  assert_int_equal (berth_signal_from_name ("RTMIN+3"), SIGRTMIN + 3);
  assert_int_equal (berth_signal_from_name ("SIGRTMIN+3"), SIGRTMIN + 3);
  assert_int_equal (berth_signal_from_name ("RTMAX"), SIGRTMAX);
  assert_int_equal (berth_signal_from_name ("SIGRTMAX-2"), SIGRTMAX - 2);
  assert_int_equal (berth_signal_from_name ("64"), 64);
}

static void
test_signal_names_refused (void **state)
{
  assert_int_equal (berth_signal_from_name ("0"), -1);
  assert_int_equal (berth_signal_from_name ("65"), -1);
  assert_int_equal (berth_signal_from_name ("99999999999999999999"), -1);
  assert_int_equal (berth_signal_from_name ("-9"), -1);
  assert_int_equal (berth_signal_from_name ("9x"), -1);
  assert_int_equal (berth_signal_from_name (""), -1);
  assert_int_equal (berth_signal_from_name ("SIG"), -1);
  assert_int_equal (berth_signal_from_name ("FOO"), -1);
  assert_int_equal (berth_signal_from_name ("RTMIN+99"), -1);
  assert_int_equal (berth_signal_from_name ("RTMIN-1"), -1);
  assert_int_equal (berth_signal_from_name ("RTMIN+"), -1);
  assert_int_equal (berth_signal_from_name (NULL), -1);
}

static void
test_namespace_and_hook_names (void **state)
{
  static const char *const names[] = { "user", "pid", "network", "ipc", "uts", "cgroup", "time", "mount" };

  for (int i = 0; i < BERTH_NS_COUNT; i++)
    {
      assert_string_equal (berth_ns_type_name (i), names[i]);
      assert_int_equal (berth_ns_type_from_name (names[i]), i);
    }
  assert_int_equal (berth_ns_type_from_name ("net"), -1);
  assert_int_equal (berth_ns_type_from_name ("mnt"), -1);
  assert_null (berth_ns_type_name (BERTH_NS_COUNT));
  assert_string_equal (berth_hook_kind_name (BERTH_HOOK_PRESTART), "prestart");
  assert_string_equal (berth_hook_kind_name (BERTH_HOOK_CREATE_RUNTIME), "createRuntime");
  assert_string_equal (berth_hook_kind_name (BERTH_HOOK_CREATE_CONTAINER), "createContainer");
  assert_string_equal (berth_hook_kind_name (BERTH_HOOK_START_CONTAINER), "startContainer");
  assert_string_equal (berth_hook_kind_name (BERTH_HOOK_POSTSTART), "poststart");
  assert_string_equal (berth_hook_kind_name (BERTH_HOOK_POSTSTOP), "poststop");
  assert_null (berth_hook_kind_name (BERTH_HOOK_KIND_COUNT));
}

static void
test_rlimit_names (void **state)
{
  assert_int_equal (berth_rlimit_from_name ("RLIMIT_NOFILE"), RLIMIT_NOFILE);
  assert_int_equal (berth_rlimit_from_name ("RLIMIT_AS"), RLIMIT_AS);
  assert_int_equal (berth_rlimit_from_name ("RLIMIT_RTTIME"), RLIMIT_RTTIME);
  assert_int_equal (berth_rlimit_from_name ("RLIMIT_MSGQUEUE"), RLIMIT_MSGQUEUE);
  assert_int_equal (berth_rlimit_from_name ("rlimit_nofile"), -1);
  assert_int_equal (berth_rlimit_from_name ("NOFILE"), -1);
  assert_int_equal (berth_rlimit_from_name (NULL), -1);
}

static void
test_capability_names (void **state)
{
  assert_int_equal (berth_capability_from_name ("CAP_CHOWN"), CAP_CHOWN);
  assert_int_equal (berth_capability_from_name ("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
  assert_int_equal (berth_capability_from_name ("CAP_BPF"), CAP_BPF);
  assert_int_equal (berth_capability_from_name ("CAP_CHECKPOINT_RESTORE"), CAP_CHECKPOINT_RESTORE);
  assert_int_equal (berth_capability_from_name ("CAP_FOO"), -1);
  assert_int_equal (berth_capability_from_name ("cap_chown"), -1);
  assert_int_equal (berth_capability_from_name ("CHOWN"), -1);
  assert_int_equal (berth_capability_from_name ("CAP_"), -1);
  assert_int_equal (berth_capability_from_name ("0"), -1);
  assert_int_equal (berth_capability_from_name ("CAP_0"), -1);
  assert_int_equal (berth_capability_from_name (NULL), -1);
}

/* Parses one non-bind mount with the given options; caller frees. */
static struct berth_spec *
mount_with (const char *type, const char *options)
{
  char doc[1024];

  snprintf (doc, sizeof doc, "{'ociVersion': '1', 'mounts': [{'destination': '/m', 'type': '%s', 'options': [%s]}]}",
            type, options);
  return parse_ok (doc);
}

/* Every option of config.md's table is known: none leaks into `data`, and
 * each is accepted on a bind mount. */
static void
test_every_listed_option_known (void **state)
{
  static const char *const listed[] = { "async",          "atime",      "bind",         "defaults",    "dev",
                                        "diratime",       "dirsync",    "exec",         "iversion",    "lazytime",
                                        "loud",           "mand",       "noatime",      "nodev",       "nodiratime",
                                        "noexec",         "noiversion", "nolazytime",   "nomand",      "norelatime",
                                        "nostrictatime",  "nosuid",     "nosymfollow",  "private",     "ratime",
                                        "rbind",          "rdev",       "rdiratime",    "relatime",    "remount",
                                        "rexec",          "rnoatime",   "rnodiratime",  "rnoexec",     "rnorelatime",
                                        "rnostrictatime", "rnosuid",    "rnosymfollow", "ro",          "rprivate",
                                        "rrelatime",      "rro",        "rrw",          "rshared",     "rslave",
                                        "rstrictatime",   "rsuid",      "rsymfollow",   "runbindable", "rw",
                                        "shared",         "silent",     "slave",        "strictatime", "suid",
                                        "symfollow",      "sync",       "tmpcopyup",    "unbindable",  "idmap",
                                        "ridmap",         "rnodev" };

  for (size_t i = 0; i < sizeof (listed) / sizeof (listed[0]); i++)
    {
      char opt[64];
      struct berth_spec *spec;

      snprintf (opt, sizeof opt, "'%s'", listed[i]);
      spec = mount_with ("tmpfs", opt);
      if (spec->mounts[0].data != NULL)
        fail_msg ("option %s went to data", listed[i]);
      berth_spec_free (spec);
      spec = mount_with ("bind", opt);
      assert_true (spec->mounts[0].is_bind);
      berth_spec_free (spec);
    }
}

static void
test_mount_flags_later_wins (void **state)
{
  struct berth_spec *spec = mount_with ("tmpfs", "'ro', 'rw', 'noexec', 'exec', 'nosuid', 'suid', 'nosuid'");
  struct berth_mount *m = &spec->mounts[0];

  assert_int_equal (m->flags, MS_NOSUID);
  assert_int_equal (m->clear_flags, MS_RDONLY | MS_NOEXEC);
  berth_spec_free (spec);

  spec = mount_with ("tmpfs", "'rw', 'ro', 'dirsync', 'sync', 'lazytime', 'iversion', 'mand', 'silent', "
                              "'remount', 'nodiratime', 'nosymfollow', 'relatime', 'nodev'");
  m = &spec->mounts[0];
  assert_int_equal (m->flags, MS_RDONLY | MS_DIRSYNC | MS_SYNCHRONOUS | MS_LAZYTIME | MS_I_VERSION | MS_MANDLOCK
                                  | MS_SILENT | MS_REMOUNT | MS_NODIRATIME | MS_NOSYMFOLLOW | MS_RELATIME | MS_NODEV);
  assert_int_equal (m->clear_flags, 0);
  berth_spec_free (spec);

  spec = mount_with ("tmpfs", "'async', 'loud', 'noiversion', 'nolazytime', 'nomand', 'norelatime', "
                              "'nostrictatime', 'atime', 'diratime', 'symfollow', 'dev', 'defaults'");
  m = &spec->mounts[0];
  assert_int_equal (m->flags, 0);
  assert_int_equal (m->clear_flags, MS_SYNCHRONOUS | MS_SILENT | MS_I_VERSION | MS_LAZYTIME | MS_MANDLOCK | MS_RELATIME
                                        | MS_STRICTATIME | MS_NOATIME | MS_NODIRATIME | MS_NOSYMFOLLOW | MS_NODEV);
  berth_spec_free (spec);
}

static void
test_mount_recursive_attrs (void **state)
{
  struct berth_spec *spec = mount_with ("bind", "'rro', 'rnosuid', 'rnodev', 'rnoexec', 'rnodiratime', "
                                                "'rnosymfollow', 'rsuid'");
  struct berth_mount *m = &spec->mounts[0];

  assert_int_equal (m->attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME
                                     | MOUNT_ATTR_NOSYMFOLLOW);
  assert_int_equal (m->attr_clr, MOUNT_ATTR_NOSUID);
  assert_int_equal (m->flags, 0);
  berth_spec_free (spec);

  spec = mount_with ("bind", "'rrw', 'rdev', 'rexec', 'rdiratime', 'rsymfollow'");
  m = &spec->mounts[0];
  assert_int_equal (m->attr_set, 0);
  assert_int_equal (m->attr_clr, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME
                                     | MOUNT_ATTR_NOSYMFOLLOW);
  berth_spec_free (spec);
}

/* mount_setattr(2) takes the atime mode as an enum: attr_clr must hold all of
 * MOUNT_ATTR__ATIME, attr_set the one mode, and the last option wins. */
static void
test_mount_recursive_atime (void **state)
{
  static const struct
  {
    const char *opts;
    uint64_t mode;
  } cases[] = {
    { "'rnoatime'", MOUNT_ATTR_NOATIME },
    { "'rstrictatime'", MOUNT_ATTR_STRICTATIME },
    { "'rrelatime'", MOUNT_ATTR_RELATIME },
    { "'ratime'", MOUNT_ATTR_RELATIME },
    { "'rnoatime', 'rstrictatime'", MOUNT_ATTR_STRICTATIME },
    { "'rstrictatime', 'rnostrictatime'", MOUNT_ATTR_RELATIME },
    { "'rnorelatime'", MOUNT_ATTR_STRICTATIME },
  };

  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      struct berth_spec *spec = mount_with ("bind", cases[i].opts);
      assert_int_equal (spec->mounts[0].attr_clr, MOUNT_ATTR__ATIME);
      assert_int_equal (spec->mounts[0].attr_set, cases[i].mode);
      berth_spec_free (spec);
    }
}

static void
test_mount_propagation_and_bind (void **state)
{
  struct berth_spec *spec = mount_with ("none", "'rshared', 'slave'");
  assert_int_equal (spec->mounts[0].propagation, MS_SLAVE);
  assert_false (spec->mounts[0].is_bind);
  berth_spec_free (spec);

  spec = mount_with ("none", "'runbindable', 'bind'");
  assert_int_equal (spec->mounts[0].propagation, MS_UNBINDABLE | MS_REC);
  assert_true (spec->mounts[0].is_bind);
  assert_false (spec->mounts[0].recursive_bind);
  berth_spec_free (spec);

  /* "bind" after an unknown option still makes it a bind mount: refused. */
  parse_fails ("{'ociVersion': '1', 'mounts': [{'destination': '/m', 'options': ['x-foo', 'bind']}]}",
               "mounts[0].options[0]: unknown mount option \"x-foo\"");

  spec = mount_with ("overlay", "'lowerdir=/a:/b', 'upperdir=/u', 'workdir=/w', 'ro', 'index=off'");
  assert_string_equal (spec->mounts[0].data, "lowerdir=/a:/b,upperdir=/u,workdir=/w,index=off");
  assert_int_equal (spec->mounts[0].flags, MS_RDONLY);
  berth_spec_free (spec);
}

static void
test_mount_idmap_options (void **state)
{
  struct berth_spec *spec = mount_with ("bind", "'idmap'");
  assert_true (spec->mounts[0].idmap);
  assert_false (spec->mounts[0].recursive_idmap);
  assert_int_equal (spec->mounts[0].attr_set, 0);
  berth_spec_free (spec);

  /* Mappings without the option still ask for an idmapped mount. */
  spec = parse_ok ("{'ociVersion': '1', 'mounts': [{'destination': '/m', 'type': 'bind', 'source': '/s',"
                   " 'uidMappings': [{'containerID': 0, 'hostID': 1, 'size': 2}],"
                   " 'gidMappings': [{'containerID': 0, 'hostID': 3, 'size': 4}]}]}");
  assert_true (spec->mounts[0].idmap);
  assert_false (spec->mounts[0].recursive_idmap);
  assert_int_equal (spec->mounts[0].gid_mappings[0].size, 4);
  berth_spec_free (spec);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_signal_names),
    cmocka_unit_test (test_signal_names_refused),
    cmocka_unit_test (test_namespace_and_hook_names),
    cmocka_unit_test (test_rlimit_names),
    cmocka_unit_test (test_capability_names),
    cmocka_unit_test (test_every_listed_option_known),
    cmocka_unit_test (test_mount_flags_later_wins),
    cmocka_unit_test (test_mount_recursive_attrs),
    cmocka_unit_test (test_mount_recursive_atime),
    cmocka_unit_test (test_mount_propagation_and_bind),
    cmocka_unit_test (test_mount_idmap_options),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
