/* berth_spec_parse on complete documents: every field lands where the
 * runtime expects it.  Also berth_spec_load and berth_spec_default. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <linux/capability.h>

#include "test_spec_util.h"

static const char full_config[]
    = "{'ociVersion': '1.2.0',"
      " 'process': {'terminal': true, 'consoleSize': {'height': 25, 'width': 80},"
      "   'user': {'uid': 1000, 'gid': 1001, 'umask': 18, 'additionalGids': [5, 6, 4294967295],"
      "            'username': 'alice'},"
      "   'args': ['sh', '-c', 'echo hi'], 'env': ['PATH=/bin', 'TERM=xterm', 'EMPTY='], 'cwd': '/work',"
      "   'capabilities': {'bounding': ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN'],"
      "                    'effective': ['CAP_KILL'], 'inheritable': [],"
      "                    'permitted': ['CAP_KILL', 'CAP_NET_BIND_SERVICE'], 'ambient': ['CAP_NET_RAW']},"
      "   'rlimits': [{'type': 'RLIMIT_NOFILE', 'hard': 4096, 'soft': 1024},"
      "               {'type': 'RLIMIT_CORE', 'hard': 9223372036854775807, 'soft': 0}],"
      "   'noNewPrivileges': true, 'oomScoreAdj': -500, 'apparmorProfile': 'prof',"
      "   'selinuxLabel': 'system_u:system_r:container_t:s0',"
      "   'ioPriority': {'class': 'IOPRIO_CLASS_BE', 'priority': 4},"
      "   'scheduler': {'policy': 'SCHED_BATCH', 'nice': 5},"
      "   'execCPUAffinity': {'initial': '0-3', 'final': '1'},"
      "   'someFutureField': {'ignored': [1, 2]}},"
      " 'root': {'path': 'rootfs', 'readonly': true},"
      " 'hostname': 'box', 'domainname': 'example.org',"
      " 'mounts': ["
      "   {'destination': '/proc', 'type': 'proc', 'source': 'proc'},"
      "   {'destination': '/dev', 'type': 'tmpfs', 'source': 'tmpfs',"
      "    'options': ['nosuid', 'strictatime', 'mode=755', 'size=65536k']},"
      "   {'destination': '/dev/pts', 'type': 'devpts', 'source': 'devpts',"
      "    'options': ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']},"
      "   {'destination': 'data', 'type': 'none', 'source': '/srv/data',"
      "    'options': ['rbind', 'ro', 'nosuid', 'nodev', 'rprivate', 'rro', 'rnoexec']},"
      "   {'destination': '/etc/hosts', 'type': 'bind', 'source': '/tmp/hosts', 'options': ['rw', 'exec']},"
      "   {'destination': '/idm', 'type': 'bind', 'source': '/srv/idm', 'options': ['ridmap'],"
      "    'uidMappings': [{'containerID': 0, 'hostID': 100000, 'size': 65536}],"
      "    'gidMappings': [{'containerID': 0, 'hostID': 200000, 'size': 1000}]},"
      "   {'destination': '/run', 'type': 'tmpfs', 'source': 'tmpfs', 'options': ['tmpcopyup', 'noatime']}],"
      " 'hooks': {"
      "   'prestart': [{'path': '/bin/pre', 'args': ['pre', '1'], 'env': ['A=1'], 'timeout': 5}],"
      "   'createRuntime': [{'path': '/bin/cr1'}, {'path': '/bin/cr2', 'args': ['cr2']}],"
      "   'createContainer': [{'path': '/bin/cc'}],"
      "   'startContainer': [{'path': '/bin/sc'}],"
      "   'poststart': [{'path': '/bin/ps'}],"
      "   'poststop': [{'path': '/bin/pst', 'timeout': 30}]},"
      " 'annotations': {'org.example.key': 'value'},"
      " 'linux': {"
      "   'namespaces': [{'type': 'pid'}, {'type': 'network', 'path': '/var/run/netns/x'}, {'type': 'ipc'},"
      "                  {'type': 'uts'}, {'type': 'mount'}, {'type': 'user'}, {'type': 'cgroup'}, {'type': 'time'}],"
      "   'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 1},"
      "                   {'containerID': 1, 'hostID': 100000, 'size': 65536}],"
      "   'gidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 1}],"
      "   'devices': [{'path': '/dev/fuse', 'type': 'c', 'major': 10, 'minor': 229, 'fileMode': 8630,"
      "                'uid': 0, 'gid': 0},"
      "               {'path': '/dev/fifo', 'type': 'p'}],"
      "   'cgroupsPath': '/berth/box',"
      "   'resources': {"
      "     'devices': [{'allow': false, 'access': 'rwm'},"
      "                 {'allow': true, 'type': 'c', 'major': 10, 'minor': 229, 'access': 'rw'}],"
      "     'memory': {'limit': 536870912, 'reservation': 268435456, 'swap': -1, 'kernel': 1, 'kernelTCP': 2,"
      "                'swappiness': 60, 'disableOOMKiller': true, 'useHierarchy': false,"
      "                'checkBeforeUpdate': true},"
      "     'cpu': {'shares': 1024, 'quota': 50000, 'burst': 1000, 'period': 100000,"
      "             'realtimeRuntime': 950000, 'realtimePeriod': 1000000, 'cpus': '0-3', 'mems': '0',"
      "             'idle': 1},"
      "     'pids': {'limit': 100},"
      "     'blockIO': {'weight': 500, 'leafWeight': 300,"
      "                 'weightDevice': [{'major': 8, 'minor': 0, 'weight': 600}],"
      "                 'throttleReadBpsDevice': [{'major': 8, 'minor': 0, 'rate': 1048576}],"
      "                 'throttleWriteBpsDevice': [{'major': 8, 'minor': 16, 'rate': 2097152}],"
      "                 'throttleReadIOPSDevice': [{'major': 8, 'minor': 0, 'rate': 100}],"
      "                 'throttleWriteIOPSDevice': [{'major': 8, 'minor': 0, 'rate': 200}]},"
      "     'hugepageLimits': [{'pageSize': '2MB', 'limit': 209715200}],"
      "     'network': {'classID': 1048577, 'priorities': [{'name': 'eth0', 'priority': 500}]},"
      "     'rdma': {'mlx5_1': {'hcaHandles': 3, 'hcaObjects': 10000}},"
      "     'unified': {'io.max': '259:0 rbps=2097152', 'memory.high': '1G'}},"
      "   'rootfsPropagation': 'rslave',"
      "   'maskedPaths': ['/proc/kcore', '/sys/firmware'],"
      "   'readonlyPaths': ['/proc/sys'],"
      "   'mountLabel': 'system_u:object_r:container_file_t:s0',"
      "   'sysctl': {'net.ipv4.ip_forward': '1', 'kernel.shmmax': '4096'},"
      "   'seccomp': {'defaultAction': 'SCMP_ACT_ERRNO', 'syscalls': []},"
      "   'personality': {'domain': 'LINUX32'},"
      "   'intelRdt': {'closID': 'guaranteed_group'},"
      "   'memoryPolicy': {'mode': 'MPOL_BIND', 'nodes': '0'},"
      "   'netDevices': {'eth1': {'name': 'ctr1'}},"
      "   'timeOffsets': {'monotonic': {'secs': 10}}}}";

static void
test_full_process (void **state)
{
  struct berth_spec *spec = parse_ok (full_config);
  struct berth_process *p = spec->process;

  assert_string_equal (spec->oci_version, "1.2.0");
  assert_string_equal (spec->root_path, "rootfs");
  assert_true (spec->root_readonly);
  assert_string_equal (spec->hostname, "box");
  assert_string_equal (spec->domainname, "example.org");
  assert_non_null (p);
  assert_true (p->terminal);
  assert_true (p->has_console_size);
  assert_int_equal (p->console_height, 25);
  assert_int_equal (p->console_width, 80);
  assert_int_equal (p->n_args, 3);
  assert_string_equal (p->args[2], "echo hi");
  assert_null (p->args[3]);
  assert_int_equal (p->n_env, 3);
  assert_string_equal (p->env[2], "EMPTY=");
  assert_null (p->env[3]);
  assert_string_equal (p->cwd, "/work");
  assert_int_equal (p->user.uid, 1000);
  assert_int_equal (p->user.gid, 1001);
  assert_true (p->user.has_umask);
  assert_int_equal (p->user.umask, 022);
  assert_int_equal (p->user.n_additional_gids, 3);
  assert_int_equal (p->user.additional_gids[2], 4294967295u);
  assert_string_equal (p->user.username, "alice");
  assert_non_null (p->capabilities);
  assert_int_equal (p->capabilities->bounding, (1ull << CAP_CHOWN) | (1ull << CAP_KILL) | (1ull << CAP_SYS_ADMIN));
  assert_int_equal (p->capabilities->effective, 1ull << CAP_KILL);
  assert_int_equal (p->capabilities->inheritable, 0);
  assert_int_equal (p->capabilities->permitted, (1ull << CAP_KILL) | (1ull << CAP_NET_BIND_SERVICE));
  assert_int_equal (p->capabilities->ambient, 1ull << CAP_NET_RAW);
  assert_int_equal (p->n_rlimits, 2);
  assert_int_equal (p->rlimits[0].resource, RLIMIT_NOFILE);
  assert_string_equal (p->rlimits[0].type, "RLIMIT_NOFILE");
  assert_int_equal (p->rlimits[0].soft, 1024);
  assert_int_equal (p->rlimits[0].hard, 4096);
  assert_int_equal (p->rlimits[1].resource, RLIMIT_CORE);
  assert_int_equal (p->rlimits[1].hard, 9223372036854775807ull);
  assert_true (p->no_new_privileges);
  assert_true (p->has_oom_score_adj);
  assert_int_equal (p->oom_score_adj, -500);
  assert_string_equal (p->apparmor_profile, "prof");
  assert_string_equal (p->selinux_label, "system_u:system_r:container_t:s0");
  assert_string_equal (json_string_value (json_object_get (p->io_priority, "class")), "IOPRIO_CLASS_BE");
  assert_string_equal (json_string_value (json_object_get (p->scheduler, "policy")), "SCHED_BATCH");
  assert_string_equal (json_string_value (json_object_get (p->exec_cpu_affinity, "final")), "1");
  assert_string_equal (json_string_value (json_object_get (spec->annotations, "org.example.key")), "value");
  berth_spec_free (spec);
}

static void
test_full_mounts (void **state)
{
  struct berth_spec *spec = parse_ok (full_config);
  struct berth_mount *m = spec->mounts;

  assert_int_equal (spec->n_mounts, 7);
  assert_string_equal (m[0].destination, "/proc");
  assert_string_equal (m[0].type, "proc");
  assert_int_equal (m[0].n_options, 0);
  assert_non_null (m[0].options);
  assert_null (m[0].data);
  assert_false (m[0].is_bind);

  assert_int_equal (m[1].flags, MS_NOSUID | MS_STRICTATIME);
  assert_string_equal (m[1].data, "mode=755,size=65536k");

  assert_int_equal (m[2].flags, MS_NOSUID | MS_NOEXEC);
  assert_string_equal (m[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  assert_int_equal (m[2].n_options, 6);
  assert_string_equal (m[2].options[5], "gid=5");

  /* Relative destination: deprecated, interpreted relative to "/". */
  assert_string_equal (m[3].destination, "/data");
  assert_true (m[3].is_bind);
  assert_true (m[3].recursive_bind);
  assert_int_equal (m[3].flags, MS_RDONLY | MS_NOSUID | MS_NODEV);
  assert_int_equal (m[3].propagation, MS_PRIVATE | MS_REC);
  assert_int_equal (m[3].attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC);
  assert_int_equal (m[3].attr_clr, 0);
  assert_null (m[3].data);

  assert_true (m[4].is_bind);
  assert_false (m[4].recursive_bind);
  assert_int_equal (m[4].flags, 0);
  assert_int_equal (m[4].clear_flags, MS_RDONLY | MS_NOEXEC);

  assert_true (m[5].idmap);
  assert_true (m[5].recursive_idmap);
  assert_int_equal (m[5].n_uid_mappings, 1);
  assert_int_equal (m[5].uid_mappings[0].host_id, 100000);
  assert_int_equal (m[5].uid_mappings[0].size, 65536);
  assert_int_equal (m[5].n_gid_mappings, 1);
  assert_int_equal (m[5].gid_mappings[0].host_id, 200000);

  assert_true (m[6].tmpcopyup);
  assert_int_equal (m[6].flags, MS_NOATIME);
  assert_null (m[6].data);
  berth_spec_free (spec);
}

