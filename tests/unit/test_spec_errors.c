/* Every refusal names the JSON path of the offending value; messages are
 * API (engines and people read them), so they are checked byte for byte. */
#include "test_spec_util.h"

static void
test_invalid_json_position (void **state)
{
  parse_fails ("{\n  'ociVersion': '1',\n    ]\n}",
               "config.json: invalid JSON at line 3, column 5: string or '}' expected near ']'");
  parse_fails ("", "config.json: invalid JSON at line 1, column 0: '[' or '{' expected near end of file");
  parse_fails ("{'ociVersion': '1'} x",
               "config.json: invalid JSON at line 1, column 21: end of file expected near 'x'");
}

static void
test_invalid_json_content (void **state)
{
  parse_fails ("{'ociVersion': 'a\\u0000b'}",
               "config.json: invalid JSON at line 1, column 25: \\u0000 is not allowed without JSON_ALLOW_NUL"
               " near '\"a\\u0000b\"'");
  parse_fails ("{'ociVersion': 'a\xff'}",
               "config.json: invalid JSON at line 1, column 17: unable to decode byte 0xff near '\"a'");
  parse_fails ("{'ociVersion': '1', 'ociVersion': '2'}",
               "config.json: invalid JSON at line 1, column 32: duplicate object key near '\"ociVersion\"'");
  parse_fails ("['ociVersion']", "config.json: expected a JSON object at the top level");
}

static void
test_oci_version_and_root (void **state)
{
  parse_fails ("{}", "ociVersion: required property missing");
  parse_fails ("{'ociVersion': 1}", "ociVersion: expected string");
  parse_fails ("{'ociVersion': null}", "ociVersion: required property missing");
  parse_fails (DOC (", 'root': {'readonly': true}"), "root.path: required property missing");
  parse_fails (DOC (", 'root': {'path': ''}"), "root.path: must not be empty");
  parse_fails (DOC (", 'root': {'path': 'r', 'readonly': 'yes'}"), "root.readonly: expected boolean");
  parse_fails (DOC (", 'root': 'rootfs'"), "root: expected object");
  parse_fails (DOC (", 'hostname': 7"), "hostname: expected string");
  parse_fails (DOC (", 'annotations': {'org.a.b': 1}"), "annotations[\"org.a.b\"]: expected string");
  parse_fails (DOC (", 'annotations': []"), "annotations: expected object");
}

static void
test_process_args_cwd_env (void **state)
{
  parse_fails (DOC (", 'process': {'args': [], 'cwd': '/'}"), "process.args: must not be empty");
  parse_fails (DOC (", 'process': {'cwd': '/'}"), "process.args: required property missing");
  parse_fails (DOC (", 'process': {'args': 'sh', 'cwd': '/'}"), "process.args: expected array");
  parse_fails (DOC (", 'process': {'args': ['sh', 1], 'cwd': '/'}"), "process.args[1]: expected string");
  parse_fails (DOC (", 'process': {'args': ['sh']}"), "process.cwd: required property missing");
  parse_fails (DOC (", 'process': {'args': ['sh'], 'cwd': 'tmp'}"),
               "process.cwd: must be an absolute path, got \"tmp\"");
  parse_fails (PROC (", 'env': ['A=1', 'FOO']"), "process.env[1]: invalid environment variable \"FOO\": missing '='");
  parse_fails (PROC (", 'env': ['=x']"), "process.env[0]: invalid environment variable \"=x\": empty name");
  parse_fails (DOC (", 'process': []"), "process: expected object");
  parse_fails (PROC (", 'terminal': 'yes'"), "process.terminal: expected boolean");
  parse_fails (PROC (", 'consoleSize': {'height': 1}"), "process.consoleSize.width: required property missing");
}

