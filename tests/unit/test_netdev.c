/* linux.netDevices parsing: refusals name the JSON path (checked byte for
 * byte); names follow the kernel's rules.  Only "lo" is assumed to exist on
 * the host, and nothing here needs privileges or moves anything.
 * JSON is written with single quotes and turned into real JSON here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/netdev.h"

#include <stdlib.h>
#include <string.h>

static json_t *
load_json (const char *text)
{
  char *s = strdup (text);
  json_error_t jerr;
  json_t *j;

  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  j = json_loads (s, 0, &jerr);
  free (s);
  assert_non_null (j);
  return j;
}

/* A linux section with a new network namespace and these netDevices. */
static void
make_linux (struct berth_linux *lx, const char *devices)
{
  memset (lx, 0, sizeof (*lx));
  lx->namespaces[BERTH_NS_NET].present = true;
  lx->net_devices = load_json (devices);
}

static void
expect_error (struct berth_linux *lx, const char *message)
{
  struct netdev_list l;
  berth_err err = NULL;

  assert_int_equal (netdev_parse (lx, &l, &err), -1);
  assert_non_null (err);
  assert_string_equal (err->msg, message);
  berth_err_free (&err);
  netdev_list_free (&l);
  json_decref (lx->net_devices);
}

static void
test_lo_with_and_without_name (void **state)
{
  struct berth_linux lx;
  struct netdev_list l;
  berth_err err = NULL;

  (void)state;
  make_linux (&lx, "{'lo': {'name': 'eth%d', 'future': 1}}");
  assert_int_equal (netdev_parse (&lx, &l, &err), 0);
  assert_int_equal (l.n, 1);
  assert_string_equal (l.devs[0].host_name, "lo");
  assert_string_equal (l.devs[0].name, "eth%d");
  assert_null (l.netns_path);
  netdev_list_free (&l);
  json_decref (lx.net_devices);

  make_linux (&lx, "{'lo': {'name': null}}");
  assert_int_equal (netdev_parse (&lx, &l, &err), 0);
  assert_string_equal (l.devs[0].name, "lo");
  netdev_list_free (&l);
  json_decref (lx.net_devices);
}

static void
test_absent_or_empty (void **state)
{
  struct berth_linux lx;
  struct netdev_list l;
  berth_err err = NULL;

  (void)state;
  assert_int_equal (netdev_parse (NULL, &l, &err), 0);
  assert_int_equal (l.n, 0);
  make_linux (&lx, "{}");
  lx.namespaces[BERTH_NS_NET].present = false; /* no entries: no namespace needed */
  assert_int_equal (netdev_parse (&lx, &l, &err), 0);
  assert_int_equal (l.n, 0);
  netdev_list_free (&l);
  json_decref (lx.net_devices);
}

static void
test_bad_names (void **state)
{
  struct berth_linux lx;

  (void)state;
  make_linux (&lx, "{'a/b': {}}");
  expect_error (&lx, "linux.netDevices[\"a/b\"]: invalid network interface name (1 to 15 bytes, no '/', ':', '%' or "
                     "space)");
  make_linux (&lx, "{'eth%d': {}}");
  expect_error (&lx, "linux.netDevices[\"eth%d\"]: invalid network interface name (1 to 15 bytes, no '/', ':', '%' or "
                     "space)");
  make_linux (&lx, "{'..': {}}");
  expect_error (&lx, "linux.netDevices[\"..\"]: invalid network interface name (1 to 15 bytes, no '/', ':', '%' or "
                     "space)");
  make_linux (&lx, "{'lo': {'name': '0123456789abcdef'}}");
  expect_error (&lx, "linux.netDevices[\"lo\"].name: invalid network interface name \"0123456789abcdef\" (1 to 15 "
                     "bytes, no '/', ':' or space; '%' only as one \"%d\" template)");
  make_linux (&lx, "{'lo': {'name': 'a%d%d'}}");
  expect_error (&lx, "linux.netDevices[\"lo\"].name: invalid network interface name \"a%d%d\" (1 to 15 bytes, no '/', "
                     "':' or space; '%' only as one \"%d\" template)");
  make_linux (&lx, "{'lo': {'name': 'a\\tb'}}");
  expect_error (&lx, "linux.netDevices[\"lo\"].name: invalid network interface name \"a\tb\" (1 to 15 bytes, no '/', "
                     "':' or space; '%' only as one \"%d\" template)");
  make_linux (&lx, "{'lo': {'name': 3}}");
  expect_error (&lx, "linux.netDevices[\"lo\"].name: expected string");
  make_linux (&lx, "{'lo': 'eth1'}");
  expect_error (&lx, "linux.netDevices[\"lo\"]: expected object");
}

static void
test_same_name_twice (void **state)
{
  struct berth_linux lx;

  (void)state;
  make_linux (&lx, "{'lo': {'name': 'x'}, 'nosuchif0': {'name': 'x'}}");
  expect_error (&lx, "linux.netDevices[\"nosuchif0\"]: the name \"x\" in the container is also that of "
                     "linux.netDevices[\"lo\"]");
}

static void
test_missing_on_host (void **state)
{
  struct berth_linux lx;

  (void)state;
  make_linux (&lx, "{'nosuchif0': {'name': 'eth1'}}");
  expect_error (&lx, "linux.netDevices[\"nosuchif0\"]: no such network interface on the host");
}

static void
test_needs_network_namespace (void **state)
{
  struct berth_linux lx;

  (void)state;
  make_linux (&lx, "{'lo': {}}");
  lx.namespaces[BERTH_NS_NET].present = false;
  expect_error (&lx, "linux.netDevices: moving network devices needs a network namespace of the container's own, "
                     "but linux.namespaces has no \"network\" entry");

  make_linux (&lx, "{'lo': {}}");
  lx.namespaces[BERTH_NS_NET].path = (char *)"/proc/self/ns/net";
  expect_error (&lx, "linux.netDevices: the network namespace `/proc/self/ns/net` is the runtime's own");

  make_linux (&lx, "{'lo': {}}");
  lx.namespaces[BERTH_NS_USER].present = true;
  lx.namespaces[BERTH_NS_USER].path = (char *)"/proc/1/ns/user";
  expect_error (&lx, "linux.netDevices: not supported with a joined user namespace and a new network namespace");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_lo_with_and_without_name),
    cmocka_unit_test (test_absent_or_empty),
    cmocka_unit_test (test_bad_names),
    cmocka_unit_test (test_same_name_twice),
    cmocka_unit_test (test_missing_on_host),
    cmocka_unit_test (test_needs_network_namespace),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