static void
test_full_hooks (void **state)
{
  struct berth_spec *spec = parse_ok (full_config);
  struct berth_hook *h;

  for (int k = 0; k < BERTH_HOOK_KIND_COUNT; k++)
    assert_true (spec->n_hooks[k] >= 1);
  h = &spec->hooks[BERTH_HOOK_PRESTART][0];
  assert_string_equal (h->path, "/bin/pre");
  assert_int_equal (h->n_args, 2);
  assert_string_equal (h->args[1], "1");
  assert_int_equal (h->n_env, 1);
  assert_true (h->has_timeout);
  assert_int_equal (h->timeout, 5);
  assert_int_equal (spec->n_hooks[BERTH_HOOK_CREATE_RUNTIME], 2);
  h = &spec->hooks[BERTH_HOOK_CREATE_RUNTIME][0];
  assert_int_equal (h->n_args, 0);
  assert_non_null (h->args);
  assert_null (h->args[0]);
  assert_false (h->has_timeout);
  assert_string_equal (spec->hooks[BERTH_HOOK_CREATE_CONTAINER][0].path, "/bin/cc");
  assert_string_equal (spec->hooks[BERTH_HOOK_START_CONTAINER][0].path, "/bin/sc");
  assert_string_equal (spec->hooks[BERTH_HOOK_POSTSTART][0].path, "/bin/ps");
  assert_int_equal (spec->hooks[BERTH_HOOK_POSTSTOP][0].timeout, 30);
  berth_spec_free (spec);
}