static void
test_integer_types_and_ranges (void **state)
{
  parse_fails (PROC (", 'user': {'gid': 0}"), "process.user.uid: required property missing");
  parse_fails (PROC (", 'user': {'uid': 0}"), "process.user.gid: required property missing");
  parse_fails (PROC (", 'user': {'uid': -1, 'gid': 0}"), "process.user.uid: -1 is out of range (0 to 4294967295)");
  parse_fails (PROC (", 'user': {'uid': 4294967296, 'gid': 0}"),
               "process.user.uid: 4294967296 is out of range (0 to 4294967295)");
  parse_fails (PROC (", 'user': {'uid': '0', 'gid': 0}"), "process.user.uid: expected integer");
  parse_fails (PROC (", 'user': {'uid': 1.5, 'gid': 0}"), "process.user.uid: expected integer");
  parse_fails (PROC (", 'user': {'uid': 1.0, 'gid': 0}"), "process.user.uid: expected integer");
  parse_fails (PROC (", 'user': {'uid': 0, 'gid': 0, 'umask': 512}"),
               "process.user.umask: 512 is out of range (0 to 511)");
  parse_fails (PROC (", 'user': {'uid': 0, 'gid': 0, 'additionalGids': [1, -2]}"),
               "process.user.additionalGids[1]: -2 is out of range (0 to 4294967295)");
  parse_fails (PROC (", 'oomScoreAdj': 1001"), "process.oomScoreAdj: 1001 is out of range (-1000 to 1000)");
  parse_fails (PROC (", 'oomScoreAdj': true"), "process.oomScoreAdj: expected integer");
  parse_fails (RES ("'memory': {'limit': '1G'}"), "linux.resources.memory.limit: expected integer");
  parse_fails (RES ("'memory': {'swappiness': -1}"),
               "linux.resources.memory.swappiness: -1 is out of range (0 to 9223372036854775807)");
  parse_fails (RES ("'blockIO': {'weight': 65536}"),
               "linux.resources.blockIO.weight: 65536 is out of range (0 to 65535)");
  parse_fails (RES ("'cpu': {'shares': -2}"),
               "linux.resources.cpu.shares: -2 is out of range (0 to 9223372036854775807)");
  parse_fails (RES ("'cpu': {'quota': 1e3}"), "linux.resources.cpu.quota: expected integer");
}

static void
test_capabilities (void **state)
{
  parse_fails (PROC (", 'capabilities': {'bounding': ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN', 'CAP_FOO']}"),
               "process.capabilities.bounding[3]: unknown capability \"CAP_FOO\"");
  parse_fails (PROC (", 'capabilities': {'ambient': ['cap_chown']}"),
               "process.capabilities.ambient[0]: unknown capability \"cap_chown\"");
  parse_fails (PROC (", 'capabilities': {'effective': ['CHOWN']}"),
               "process.capabilities.effective[0]: unknown capability \"CHOWN\"");
  parse_fails (PROC (", 'capabilities': {'permitted': [7]}"), "process.capabilities.permitted[0]: expected string");
  parse_fails (PROC (", 'capabilities': ['CAP_KILL']"), "process.capabilities: expected object");
}

