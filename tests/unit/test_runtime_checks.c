/* Pure parts of runtime/: id validation, the checks made before anything is
 * created, time offsets, process attributes, hook state, passwd lookup. */
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/namespaces.h"
#include "runtime/process_extras.h"
#include "test_spec_util.h"
#include "util/passwd.h"

#define CREATE_DOC(extra)                                                                                              \
  "{'ociVersion': '1.2.0', 'root': {'path': 'rootfs'}, 'process': {'cwd': '/', 'args': ['true']},"                     \
  " 'linux': {'namespaces': [{'type': 'mount'}]}" extra "}"

static void
expect_error (int ret, berth_err *err, const char *expected)
{
  assert_int_equal (ret, -1);
  assert_non_null (*err);
  assert_string_equal ((*err)->msg, expected);
  berth_err_free (err);
}

static void
test_container_ids (void **state)
{
  berth_err err = NULL;
  assert_int_equal (berth_validate_id ("web-1_a.b+c", &err), 0);
  expect_error (berth_validate_id ("", &err), &err, "container id cannot be empty");
  expect_error (berth_validate_id ("..", &err), &err, "invalid container id: `..`");
  expect_error (berth_validate_id ("a/b", &err), &err, "invalid container id `a/b`: only [A-Za-z0-9_+.-] are allowed");
  expect_error (berth_validate_id ("../escape", &err), &err,
                "invalid container id `../escape`: only [A-Za-z0-9_+.-] are allowed");
}

static void
test_hostname_needs_uts_namespace (void **state)
{
  berth_err err = NULL;
  struct berth_spec *s = parse_ok (CREATE_DOC (", 'hostname': 'h'"));
  expect_error (validate_for_create (s, false, &err), &err,
                "hostname: unable to set hostname without a private UTS namespace");
  berth_spec_free (s);
}

static void
test_sysctl_needs_its_namespace (void **state)
{
  berth_err err = NULL;
  struct berth_spec *s = parse_ok ("{'ociVersion': '1.2.0', 'linux': {'namespaces': [{'type': 'mount'}],"
                                   " 'sysctl': {'net.ipv4.ip_forward': '1'}}}");
  expect_error (validate_for_create (s, false, &err), &err,
                "linux.sysctl: sysctl \"net.ipv4.ip_forward\" is not allowed in the host's network namespace");
  berth_spec_free (s);
  s = parse_ok ("{'ociVersion': '1.2.0', 'linux': {'namespaces': [{'type': 'mount'}],"
                " 'sysctl': {'vm.swappiness': '1'}}}");
  expect_error (validate_for_create (s, false, &err), &err,
                "linux.sysctl: sysctl \"vm.swappiness\" is not in a separate kernel namespace");
  berth_spec_free (s);
  s = parse_ok ("{'ociVersion': '1.2.0', 'linux': {'namespaces': [{'type': 'mount'}, {'type': 'ipc'}],"
                " 'sysctl': {'kernel.shmmax': '1', 'fs.mqueue.msg_max': '20'}}}");
  assert_int_equal (validate_for_create (s, false, &err), 0);
  berth_spec_free (s);
}

static void
test_new_userns_needs_mappings (void **state)
{
  berth_err err = NULL;
  struct berth_spec *s
      = parse_ok ("{'ociVersion': '1.2.0', 'linux': {'namespaces': [{'type': 'mount'}, {'type': 'user'}]}}");
  expect_error (validate_for_create (s, false, &err), &err,
                "linux.uidMappings: a new user namespace needs uid and gid mappings");
  berth_spec_free (s);
}

static void
test_time_offsets_text (void **state)
{
  berth_err err = NULL;
  char *text = NULL;
  struct berth_spec *s = parse_ok ("{'ociVersion': '1.2.0', 'linux': {'namespaces': [{'type': 'time'}],"
                                   " 'timeOffsets': {'monotonic': {'secs': -5, 'nanosecs': 7}}}}");
  assert_int_equal (ns_time_offsets (s->linux, &text, &err), 0);
  assert_string_equal (text, "monotonic -5 7\n");
  free (text);
  berth_spec_free (s);
  s = parse_ok ("{'ociVersion': '1.2.0', 'linux': {'namespaces': [{'type': 'mount'}],"
                " 'timeOffsets': {'boottime': {'secs': 1}}}}");
  expect_error (ns_time_offsets (s->linux, &text, &err), &err, "linux.timeOffsets: offsets need a new time namespace");
  berth_spec_free (s);
}