static void
test_full_linux (void **state)
{
  struct berth_spec *spec = parse_ok (full_config);
  struct berth_linux *lx = spec->linux;

  assert_non_null (lx);
  for (int i = 0; i < BERTH_NS_COUNT; i++)
    assert_true (lx->namespaces[i].present);
  assert_null (lx->namespaces[BERTH_NS_PID].path);
  assert_string_equal (lx->namespaces[BERTH_NS_NET].path, "/var/run/netns/x");
  assert_int_equal (lx->n_uid_mappings, 2);
  assert_int_equal (lx->uid_mappings[1].container_id, 1);
  assert_int_equal (lx->uid_mappings[1].host_id, 100000);
  assert_int_equal (lx->uid_mappings[1].size, 65536);
  assert_int_equal (lx->n_gid_mappings, 1);
  assert_int_equal (lx->n_devices, 2);
  assert_string_equal (lx->devices[0].path, "/dev/fuse");
  assert_int_equal (lx->devices[0].type, 'c');
  assert_int_equal (lx->devices[0].major, 10);
  assert_int_equal (lx->devices[0].minor, 229);
  assert_true (lx->devices[0].has_file_mode);
  assert_int_equal (lx->devices[0].file_mode, 0666); /* 8630 is 020666: type bits dropped */
  assert_true (lx->devices[0].has_uid);
  assert_int_equal (lx->devices[1].type, 'p');
  assert_false (lx->devices[1].has_file_mode);
  assert_string_equal (lx->cgroups_path, "/berth/box");
  assert_int_equal (lx->rootfs_propagation, MS_SLAVE | MS_REC);
  assert_int_equal (lx->n_masked_paths, 2);
  assert_string_equal (lx->masked_paths[1], "/sys/firmware");
  assert_int_equal (lx->n_readonly_paths, 1);
  assert_string_equal (lx->mount_label, "system_u:object_r:container_file_t:s0");
  assert_int_equal (lx->n_sysctl, 2);
  assert_string_equal (lx->sysctl[0].key, "net.ipv4.ip_forward");
  assert_string_equal (lx->sysctl[0].value, "1");
  assert_string_equal (lx->sysctl[1].key, "kernel.shmmax");
  assert_string_equal (json_string_value (json_object_get (lx->seccomp, "defaultAction")), "SCMP_ACT_ERRNO");
  assert_non_null (lx->personality);
  assert_non_null (lx->intel_rdt);
  assert_non_null (lx->memory_policy);
  assert_non_null (json_object_get (lx->net_devices, "eth1"));
  assert_non_null (json_object_get (lx->time_offsets, "monotonic"));
  berth_spec_free (spec);
}