static void
test_rlimits (void **state)
{
  parse_fails (PROC (", 'rlimits': [{'type': 'RLIMIT_BOGUS', 'soft': 1, 'hard': 1}]"),
               "process.rlimits[0].type: unknown rlimit \"RLIMIT_BOGUS\"");
  parse_fails (PROC (", 'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1, 'hard': 1},"
                     " {'type': 'RLIMIT_NOFILE', 'soft': 2, 'hard': 2}]"),
               "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"");
  parse_fails (PROC (", 'rlimits': [{'type': 'RLIMIT_NOFILE', 'hard': 1}]"),
               "process.rlimits[0].soft: required property missing");
  parse_fails (PROC (", 'rlimits': [{'soft': 1, 'hard': 1}]"), "process.rlimits[0].type: required property missing");
  parse_fails (PROC (", 'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': -1, 'hard': 1}]"),
               "process.rlimits[0].soft: -1 is out of range (0 to 9223372036854775807)");
}

static void
test_mounts (void **state)
{
  parse_fails (DOC (", 'mounts': [{'destination': '/a'}, {'destination': '/b'},"
                    " {'destination': '/c', 'type': 'bind', 'source': '/x', 'options': ['ro', 'foo']}]"),
               "mounts[2].options[1]: unknown mount option \"foo\"");
  /* Filesystem data has no effect on a bind mount (runc passes it, the
     kernel ignores it): dropped, while unknown flag words are refused. */
  {
    struct berth_spec *s = parse_ok (MOUNT (", 'source': '/x', 'options': ['mode=755', 'rbind', 'size=1k']"));
    assert_true (s->mounts[0].is_bind && s->mounts[0].recursive_bind);
    assert_null (s->mounts[0].data);
    berth_spec_free (s);
  }
  parse_fails (MOUNT (", 'source': '/x', 'options': ['rbind', 'frobnicate']"),
               "mounts[0].options[1]: unknown mount option \"frobnicate\"");
  parse_fails (MOUNT (", 'type': 'tmpfs', 'options': ['']"), "mounts[0].options[0]: unknown mount option \"\"");
  parse_fails (DOC (", 'mounts': [{'type': 'tmpfs'}]"), "mounts[0].destination: required property missing");
  parse_fails (DOC (", 'mounts': [{'destination': ''}]"), "mounts[0].destination: must not be empty");
  parse_fails (DOC (", 'mounts': {}"), "mounts: expected array");
  parse_fails (DOC (", 'mounts': ['/proc']"), "mounts[0]: expected object");
  parse_fails (MOUNT (", 'options': 'ro'"), "mounts[0].options: expected array");
  parse_fails (MOUNT (", 'uidMappings': [{'containerID': 0, 'hostID': 1, 'size': 1}]"),
               "mounts[0].gidMappings: required when uidMappings is set");
  parse_fails (MOUNT (", 'gidMappings': [{'containerID': 0, 'hostID': 1}]"),
               "mounts[0].gidMappings[0].size: required property missing");
}

static void
test_namespaces (void **state)
{
  parse_fails (LINUX ("'namespaces': [{'type': 'bogus'}]"),
               "linux.namespaces[0].type: unknown namespace type \"bogus\"");
  parse_fails (LINUX ("'namespaces': [{'type': 'pid'}, {'type': 'pid', 'path': '/proc/1/ns/pid'}]"),
               "linux.namespaces[1].type: duplicate namespace type \"pid\"");
  parse_fails (LINUX ("'namespaces': [{'path': '/proc/1/ns/pid'}]"),
               "linux.namespaces[0].type: required property missing");
  parse_fails (LINUX ("'namespaces': [{'type': 'network', 'path': 'netns'}]"),
               "linux.namespaces[0].path: must be an absolute path, got \"netns\"");
  parse_fails (LINUX ("'namespaces': [{'type': 'NET'}]"), "linux.namespaces[0].type: unknown namespace type \"NET\"");
}

static void
test_id_mappings (void **state)
{
  parse_fails (LINUX ("'uidMappings': [{'containerID': 0, 'hostID': 1000}]"),
               "linux.uidMappings[0].size: required property missing");
  parse_fails (LINUX ("'gidMappings': [{'containerID': 0, 'hostID': -5, 'size': 1}]"),
               "linux.gidMappings[0].hostID: -5 is out of range (0 to 4294967295)");
  parse_fails (LINUX ("'uidMappings': [7]"), "linux.uidMappings[0]: expected object");
  /* Checked here, where the kernel would only say EINVAL. */
  parse_fails (LINUX ("'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 10},"
                      " {'containerID': 5, 'hostID': 5000, 'size': 10}]"),
               "linux.uidMappings[1]: containerID range overlaps linux.uidMappings[0]");
  parse_fails (LINUX ("'gidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 10},"
                      " {'containerID': 100, 'hostID': 1005, 'size': 1}]"),
               "linux.gidMappings[1]: hostID range overlaps linux.gidMappings[0]");
  parse_fails (LINUX ("'uidMappings': [{'containerID': 0, 'hostID': 0, 'size': 0}]"),
               "linux.uidMappings[0]: size 0 is zero or runs past the 32-bit id range");
  parse_fails (LINUX ("'devices': [{'path': '/dev/x', 'type': 'c', 'major': 4096, 'minor': 0}]"),
               "linux.devices[0].major: 4096 is out of range (0 to 4095)");
  parse_fails (LINUX ("'devices': [{'path': '/dev/x', 'type': 'c', 'major': -1, 'minor': 0}]"),
               "linux.devices[0].major: -1 is out of range (0 to 4095)");
}

static void
test_devices (void **state)
{
  parse_fails (LINUX ("'devices': [{'path': '/dev/x', 'type': 'x', 'major': 1, 'minor': 1}]"),
               "linux.devices[0].type: unknown device type \"x\"");
  parse_fails (LINUX ("'devices': [{'path': '/dev/x', 'type': 'c', 'minor': 1}]"),
               "linux.devices[0].major: required property missing");
  parse_fails (LINUX ("'devices': [{'path': '/dev/x', 'type': 'b', 'major': 1}]"),
               "linux.devices[0].minor: required property missing");
  parse_fails (LINUX ("'devices': [{'type': 'p'}]"), "linux.devices[0].path: required property missing");
  parse_fails (LINUX ("'devices': [{'path': 'dev/x', 'type': 'p'}]"),
               "linux.devices[0].path: must be an absolute path, got \"dev/x\"");
  parse_fails (LINUX ("'devices': [{'path': '/dev/x', 'type': 'p', 'fileMode': -1}]"),
               "linux.devices[0].fileMode: -1 is out of range (0 to 4294967295)");
}

static void
test_resources (void **state)
{
  parse_fails (RES ("'devices': [{'access': 'rwm'}]"), "linux.resources.devices[0].allow: required property missing");
  parse_fails (RES ("'devices': [{'allow': true, 'access': 'rwx'}]"),
               "linux.resources.devices[0].access: invalid access \"rwx\" (a combination of r, w and m)");
  parse_fails (RES ("'devices': [{'allow': true, 'type': 'p'}]"),
               "linux.resources.devices[0].type: unknown device type \"p\"");
  parse_fails (RES ("'devices': [{'allow': true, 'major': -2}]"),
               "linux.resources.devices[0].major: -2 is out of range (-1 to 9223372036854775807)");
  parse_fails (RES ("'hugepageLimits': [{'limit': 1}]"),
               "linux.resources.hugepageLimits[0].pageSize: required property missing");
  parse_fails (RES ("'rdma': {'mlx5_1': {}}"),
               "linux.resources.rdma.mlx5_1: at least one of hcaHandles and hcaObjects is required");
  parse_fails (RES ("'unified': {'memory.max': 1024}"), "linux.resources.unified[\"memory.max\"]: expected string");
  parse_fails (RES ("'blockIO': {'throttleReadBpsDevice': [{'major': 8, 'minor': 0}]}"),
               "linux.resources.blockIO.throttleReadBpsDevice[0].rate: required property missing");
  parse_fails (RES ("'blockIO': {'weightDevice': [{'minor': 0}]}"),
               "linux.resources.blockIO.weightDevice[0].major: required property missing");
  parse_fails (RES ("'network': {'priorities': [{'name': 'eth0'}]}"),
               "linux.resources.network.priorities[0].priority: required property missing");
  parse_fails (RES ("'pids': {'limit': 'max'}"), "linux.resources.pids.limit: expected integer");
  parse_fails (LINUX ("'resources': []"), "linux.resources: expected object");
}

static void
test_linux_misc (void **state)
{
  parse_fails (LINUX ("'rootfsPropagation': 'bogus'"), "linux.rootfsPropagation: unknown propagation \"bogus\"");
  parse_fails (LINUX ("'sysctl': {'net.ipv4.ip_forward': 1}"),
               "linux.sysctl[\"net.ipv4.ip_forward\"]: expected string");
  parse_fails (LINUX ("'seccomp': []"), "linux.seccomp: expected object");
  parse_fails (LINUX ("'maskedPaths': ['/a', null]"), "linux.maskedPaths[1]: expected string");
  parse_fails (LINUX ("'cgroupsPath': 5"), "linux.cgroupsPath: expected string");
  parse_fails (DOC (", 'linux': true"), "linux: expected object");
}

static void
test_hooks (void **state)
{
  parse_fails (DOC (", 'hooks': {'prestart': [{'path': 'hook'}]}"),
               "hooks.prestart[0].path: must be an absolute path, got \"hook\"");
  parse_fails (DOC (", 'hooks': {'poststop': [{'path': '/a'}, {'args': ['x']}]}"),
               "hooks.poststop[1].path: required property missing");
  parse_fails (DOC (", 'hooks': {'createRuntime': [{'path': '/a', 'timeout': 0}]}"),
               "hooks.createRuntime[0].timeout: must be greater than zero, got 0");
  parse_fails (DOC (", 'hooks': {'startContainer': [{'path': '/a', 'timeout': -3}]}"),
               "hooks.startContainer[0].timeout: must be greater than zero, got -3");
  parse_fails (DOC (", 'hooks': {'createContainer': {}}"), "hooks.createContainer: expected array");
  parse_fails (DOC (", 'hooks': {'poststart': [{'path': '/a', 'env': [1]}]}"),
               "hooks.poststart[0].env[0]: expected string");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_invalid_json_position),
    cmocka_unit_test (test_invalid_json_content),
    cmocka_unit_test (test_oci_version_and_root),
    cmocka_unit_test (test_process_args_cwd_env),
    cmocka_unit_test (test_integer_types_and_ranges),
    cmocka_unit_test (test_capabilities),
    cmocka_unit_test (test_rlimits),
    cmocka_unit_test (test_mounts),
    cmocka_unit_test (test_namespaces),
    cmocka_unit_test (test_id_mappings),
    cmocka_unit_test (test_devices),
    cmocka_unit_test (test_resources),
    cmocka_unit_test (test_linux_misc),
    cmocka_unit_test (test_hooks),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