static void
test_process_extras_parse (void **state)
{
  berth_err err = NULL;
  struct process_extras x;
  struct berth_spec *s = parse_ok (
      "{'ociVersion': '1.2.0', 'process': {'cwd': '/', 'args': ['true'],"
      " 'scheduler': {'policy': 'SCHED_BATCH', 'nice': 3}, 'ioPriority': {'class': 'IOPRIO_CLASS_IDLE', 'priority': 7},"
      " 'execCPUAffinity': {'final': '0-1,3'}}, 'linux': {'personality': {'domain': 'LINUX32'},"
      " 'memoryPolicy': {'mode': 'MPOL_INTERLEAVE', 'nodes': '0', 'flags': ['MPOL_F_STATIC_NODES']}}}");
  assert_int_equal (process_extras_parse (s->process, s->linux, &x, &err), 0);
  assert_true (x.has_sched);
  assert_int_equal (x.sched.policy, 3);
  assert_int_equal (x.sched.nice, 3);
  assert_int_equal (x.sched.priority, 0);
  assert_int_equal (x.ioprio, (3 << 13) | 7);
  assert_true (CPU_ISSET (0, &x.cpus_final) && CPU_ISSET (1, &x.cpus_final) && !CPU_ISSET (2, &x.cpus_final)
               && CPU_ISSET (3, &x.cpus_final));
  assert_true (x.has_personality);
  assert_int_equal (x.mempolicy_mode, 3 | (1 << 15));
  assert_int_equal (x.nodemask[0], 1);
  berth_spec_free (s);

  s = parse_ok ("{'ociVersion': '1.2.0', 'process': {'cwd': '/', 'args': ['true'],"
                " 'execCPUAffinity': {'initial': '3-1'}}}");
  expect_error (process_extras_parse (s->process, NULL, &x, &err), &err,
                "process.execCPUAffinity.initial: invalid range in \"3-1\"");
  berth_spec_free (s);
  s = parse_ok ("{'ociVersion': '1.2.0', 'process': {'cwd': '/', 'args': ['true'],"
                " 'ioPriority': {'class': 'IOPRIO_CLASS_BE', 'priority': 9}}}");
  assert_int_equal (process_extras_parse (s->process, NULL, &x, &err), -1);
  assert_non_null (strstr (err->msg, "process.ioPriority.priority"));
  berth_err_free (&err);
  berth_spec_free (s);
}

static void
test_hook_state_json (void **state)
{
  json_t *ann = json_pack ("{ss}", "k", "v");
  char *text = hooks_state_json ("c1", "creating", 42, "/b", ann);
  json_t *o = json_loads (text, 0, NULL);
  assert_string_equal (json_string_value (json_object_get (o, "id")), "c1");
  assert_string_equal (json_string_value (json_object_get (o, "status")), "creating");
  assert_int_equal (json_integer_value (json_object_get (o, "pid")), 42);
  assert_string_equal (json_string_value (json_object_get (o, "bundle")), "/b");
  assert_string_equal (json_string_value (json_object_get (json_object_get (o, "annotations"), "k")), "v");
  assert_string_equal (json_string_value (json_object_get (o, "ociVersion")), BERTH_OCI_VERSION);
  json_decref (o);
  json_decref (ann);
  free (text);
  /* a stopped container has no pid */
  text = hooks_state_json ("c1", "stopped", 0, "/b", NULL);
  o = json_loads (text, 0, NULL);
  assert_null (json_object_get (o, "pid"));
  json_decref (o);
  free (text);
}

static void
test_passwd_field (void **state)
{
  char path[] = "/tmp/berth-passwd-XXXXXX";
  int fd = mkstemp (path);
  const char *text = "root:x:0:0:root:/root:/bin/sh\n"
                     "empty::5::::\n"
                     "user:x:1000:1000::/home/user:/bin/sh\n"
                     "bad:x:10x:1:::\n";
  char *v;

  assert_true (fd >= 0);
  assert_int_equal (write (fd, text, strlen (text)), (ssize_t)strlen (text));
  close (fd);
  v = passwd_field (path, 1000, 5);
  assert_string_equal (v, "/home/user");
  free (v);
  v = passwd_field (path, 0, 0);
  assert_string_equal (v, "root");
  free (v);
  v = passwd_field (path, 5, 5); /* empty fields are kept */
  assert_string_equal (v, "");
  free (v);
  assert_null (passwd_field (path, 10, 0)); /* "10x" is not uid 10 */
  assert_null (passwd_field (path, 4242, 0));
  assert_null (passwd_field ("/nonexistent/passwd", 0, 0));
  unlink (path);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_container_ids),
    cmocka_unit_test (test_hostname_needs_uts_namespace),
    cmocka_unit_test (test_sysctl_needs_its_namespace),
    cmocka_unit_test (test_new_userns_needs_mappings),
    cmocka_unit_test (test_time_offsets_text),
    cmocka_unit_test (test_process_extras_parse),
    cmocka_unit_test (test_hook_state_json),
    cmocka_unit_test (test_passwd_field),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