static void
test_full_resources (void **state)
{
  struct berth_spec *spec = parse_ok (full_config);
  struct berth_resources *r = spec->linux->resources;

  assert_non_null (r);
  assert_int_equal (r->n_devices, 2);
  assert_false (r->devices[0].allow);
  assert_int_equal (r->devices[0].type, 'a');
  assert_int_equal (r->devices[0].major, -1);
  assert_int_equal (r->devices[0].minor, -1);
  assert_string_equal (r->devices[0].access, "rwm");
  assert_true (r->devices[1].allow);
  assert_int_equal (r->devices[1].type, 'c');
  assert_int_equal (r->devices[1].major, 10);
  assert_string_equal (r->devices[1].access, "rw");

  assert_true (r->memory.present);
  assert_true (r->memory.has_limit);
  assert_int_equal (r->memory.limit, 536870912);
  assert_int_equal (r->memory.reservation, 268435456);
  assert_int_equal (r->memory.swap, -1);
  assert_int_equal (r->memory.kernel, 1);
  assert_int_equal (r->memory.kernel_tcp, 2);
  assert_true (r->memory.has_swappiness);
  assert_int_equal (r->memory.swappiness, 60);
  assert_true (r->memory.has_disable_oom_killer);
  assert_true (r->memory.disable_oom_killer);
  assert_true (r->memory.has_use_hierarchy);
  assert_false (r->memory.use_hierarchy);
  assert_true (r->memory.check_before_update);

  assert_true (r->cpu.present);
  assert_int_equal (r->cpu.shares, 1024);
  assert_int_equal (r->cpu.quota, 50000);
  assert_int_equal (r->cpu.burst, 1000);
  assert_int_equal (r->cpu.period, 100000);
  assert_int_equal (r->cpu.realtime_runtime, 950000);
  assert_int_equal (r->cpu.realtime_period, 1000000);
  assert_string_equal (r->cpu.cpus, "0-3");
  assert_string_equal (r->cpu.mems, "0");
  assert_true (r->cpu.has_idle);
  assert_int_equal (r->cpu.idle, 1);

  assert_true (r->pids.present);
  assert_int_equal (r->pids.limit, 100);

  assert_true (r->block_io.present);
  assert_int_equal (r->block_io.weight, 500);
  assert_int_equal (r->block_io.leaf_weight, 300);
  assert_int_equal (r->block_io.n_weight_device, 1);
  assert_true (r->block_io.weight_device[0].has_weight);
  assert_int_equal (r->block_io.weight_device[0].weight, 600);
  assert_false (r->block_io.weight_device[0].has_leaf_weight);
  assert_int_equal (r->block_io.throttle_read_bps[0].rate, 1048576);
  assert_int_equal (r->block_io.throttle_write_bps[0].minor, 16);
  assert_int_equal (r->block_io.throttle_read_iops[0].rate, 100);
  assert_int_equal (r->block_io.throttle_write_iops[0].rate, 200);

  assert_int_equal (r->n_hugepage_limits, 1);
  assert_string_equal (r->hugepage_limits[0].page_size, "2MB");
  assert_int_equal (r->hugepage_limits[0].limit, 209715200);

  assert_true (r->network.present);
  assert_int_equal (r->network.class_id, 1048577);
  assert_string_equal (r->network.priorities[0].name, "eth0");
  assert_int_equal (r->network.priorities[0].priority, 500);

  assert_int_equal (r->n_rdma, 1);
  assert_string_equal (r->rdma[0].device, "mlx5_1");
  assert_int_equal (r->rdma[0].hca_handles, 3);
  assert_int_equal (r->rdma[0].hca_objects, 10000);

  assert_int_equal (r->n_unified, 2);
  assert_string_equal (r->unified[0].key, "io.max");
  assert_string_equal (r->unified[1].value, "1G");
  berth_spec_free (spec);
}

