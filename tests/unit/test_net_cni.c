/* Pure parts of src/net: CNI configuration and result parsing (no root, no
 * plugins; tests/net covers the rest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

static void
expect_parse_error (const char *text, const char *message)
{
  struct cni_network *net = NULL;
  berth_err err = NULL;

  assert_int_equal (cni_network_parse (text, strlen (text), "t.conflist", &net, &err), -1);
  assert_null (net);
  assert_non_null (err);
  if (strstr (err->msg, message) == NULL)
    fail_msg ("\"%s\" not in \"%s\"", message, err->msg);
  berth_err_free (&err);
}

static void
test_conflist_parses (void **state)
{
  const char *text = "{\"cniVersion\":\"0.4.0\",\"name\":\"n-1.x\",\"disableCheck\":true,"
                     "\"plugins\":[{\"type\":\"bridge\"},{\"type\":\"portmap\"}]}";
  struct cni_network *net = NULL;
  berth_err err = NULL;

  assert_int_equal (cni_network_parse (text, strlen (text), "t", &net, &err), 0);
  assert_string_equal (net->name, "n-1.x");
  assert_string_equal (net->cni_version, "0.4.0");
  assert_true (net->disable_check);
  assert_int_equal (json_array_size (json_object_get (net->conf, "plugins")), 2);
  cni_network_free (net);
}

static void
test_single_conf_becomes_list (void **state)
{
  const char *text = "{\"cniVersion\":\"1.0.0\",\"name\":\"one\",\"type\":\"bridge\",\"bridge\":\"b0\"}";
  struct cni_network *net = NULL;
  berth_err err = NULL;
  json_t *plugins;

  assert_int_equal (cni_network_parse (text, strlen (text), "t", &net, &err), 0);
  plugins = json_object_get (net->conf, "plugins");
  assert_int_equal (json_array_size (plugins), 1);
  assert_string_equal (json_string_value (json_object_get (json_array_get (plugins, 0), "bridge")), "b0");
  cni_network_free (net);
}

static void
test_conf_errors_name_the_field (void **state)
{
  expect_parse_error ("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":[{\"type\":1}]}",
                      "t.conflist: plugins[0].type: expected string");
  expect_parse_error ("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":{}}",
                      "t.conflist: plugins: expected array");
  expect_parse_error ("{\"cniVersion\":\"0.1.0\",\"name\":\"x\",\"plugins\":[{\"type\":\"b\"}]}",
                      "cniVersion: \"0.1.0\" is not supported");
  expect_parse_error ("{\"cniVersion\":\"1.0.0\",\"name\":\"-x\",\"plugins\":[{\"type\":\"b\"}]}",
                      "name: \"-x\" is not a valid network name");
  expect_parse_error (
      "{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"disableCheck\":\"yes\",\"plugins\":[{\"type\":\"b\"}]}",
      "disableCheck: expected boolean");
  expect_parse_error ("{\"name\":\"x\",\"name\":\"y\"}", "t.conflist: line 1");
  expect_parse_error ("[1]", "expected a JSON object");
}

static struct cni_result *
parse_result (const char *text, berth_err *err)
{
  struct cni_result *r = NULL;
  json_t *doc = json_loads (text, 0, NULL);
  assert_non_null (doc);
  if (cni_result_parse (doc, "result", &r, err) < 0)
    r = NULL;
  json_decref (doc);
  return r;
}

static void
test_result_pod_ip (void **state)
{
  berth_err err = NULL;
  struct cni_result *r = parse_result (
      "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"b0\"},{\"name\":\"eth0\",\"sandbox\":\"/run/ns\"}],"
      "\"ips\":[{\"address\":\"10.0.0.1/24\",\"interface\":0},{\"address\":\"fd00::5/64\",\"interface\":1},"
      "{\"address\":\"10.0.0.5/24\",\"gateway\":\"10.0.0.1\",\"interface\":1}]}",
      &err);
  assert_non_null (r);
  assert_int_equal (r->n_ips, 3);
  assert_int_equal (r->ips[1].family, 6);
  assert_string_equal (cni_result_pod_ip (r, NULL, 4), "10.0.0.5");
  assert_string_equal (cni_result_pod_ip (r, "eth0", 6), "fd00::5");
  assert_string_equal (cni_result_pod_ip (r, "b0", 4), "10.0.0.1");
  assert_null (cni_result_pod_ip (r, "eth1", 4));
  cni_result_free (r);

  /* 0.3.1/0.4.0 results carry "version"; no interface index is fine. */
  r = parse_result ("{\"cniVersion\":\"0.3.1\",\"ips\":[{\"version\":\"4\",\"address\":\"10.1.0.2/16\"}]}", &err);
  assert_non_null (r);
  assert_string_equal (cni_result_pod_ip (r, NULL, 4), "10.1.0.2");
  cni_result_free (r);
}

static void
test_result_errors (void **state)
{
  static const char *const bad[][2] = {
    { "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.5\"}]}", "ips[0].address: \"10.0.0.5\" is not" },
    { "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.5/24\",\"interface\":3}]}", "ips[0].interface" },
    { "{\"cniVersion\":\"0.2.0\",\"ip4\":{}}", "cniVersion: \"0.2.0\" is not supported" },
    { "{\"ips\":[]}", "cniVersion: missing" },
  };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      berth_err err = NULL;
      assert_null (parse_result (bad[i][0], &err));
      assert_non_null (err);
      if (strstr (err->msg, bad[i][1]) == NULL)
        fail_msg ("\"%s\" not in \"%s\"", bad[i][1], err->msg);
      berth_err_free (&err);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_conflist_parses),
    cmocka_unit_test (test_single_conf_becomes_list),
    cmocka_unit_test (test_conf_errors_name_the_field),
    cmocka_unit_test (test_result_pod_ip),
    cmocka_unit_test (test_result_errors),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
