/* The pure parts of src/image/: references, digests, manifests, indexes,
 * image configs.  Errors must name the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static void
expect_error (berth_err *err, const char *part)
{
  assert_non_null (*err);
  if (strstr ((*err)->msg, part) == NULL)
    fail_msg ("error \"%s\" does not contain \"%s\"", (*err)->msg, part);
  berth_err_free (err);
}

static void
test_reference (void **state)
{
  struct image_reference r;
  berth_err err = NULL;
  char *name;

  assert_int_equal (reference_parse ("127.0.0.1:5000/library/busybox", &r, &err), 0);
  assert_string_equal (r.host, "127.0.0.1:5000");
  assert_string_equal (r.repo, "library/busybox");
  assert_string_equal (r.tag, "latest");
  assert_null (r.digest);
  name = reference_name (&r);
  assert_string_equal (name, "127.0.0.1:5000/library/busybox:latest");
  free (name);
  reference_clear (&r);

  assert_int_equal (reference_parse ("registry.example/a/b:v1.2@" D1, &r, &err), 0);
  assert_string_equal (r.tag, "v1.2");
  assert_string_equal (r.digest, D1);
  reference_clear (&r);

  assert_int_equal (reference_parse ("registry.example/a@" D1, &r, &err), 0);
  assert_null (r.tag);
  name = reference_name (&r);
  assert_string_equal (name, "registry.example/a@" D1);
  free (name);
  reference_clear (&r);

  assert_int_equal (reference_parse ("busybox", &r, &err), -1);
  expect_error (&err, "names no registry");
  assert_int_equal (reference_parse ("library/busybox", &r, &err), -1);
  expect_error (&err, "\"library\" is not a registry host");
  assert_int_equal (reference_parse ("registry.example/UPPER", &r, &err), -1);
  expect_error (&err, "invalid repository name \"UPPER\"");
  assert_int_equal (reference_parse ("registry.example/a:bad/tag", &r, &err), -1);
  expect_error (&err, "invalid");
  assert_int_equal (reference_parse ("registry.example/a@md5:abc", &r, &err), -1);
  expect_error (&err, "unsupported digest algorithm");
}

static void
test_loopback (void **state)
{
  assert_true (host_is_loopback ("127.0.0.1:5000"));
  assert_true (host_is_loopback ("127.1.2.3"));
  assert_true (host_is_loopback ("localhost:80"));
  assert_true (host_is_loopback ("[::1]:5000"));
  assert_false (host_is_loopback ("10.0.0.1:5000"));
  assert_false (host_is_loopback ("registry.example"));
  assert_false (host_is_loopback ("128.0.0.1"));
}

static void
test_digest (void **state)
{
  char out[BERTH_DIGEST_LEN];
  berth_err err = NULL;

  assert_true (digest_valid (D1));
  assert_false (digest_valid ("sha256:ABCD"));
  assert_false (digest_valid ("sha256:111111111111111111111111111111111111111111111111111111111111111G"));
  sha256_buf ("", 0, out);
  assert_string_equal (out, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_int_equal (digest_check ("sha512:00", "layers[0]", &err), -1);
  expect_error (&err, "layers[0]: unsupported digest algorithm");
}

static void
test_manifest (void **state)
{
  const char *ok = "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
                   "\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"digest\":\"" D1 "\",\"size\":10},"
                   "\"layers\":[{\"mediaType\":\"" MT_DOCKER_LAYER "\",\"digest\":\"" D2 "\",\"size\":20}]}";
  struct manifest m;
  berth_err err = NULL;

  assert_int_equal (manifest_parse (ok, strlen (ok), &m, &err), 0);
  assert_int_equal (m.n_layers, 1);
  assert_string_equal (m.layers[0].digest, D2);
  assert_int_equal (m.config.size, 10);
  manifest_clear (&m);

  const char *bad_size = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":-1},"
                         "\"layers\":[]}";
  assert_int_equal (manifest_parse (bad_size, strlen (bad_size), &m, &err), -1);
  expect_error (&err, "manifest: config.size: expected a non-negative integer");

  const char *bad_layer = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1},"
                          "\"layers\":[{\"mediaType\":\"text/plain\",\"digest\":\"" D2 "\",\"size\":1}]}";
  assert_int_equal (manifest_parse (bad_layer, strlen (bad_layer), &m, &err), -1);
  expect_error (&err, "manifest: layers[0].mediaType: unsupported layer type \"text/plain\"");

  const char *v1 = "{\"schemaVersion\":1}";
  assert_int_equal (manifest_parse (v1, strlen (v1), &m, &err), -1);
  expect_error (&err, "schema 1");
}

static void
test_index_platform (void **state)
{
  const char *idx = "{\"schemaVersion\":2,\"manifests\":["
                    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,"
                    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
                    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":2,"
                    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
  struct descriptor d;
  berth_err err = NULL;

  assert_int_equal (index_select_platform (idx, strlen (idx), "linux", "amd64", NULL, &d, &err), 0);
  assert_string_equal (d.digest, D2);
  descriptor_clear (&d);
  assert_int_equal (index_select_platform (idx, strlen (idx), "linux", "arm64", "v8", &d, &err), 0);
  assert_string_equal (d.digest, D1);
  descriptor_clear (&d);
  assert_int_equal (index_select_platform (idx, strlen (idx), "linux", "arm64", "v7", &d, &err), -1);
  expect_error (&err, "no manifest for platform linux/arm64/v7");
}

static void
test_config (void **state)
{
  const char *cfg = "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Env\":[\"A=1\"],"
                    "\"Entrypoint\":[\"/bin/sh\"],\"Cmd\":null,\"WorkingDir\":\"/w\",\"User\":\"1:2\","
                    "\"Volumes\":{\"/v\":{}},\"StopSignal\":\"SIGINT\",\"Labels\":{\"k\":\"v\"},"
                    "\"ExposedPorts\":{\"80/tcp\":{}}},\"rootfs\":{\"diff_ids\":[\"" D1 "\"]}}";
  struct berth_image_config c;
  berth_err err = NULL;

  assert_int_equal (berth_image_config_parse (cfg, strlen (cfg), &c, &err), 0);
  assert_string_equal (c.env[0], "A=1");
  assert_null (c.env[1]);
  assert_null (c.cmd);
  assert_string_equal (c.working_dir, "/w");
  assert_string_equal (c.volumes[0], "/v");
  assert_string_equal (c.exposed_ports[0], "80/tcp");
  assert_string_equal (c.stop_signal, "SIGINT");
  assert_string_equal (json_string_value (json_object_get (c.labels, "k")), "v");
  assert_string_equal (c.diff_ids[0], D1);
  berth_image_config_clear (&c);

  const char *bad = "{\"config\":{\"Env\":[\"A=1\", 2]}}";
  assert_int_equal (berth_image_config_parse (bad, strlen (bad), &c, &err), -1);
  expect_error (&err, "image config: config.Env[1]: expected string");
  const char *bad2 = "{\"config\":{\"Labels\":{\"k\":1}}}";
  assert_int_equal (berth_image_config_parse (bad2, strlen (bad2), &c, &err), -1);
  expect_error (&err, "config.Labels.k: expected string");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_reference), cmocka_unit_test (test_loopback),       cmocka_unit_test (test_digest),
    cmocka_unit_test (test_manifest),  cmocka_unit_test (test_index_platform), cmocka_unit_test (test_config),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