static void
test_minimal_defaults (void **state)
{
  struct berth_spec *spec = parse_ok (DOC (""));

  assert_null (spec->process);
  assert_null (spec->linux);
  assert_null (spec->root_path);
  assert_null (spec->annotations);
  assert_int_equal (spec->n_mounts, 0);
  berth_spec_free (spec);

  spec = parse_ok (DOC (", 'process': {'args': ['sh'], 'cwd': '/', 'user': {'uid': 0, 'gid': 0}},"
                        " 'linux': {'resources': {'pids': {}}}"));
  assert_null (spec->process->capabilities);
  assert_false (spec->process->user.has_umask);
  assert_false (spec->process->has_oom_score_adj);
  assert_non_null (spec->process->env);
  assert_int_equal (spec->process->n_env, 0);
  assert_false (spec->linux->namespaces[BERTH_NS_PID].present);
  assert_true (spec->linux->resources->pids.present);
  assert_int_equal (spec->linux->resources->pids.limit, 0);
  assert_false (spec->linux->resources->memory.present);
  assert_non_null (spec->linux->masked_paths);
  berth_spec_free (spec);
}

static void
test_unknown_properties_and_nulls_ignored (void **state)
{
  struct berth_spec *spec
      = parse_ok ("{'ociVersion': '1.0.2', 'vm': {'hypervisor': {}}, 'hostname': null, 'windows': 3,"
                  " 'linux': {'namespaces': null, 'futureThing': [1]}, 'process': {'args': ['a'], 'cwd': '/',"
                  " 'user': {'uid': 1, 'gid': 2, 'umask': null}, 'x-vendor': true}}");
  assert_null (spec->hostname);
  assert_false (spec->process->user.has_umask);
  assert_false (spec->linux->namespaces[BERTH_NS_MNT].present);
  berth_spec_free (spec);
}

static void
test_rootfs_propagation_values (void **state)
{
  static const struct
  {
    const char *name;
    unsigned long flags;
  } cases[] = {
    { "shared", MS_SHARED },
    { "slave", MS_SLAVE },
    { "private", MS_PRIVATE },
    { "unbindable", MS_UNBINDABLE },
    { "rshared", MS_SHARED | MS_REC },
    { "rprivate", MS_PRIVATE | MS_REC },
    { "runbindable", MS_UNBINDABLE | MS_REC },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      char doc[200];
      struct berth_spec *spec;
      snprintf (doc, sizeof doc, "{'ociVersion': '1', 'linux': {'rootfsPropagation': '%s'}}", cases[i].name);
      spec = parse_ok (doc);
      assert_int_equal (spec->linux->rootfs_propagation, cases[i].flags);
      berth_spec_free (spec);
    }
}

static void
test_process_parse_alone (void **state)
{
  berth_err err = NULL;
  char *s = json_quote ("{'args': ['ls'], 'cwd': '/tmp', 'env': ['A=b'], 'terminal': false}");
  json_t *obj = json_loads (s, 0, NULL);
  struct berth_process *p = berth_process_parse (obj, "", &err);

  assert_non_null (p);
  assert_string_equal (p->args[0], "ls");
  assert_string_equal (p->cwd, "/tmp");
  berth_process_free (p);
  json_decref (obj);
  free (s);

  s = json_quote ("{'args': [], 'cwd': '/'}");
  obj = json_loads (s, 0, NULL);
  assert_null (berth_process_parse (obj, "", &err));
  assert_string_equal (err->msg, "args: must not be empty");
  berth_err_free (&err);
  assert_null (berth_process_parse (obj, "process", &err));
  assert_string_equal (err->msg, "process.args: must not be empty");
  berth_err_free (&err);
  json_decref (obj);
  free (s);

  obj = json_string ("x");
  assert_null (berth_process_parse (obj, "", &err));
  assert_string_equal (err->msg, "expected object");
  berth_err_free (&err);
  json_decref (obj);
}

static void
check_default_round_trip (bool rootless)
{
  berth_err err = NULL;
  json_t *def = berth_spec_default (rootless, 1234, 5678);
  char *text = json_dumps (def, 0);
  struct berth_spec *spec = berth_spec_parse (text, strlen (text), "config.json", &err);

  if (spec == NULL)
    fail_msg ("%s", err->msg);
  assert_string_equal (spec->oci_version, BERTH_OCI_VERSION);
  assert_string_equal (spec->process->args[0], "sh");
  assert_true (spec->process->terminal);
  assert_int_equal (spec->process->capabilities->bounding,
                    (1ull << CAP_AUDIT_WRITE) | (1ull << CAP_KILL) | (1ull << CAP_NET_BIND_SERVICE));
  assert_int_equal (spec->process->rlimits[0].resource, RLIMIT_NOFILE);
  assert_int_equal (spec->n_mounts, 7);
  assert_true (spec->linux->namespaces[BERTH_NS_MNT].present);
  assert_int_equal (spec->linux->n_masked_paths, 10);
  assert_int_equal (spec->linux->n_readonly_paths, 5);
  if (rootless)
    {
      assert_true (spec->linux->namespaces[BERTH_NS_USER].present);
      assert_false (spec->linux->namespaces[BERTH_NS_NET].present);
      assert_int_equal (spec->linux->uid_mappings[0].host_id, 1234);
      assert_int_equal (spec->linux->gid_mappings[0].host_id, 5678);
      assert_true (spec->mounts[5].is_bind);
      assert_true (spec->mounts[5].recursive_bind);
      assert_int_equal (spec->mounts[2].n_options, 5);
      assert_null (spec->linux->resources);
    }
  else
    {
      assert_false (spec->linux->namespaces[BERTH_NS_USER].present);
      assert_true (spec->linux->namespaces[BERTH_NS_NET].present);
      assert_int_equal (spec->linux->resources->n_devices, 1);
      assert_false (spec->linux->resources->devices[0].allow);
      assert_string_equal (spec->mounts[5].type, "sysfs");
    }
  berth_spec_free (spec);
  free (text);
  json_decref (def);
}

static void
test_default_round_trip (void **state)
{
  check_default_round_trip (false);
  check_default_round_trip (true);
}

/* The exact bytes `runc spec` prints (runc 1.1), compact, keys in runc's order; only
   the hostname differs ("berth", as crun writes "crun"). */
static void
test_default_matches_runc (void **state)
{
  json_t *def = berth_spec_default (false, 0, 0);
  char *text = json_dumps (def, JSON_COMPACT);
  char *expected
      = json_quote ("{'ociVersion':'" BERTH_OCI_VERSION "','process':{'terminal':true,'user':{'uid':0,'gid':0},"
                    "'args':['sh'],'env':['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',"
                    "'TERM=xterm'],'cwd':'/','capabilities':{'bounding':['CAP_AUDIT_WRITE','CAP_KILL',"
                    "'CAP_NET_BIND_SERVICE'],'effective':['CAP_AUDIT_WRITE','CAP_KILL','CAP_NET_BIND_SERVICE'],"
                    "'permitted':['CAP_AUDIT_WRITE','CAP_KILL','CAP_NET_BIND_SERVICE'],'ambient':['CAP_AUDIT_WRITE',"
                    "'CAP_KILL','CAP_NET_BIND_SERVICE']},'rlimits':[{'type':'RLIMIT_NOFILE','hard':1024,'soft':1024}],"
                    "'noNewPrivileges':true},'root':{'path':'rootfs','readonly':true},'hostname':'berth','mounts':["
                    "{'destination':'/proc','type':'proc','source':'proc'},{'destination':'/dev','type':'tmpfs',"
                    "'source':'tmpfs','options':['nosuid','strictatime','mode=755','size=65536k']},{'destination':"
                    "'/dev/pts','type':'devpts','source':'devpts','options':['nosuid','noexec','newinstance',"
                    "'ptmxmode=0666','mode=0620','gid=5']},{'destination':'/dev/shm','type':'tmpfs','source':'shm',"
                    "'options':['nosuid','noexec','nodev','mode=1777','size=65536k']},{'destination':'/dev/mqueue',"
                    "'type':'mqueue','source':'mqueue','options':['nosuid','noexec','nodev']},{'destination':'/sys',"
                    "'type':'sysfs','source':'sysfs','options':['nosuid','noexec','nodev','ro']},{'destination':"
                    "'/sys/fs/cgroup','type':'cgroup','source':'cgroup','options':['nosuid','noexec','nodev',"
                    "'relatime','ro']}],'linux':{'resources':{'devices':[{'allow':false,'access':'rwm'}]},"
                    "'namespaces':[{'type':'pid'},{'type':'network'},{'type':'ipc'},{'type':'uts'},{'type':'mount'}],"
                    "'maskedPaths':['/proc/acpi','/proc/asound','/proc/kcore','/proc/keys','/proc/latency_stats',"
                    "'/proc/timer_list','/proc/timer_stats','/proc/sched_debug','/sys/firmware','/proc/scsi'],"
                    "'readonlyPaths':['/proc/bus','/proc/fs','/proc/irq','/proc/sys','/proc/sysrq-trigger']}}");

  assert_string_equal (text, expected);
  free (text);
  free (expected);
  json_decref (def);
}

static void
test_load_missing_file (void **state)
{
  berth_err err = NULL;

  assert_null (berth_spec_load ("/nonexistent/config.json", &err));
  assert_string_equal (err->msg, "open /nonexistent/config.json: no such file or directory");
  assert_int_equal (err->errnum, ENOENT);
  berth_err_free (&err);
}

static void
test_load_file_and_too_large (void **state)
{
  char path[] = "/tmp/berth-test-spec-XXXXXX";
  char expected[256];
  berth_err err = NULL;
  struct berth_spec *spec;
  int fd = mkstemp (path);
  const char *doc = "{\"ociVersion\": \"1.2.0\", \"hostname\": \"h\"}";

  assert_true (fd >= 0);
  assert_int_equal (write (fd, doc, strlen (doc)), (ssize_t)strlen (doc));
  spec = berth_spec_load (path, &err);
  assert_non_null (spec);
  assert_string_equal (spec->hostname, "h");
  berth_spec_free (spec);

  /* 50 MiB, sparse: refused from its size, before anything is read. */
  assert_int_equal (ftruncate (fd, 50 * 1024 * 1024), 0);
  assert_null (berth_spec_load (path, &err));
  snprintf (expected, sizeof expected, "%s: config file too large (52428800 bytes, limit 16777216)", path);
  assert_string_equal (err->msg, expected);
  berth_err_free (&err);
  close (fd);
  unlink (path);
}

static void
test_load_invalid_json_names_file (void **state)
{
  char path[] = "/tmp/berth-test-spec-XXXXXX";
  char expected[256];
  berth_err err = NULL;
  int fd = mkstemp (path);
  const char *doc = "{\n  \"ociVersion\": \"1.2.0\",\n    ]\n}";

  assert_true (fd >= 0);
  assert_int_equal (write (fd, doc, strlen (doc)), (ssize_t)strlen (doc));
  close (fd);
  assert_null (berth_spec_load (path, &err));
  snprintf (expected, sizeof expected, "%s: invalid JSON at line 3, column 5: string or '}' expected near ']'", path);
  assert_string_equal (err->msg, expected);
  berth_err_free (&err);
  unlink (path);
}

/* A character device never ends: the read stops at the limit. */
static void
test_load_endless_stream (void **state)
{
  berth_err err = NULL;

  assert_null (berth_spec_load ("/dev/zero", &err));
  assert_string_equal (err->msg, "/dev/zero: config file too large (more than 16777216 bytes, limit 16777216)");
  berth_err_free (&err);
  assert_null (berth_spec_load ("/", &err));
  assert_string_equal (err->msg, "read /: is a directory");
  assert_int_equal (err->errnum, EISDIR);
  berth_err_free (&err);
}

/* Errors in `exec --process` files carry no "process." prefix, nested or not. */
static void
test_process_parse_alone_nested_paths (void **state)
{
  static const struct
  {
    const char *doc;
    const char *msg;
  } cases[] = {
    { "{'args': ['a'], 'cwd': '/', 'user': {'uid': -1, 'gid': 0}}", "user.uid: -1 is out of range (0 to 4294967295)" },
    { "{'args': ['a'], 'cwd': '/', 'capabilities': {'bounding': ['CAP_NOPE']}}",
      "capabilities.bounding[0]: unknown capability \"CAP_NOPE\"" },
    { "{'args': ['a'], 'cwd': 'rel'}", "cwd: must be an absolute path, got \"rel\"" },
    { "{'args': ['a'], 'cwd': '/', 'rlimits': [{'type': 'RLIMIT_CPU', 'soft': 1}]}",
      "rlimits[0].hard: required property missing" },
    { "{'cwd': '/'}", "args: required property missing" },
  };

  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      berth_err err = NULL;
      char *s = json_quote (cases[i].doc);
      json_t *obj = json_loads (s, 0, NULL);

      assert_non_null (obj);
      assert_null (berth_process_parse (obj, "", &err));
      assert_string_equal (err->msg, cases[i].msg);
      berth_err_free (&err);
      json_decref (obj);
      free (s);
    }
}

/* Known limitation: jansson keeps integers as int64, so a uint64 above
 * INT64_MAX (e.g. 18446744073709551615 for "unlimited") is refused as JSON. */
static void
test_uint64_above_int64_refused (void **state)
{
  parse_fails ("{'ociVersion': '1', 'process': {'args': ['a'], 'cwd': '/', 'rlimits': [{'type': 'RLIMIT_CORE',"
               " 'soft': 18446744073709551615, 'hard': 1}]}}",
               "config.json: invalid JSON at line 1, column 123: too big integer near '18446744073709551615'");
}

static void
test_where_defaults_to_config_json (void **state)
{
  berth_err err = NULL;

  assert_null (berth_spec_parse ("{", 1, NULL, &err));
  assert_string_equal (err->msg,
                       "config.json: invalid JSON at line 1, column 1: string or '}' expected near end of file");
  berth_err_free (&err);
}

/* ociVersion selects old or new rules (poststart failures): 1.3 and later,
 * pre-releases of 1.3, and text that is not SemVer count as "at least 1.3". */
static void
test_version_at_least (void **state)
{
  (void)state;
  static const struct
  {
    const char *version;
    bool at_least_1_3;
  } cases[] = {
    { "1.0.2-dev", false }, { "1.2.1", false }, { "0.9.0", false }, { "1.3.0", true },
    { "1.3.0-rc.1", true }, { "1.10.0", true }, { "2.0.0", true },   { "not-a-version", true },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      struct berth_spec spec = { .oci_version = (char *)cases[i].version };
      assert_int_equal (berth_spec_version_at_least (&spec, 1, 3), cases[i].at_least_1_3);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_full_process),
    cmocka_unit_test (test_version_at_least),
    cmocka_unit_test (test_full_mounts),
    cmocka_unit_test (test_full_hooks),
    cmocka_unit_test (test_full_linux),
    cmocka_unit_test (test_full_resources),
    cmocka_unit_test (test_minimal_defaults),
    cmocka_unit_test (test_unknown_properties_and_nulls_ignored),
    cmocka_unit_test (test_rootfs_propagation_values),
    cmocka_unit_test (test_process_parse_alone),
    cmocka_unit_test (test_default_round_trip),
    cmocka_unit_test (test_default_matches_runc),
    cmocka_unit_test (test_load_missing_file),
    cmocka_unit_test (test_load_file_and_too_large),
    cmocka_unit_test (test_load_invalid_json_names_file),
    cmocka_unit_test (test_load_endless_stream),
    cmocka_unit_test (test_process_parse_alone_nested_paths),
    cmocka_unit_test (test_uint64_above_int64_refused),
    cmocka_unit_test (test_where_defaults_to_config_json),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
