/* src/cri: CRI configs (built here as protobuf-c structs, as berthd gets
 * them off the wire) turned into specs.  Every spec built must also pass
 * berth's own spec parser, and the default seccomp profile must compile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri/cri.h"
#include "runtime/seccomp_filter.h"
#include "spec/spec.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* ---- fixture: one pod, one container, one image ---------------------- */

static Runtime__V1__PodSandboxConfig pod;
static Runtime__V1__PodSandboxMetadata pod_md;
static Runtime__V1__LinuxPodSandboxConfig pod_linux;
static Runtime__V1__LinuxSandboxSecurityContext pod_sc;
static Runtime__V1__ContainerConfig cfg;
static Runtime__V1__ContainerMetadata cfg_md;
static Runtime__V1__ImageSpec cfg_image;
static Runtime__V1__LinuxContainerConfig cfg_linux;
static Runtime__V1__LinuxContainerSecurityContext sc;
static Runtime__V1__NamespaceOption nso;
static Runtime__V1__LinuxContainerResources res;
static struct berth_image_config img;
static struct cri_pod_ctx pctx;
static struct cri_container_ctx cctx;

static char *img_env[8], *img_entry[8], *img_cmd[8], *img_vols[8];

static int
setup (void **state)
{
  runtime__v1__pod_sandbox_config__init (&pod);
  runtime__v1__pod_sandbox_metadata__init (&pod_md);
  runtime__v1__linux_pod_sandbox_config__init (&pod_linux);
  runtime__v1__linux_sandbox_security_context__init (&pod_sc);
  runtime__v1__container_config__init (&cfg);
  runtime__v1__container_metadata__init (&cfg_md);
  runtime__v1__image_spec__init (&cfg_image);
  runtime__v1__linux_container_config__init (&cfg_linux);
  runtime__v1__linux_container_security_context__init (&sc);
  runtime__v1__namespace_option__init (&nso);
  runtime__v1__linux_container_resources__init (&res);
  pod_md.name = "web";
  pod_md.namespace_ = "default";
  pod_md.uid = "uid-1";
  pod_md.attempt = 2;
  pod.metadata = &pod_md;
  pod.hostname = "web-host";
  pod.log_directory = "/var/log/pods/default_web_uid-1";
  pod.linux = &pod_linux;
  pod_linux.security_context = &pod_sc;
  pod_linux.cgroup_parent = "/kubepods/besteffort/poduid-1";
  cfg_md.name = "app";
  cfg_md.attempt = 1;
  cfg.metadata = &cfg_md;
  cfg_image.image = "docker.io/library/busybox:latest";
  cfg.image = &cfg_image;
  cfg.log_path = "app/1.log";
  cfg.linux = &cfg_linux;
  cfg_linux.security_context = &sc;
  sc.namespace_options = &nso;
  nso.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER; /* what the kubelet sends for v1 pods */

  memset (&img, 0, sizeof (img));
  memset (img_env, 0, sizeof (img_env));
  memset (img_entry, 0, sizeof (img_entry));
  memset (img_cmd, 0, sizeof (img_cmd));
  memset (img_vols, 0, sizeof (img_vols));
  img_env[0] = "PATH=/img/bin:/bin";
  img_env[1] = "LANG=C.UTF-8";
  img_cmd[0] = "sh";
  img.env = img_env;
  img.entrypoint = img_entry;
  img.cmd = img_cmd;
  img.volumes = img_vols;

  memset (&pctx, 0, sizeof (pctx));
  pctx.sandbox_id = "sb1";
  pctx.pod_dir = "/run/berth/pods/sb1";
  pctx.shm_path = "/run/berth/pods/sb1/shm";
  pctx.netns_path = "/run/berth/netns/sb1";
  pctx.ipcns_path = "/run/berth/ipcns/sb1";
  pctx.utsns_path = "/run/berth/utsns/sb1";
  memset (&cctx, 0, sizeof (cctx));
  cctx.id = "c1";
  cctx.rootfs = "/var/lib/berth/c1/rootfs";
  cctx.container_dir = "/var/lib/berth/containers/c1";
  cctx.passwd = "root:x:0:0:root:/root:/bin/sh\n"
                "# comment\n"
                "daemon:x:1:1::/:/bin/false\n"
                "alice:x:1000:1001:Alice:/home/alice:/bin/sh\n"
                "bob:x:1002:1003::/home/bob:/bin/sh";
  cctx.group = "root:x:0:\n"
               "wheel:x:10:root,alice\n"
               "audio:x:29:alice\n"
               "alice:x:1001:\n"
               "staff:x:50:bob,carol\n";
  return 0;
}

/* Every spec produced must be one berth itself accepts. */
static void
assert_parses (json_t *spec)
{
  char *text = json_dumps (spec, JSON_COMPACT);
  berth_err err = NULL;
  struct berth_spec *s = berth_spec_parse (text, strlen (text), "cri", &err);

  if (s == NULL)
    fail_msg ("spec does not parse: %s\n%s", err->msg, text);
  berth_spec_free (s);
  free (text);
}

static json_t *
build (void)
{
  berth_err err = NULL;
  json_t *spec = cri_container_spec (&cfg, &pod, &img, &pctx, &cctx, &err);

  if (spec == NULL)
    fail_msg ("cri_container_spec: %s", err->msg);
  assert_parses (spec);
  return spec;
}

/* The error text of a build that must fail (static buffer). */
static const char *
build_err (void)
{
  static char msg[1024];
  berth_err err = NULL;
  json_t *spec = cri_container_spec (&cfg, &pod, &img, &pctx, &cctx, &err);

  if (spec != NULL)
    {
      char *t = json_dumps (spec, 0);
      fail_msg ("expected an error, got %s", t);
    }
  assert_non_null (err);
  snprintf (msg, sizeof (msg), "%s", err->msg);
  berth_err_free (&err);
  return msg;
}

static void
assert_contains (const char *haystack, const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    fail_msg ("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* "process.args" -> the value; numbers index arrays ("mounts.0"). */
static json_t *
at (json_t *v, const char *path)
{
  char buf[256], *save = NULL;

  snprintf (buf, sizeof (buf), "%s", path);
  for (char *t = strtok_r (buf, ".", &save); t && v; t = strtok_r (NULL, ".", &save))
    v = json_is_array (v) ? json_array_get (v, strtoul (t, NULL, 10)) : json_object_get (v, t);
  return v;
}

static const char *
str_at (json_t *v, const char *path)
{
  return json_string_value (at (v, path));
}

/* An array of strings joined with '|'. */
static const char *
joined (json_t *arr)
{
  static char buf[8192];
  size_t i, o = 0;
  json_t *e;

  buf[0] = '\0';
  json_array_foreach (arr, i, e) o += snprintf (buf + o, sizeof (buf) - o, "%s%s", i ? "|" : "", json_string_value (e));
  return buf;
}

static bool
has_str (json_t *arr, const char *s)
{
  size_t i;
  json_t *e;

  json_array_foreach (arr, i, e) if (json_is_string (e) && strcmp (json_string_value (e), s) == 0) return true;
  return false;
}

static json_t *
mount_at (json_t *spec, const char *dest)
{
  size_t i;
  json_t *m, *found = NULL;

  json_array_foreach (json_object_get (spec, "mounts"), i, m) if (strcmp (str_at (m, "destination"), dest) == 0)
  {
    assert_null (found); /* one mount per destination */
    found = m;
  }
  return found;
}

static json_t *
ns_of (json_t *spec, const char *type)
{
  size_t i;
  json_t *n;

  json_array_foreach (at (spec, "linux.namespaces"), i, n) if (strcmp (str_at (n, "type"), type) == 0) return n;
  return NULL;
}

static Runtime__V1__KeyValue *
kv (const char *key, const char *value)
{
  static Runtime__V1__KeyValue pool[16];
  static size_t next;
  Runtime__V1__KeyValue *k = &pool[next++ % 16];

  runtime__v1__key_value__init (k);
  k->key = (char *)key;
  k->value.data = (uint8_t *)value;
  k->value.len = strlen (value);
  return k;
}

/* ---- names and pod files ---------------------------------------------- */

static void
test_names (void **state)
{
  berth_err err = NULL;
  char *s = cri_sandbox_name (&pod_md, &err);
  char *c = cri_container_name (&cfg_md, &pod_md, &err);

  assert_string_equal (s, "web_default_uid-1_2");
  assert_string_equal (c, "app_web_default_uid-1_1");
  free (s);
  free (c);
}

static void
test_names_need_a_name (void **state)
{
  berth_err err = NULL;

  cfg_md.name = "";
  assert_null (cri_container_name (&cfg_md, &pod_md, &err));
  assert_string_equal (err->msg, "container config: metadata.name: must not be empty");
  berth_err_free (&err);
  assert_null (cri_sandbox_name (NULL, &err));
  assert_string_equal (err->msg, "pod sandbox config: metadata: missing");
  berth_err_free (&err);
}

static void
test_resolv_conf (void **state)
{
  Runtime__V1__DNSConfig dns = RUNTIME__V1__DNSCONFIG__INIT;
  char *servers[] = { "10.0.0.10", "10.0.0.11" }, *search[] = { "default.svc.cluster.local", "cluster.local" },
       *opts[] = { "ndots:5", "edns0" };
  berth_err err = NULL;
  char *text = NULL;

  assert_int_equal (cri_resolv_conf_text (&dns, &text, &err), 0);
  assert_null (text); /* nothing asked: the daemon copies the host's */
  dns.n_servers = 2;
  dns.servers = servers;
  dns.n_searches = 2;
  dns.searches = search;
  dns.n_options = 2;
  dns.options = opts;
  assert_int_equal (cri_resolv_conf_text (&dns, &text, &err), 0);
  assert_string_equal (text, "search default.svc.cluster.local cluster.local\n"
                             "nameserver 10.0.0.10\nnameserver 10.0.0.11\n"
                             "options ndots:5 edns0\n");
  free (text);
}

static void
test_resolv_conf_refuses_injection (void **state)
{
  Runtime__V1__DNSConfig dns = RUNTIME__V1__DNSCONFIG__INIT;
  char *servers[] = { "10.0.0.10\nnameserver 6.6.6.6" };
  berth_err err = NULL;
  char *text = NULL;

  dns.n_servers = 1;
  dns.servers = servers;
  assert_int_equal (cri_resolv_conf_text (&dns, &text, &err), -1);
  assert_contains (err->msg, "dns_config.servers[0]");
  berth_err_free (&err);
}

static void
test_hostname_and_hosts (void **state)
{
  berth_err err = NULL;
  char *h = cri_hostname_text (&pod, &pctx, &err);
  char *hosts = cri_hosts_text ("web-host", "10.1.2.3");

  assert_string_equal (h, "web-host\n");
  assert_contains (hosts, "127.0.0.1\tlocalhost\n");
  assert_contains (hosts, "10.1.2.3\tweb-host\n");
  free (h);
  free (hosts);
  pod.hostname = "bad name";
  assert_null (cri_hostname_text (&pod, &pctx, &err));
  assert_contains (err->msg, "pod sandbox config: hostname");
  berth_err_free (&err);
}

static void
test_log_path (void **state)
{
  berth_err err = NULL;
  char *p = NULL;

  assert_int_equal (cri_log_path (&cfg, &pod, &p, &err), 0);
  assert_string_equal (p, "/var/log/pods/default_web_uid-1/app/1.log");
  free (p);
  cfg.log_path = "../../etc/passwd";
  assert_int_equal (cri_log_path (&cfg, &pod, &p, &err), -1);
  assert_contains (err->msg, "container config: log_path");
  berth_err_free (&err);
  cfg.log_path = "";
  assert_int_equal (cri_log_path (&cfg, &pod, &p, &err), 0);
  assert_null (p);
}

static void
test_stop_signal (void **state)
{
  berth_err err = NULL;

  assert_int_equal (cri_stop_signal (&cfg, &img, &err), SIGTERM);
  img.stop_signal = "SIGQUIT";
  assert_int_equal (cri_stop_signal (&cfg, &img, &err), SIGQUIT);
  cfg.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGUSR1;
  assert_int_equal (cri_stop_signal (&cfg, &img, &err), SIGUSR1);
  cfg.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMINPLUS3;
  assert_int_equal (cri_stop_signal (&cfg, &img, &err), SIGRTMIN + 3);
}

/* ---- args, env, cwd ---------------------------------------------------- */

static void
test_args_from_image_cmd (void **state)
{
  json_t *s = build ();
  assert_string_equal (joined (at (s, "process.args")), "sh");
  json_decref (s);
}

static void
test_args_entrypoint_plus_cmd (void **state)
{
  img_entry[0] = "/entry";
  img_cmd[0] = "-x";
  json_t *s = build ();
  assert_string_equal (joined (at (s, "process.args")), "/entry|-x");
  json_decref (s);
}

static void
test_args_override_cmd_only (void **state)
{
  char *args[] = { "a", "b" };
  img_entry[0] = "/entry";
  cfg.n_args = 2;
  cfg.args = args;
  json_t *s = build ();
  assert_string_equal (joined (at (s, "process.args")), "/entry|a|b");
  json_decref (s);
}

static void
test_command_drops_entrypoint_and_cmd (void **state)
{
  char *cmd[] = { "/bin/echo" };
  img_entry[0] = "/entry";
  cfg.n_command = 1;
  cfg.command = cmd;
  json_t *s = build ();
  assert_string_equal (joined (at (s, "process.args")), "/bin/echo");
  json_decref (s);
}

static void
test_command_and_args (void **state)
{
  char *cmd[] = { "/bin/echo" }, *args[] = { "hi" };
  cfg.n_command = 1;
  cfg.command = cmd;
  cfg.n_args = 1;
  cfg.args = args;
  json_t *s = build ();
  assert_string_equal (joined (at (s, "process.args")), "/bin/echo|hi");
  json_decref (s);
}

static void
test_empty_entrypoint_means_none (void **state)
{
  img_entry[0] = "";
  json_t *s = build ();
  assert_string_equal (joined (at (s, "process.args")), "sh");
  json_decref (s);
}

static void
test_no_command_is_an_error (void **state)
{
  img_cmd[0] = NULL;
  assert_contains (build_err (), "container config: command: no command specified");
}

static void
test_env_order_and_override (void **state)
{
  Runtime__V1__KeyValue *envs[] = { kv ("LANG", "fr_FR"), kv ("FOO", "a=b") };
  cfg.n_envs = 2;
  cfg.envs = envs;
  img_env[2] = "NOEQUALS";
  json_t *s = build ();
  assert_string_equal (joined (at (s, "process.env")), "PATH=/img/bin:/bin|HOSTNAME=web-host|LANG=fr_FR|FOO=a=b");
  json_decref (s);
}

static void
test_env_empty_key_is_an_error (void **state)
{
  Runtime__V1__KeyValue *envs[] = { kv ("", "x") };
  cfg.n_envs = 1;
  cfg.envs = envs;
  assert_string_equal (build_err (), "container config: envs[0].key: must not be empty");
}

static void
test_env_hostname_of_host_network (void **state)
{
  pod.hostname = "";
  pctx.host_hostname = "node-1";
  nso.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
  json_t *s = build ();
  assert_true (has_str (at (s, "process.env"), "HOSTNAME=node-1"));
  assert_null (ns_of (s, "network"));
  assert_null (ns_of (s, "uts"));
  assert_null (at (s, "hostname"));
  json_decref (s);
}

static void
test_cwd (void **state)
{
  json_t *s = build ();
  assert_string_equal (str_at (s, "process.cwd"), "/");
  json_decref (s);
  img.working_dir = "srv";
  s = build ();
  assert_string_equal (str_at (s, "process.cwd"), "/srv");
  json_decref (s);
  cfg.working_dir = "/work";
  s = build ();
  assert_string_equal (str_at (s, "process.cwd"), "/work");
  json_decref (s);
  cfg.working_dir = "rel";
  assert_contains (build_err (), "container config: working_dir");
}

static void
test_tty (void **state)
{
  cfg.tty = true;
  json_t *s = build ();
  assert_true (json_is_true (at (s, "process.terminal")));
  json_decref (s);
}

/* ---- user -------------------------------------------------------------- */

static void
test_user_default_root_with_groups (void **state)
{
  json_t *s = build ();
  assert_int_equal (json_integer_value (at (s, "process.user.uid")), 0);
  assert_int_equal (json_integer_value (at (s, "process.user.gid")), 0);
  assert_int_equal (json_integer_value (at (s, "process.user.additionalGids.0")), 10); /* wheel lists root */
  json_decref (s);
}

static void
test_user_run_as_user_takes_passwd_gid (void **state)
{
  Runtime__V1__Int64Value u = RUNTIME__V1__INT64_VALUE__INIT;
  u.value = 1000;
  sc.run_as_user = &u;
  json_t *s = build ();
  assert_int_equal (json_integer_value (at (s, "process.user.uid")), 1000);
  assert_int_equal (json_integer_value (at (s, "process.user.gid")), 1001);
  assert_int_equal (json_array_size (at (s, "process.user.additionalGids")), 2); /* wheel, audio */
  json_decref (s);
}

static void
test_user_unknown_uid_gets_gid_0 (void **state)
{
  Runtime__V1__Int64Value u = RUNTIME__V1__INT64_VALUE__INIT;
  u.value = 4242;
  sc.run_as_user = &u;
  json_t *s = build ();
  assert_int_equal (json_integer_value (at (s, "process.user.uid")), 4242);
  assert_int_equal (json_integer_value (at (s, "process.user.gid")), 0);
  assert_null (at (s, "process.user.additionalGids"));
  json_decref (s);
}

static void
test_user_run_as_group (void **state)
{
  Runtime__V1__Int64Value u = RUNTIME__V1__INT64_VALUE__INIT, g = RUNTIME__V1__INT64_VALUE__INIT;
  u.value = 1000;
  g.value = 7;
  sc.run_as_user = &u;
  sc.run_as_group = &g;
  json_t *s = build ();
  assert_int_equal (json_integer_value (at (s, "process.user.gid")), 7);
  json_decref (s);
}

static void
test_user_group_without_user_is_an_error (void **state)
{
  Runtime__V1__Int64Value g = RUNTIME__V1__INT64_VALUE__INIT;
  sc.run_as_group = &g;
  assert_string_equal (build_err (), "container config: linux.security_context.run_as_group: set without "
                                     "run_as_user or run_as_username");
}

static void
test_user_by_name (void **state)
{
  sc.run_as_username = "bob";
  json_t *s = build ();
  assert_int_equal (json_integer_value (at (s, "process.user.uid")), 1002);
  assert_int_equal (json_integer_value (at (s, "process.user.gid")), 1003);
  assert_int_equal (json_integer_value (at (s, "process.user.additionalGids.0")), 50);
  json_decref (s);
}

static void
test_user_unknown_name_is_an_error (void **state)
{
  sc.run_as_username = "mallory";
  assert_string_equal (build_err (), "container config: linux.security_context.run_as_username: user \"mallory\" "
                                     "not found in the image's /etc/passwd");
}

static void
test_user_name_and_uid_is_an_error (void **state)
{
  Runtime__V1__Int64Value u = RUNTIME__V1__INT64_VALUE__INIT;
  sc.run_as_user = &u;
  sc.run_as_username = "bob";
  assert_contains (build_err (), "run_as_username: set together with run_as_user");
}

static void
test_user_negative_uid_is_an_error (void **state)
{
  Runtime__V1__Int64Value u = RUNTIME__V1__INT64_VALUE__INIT;
  u.value = -1;
  sc.run_as_user = &u;
  assert_contains (build_err (), "linux.security_context.run_as_user: -1 is not a valid id");
}

static void
test_user_from_image (void **state)
{
  img.user = "alice:audio";
  json_t *s = build ();
  assert_int_equal (json_integer_value (at (s, "process.user.uid")), 1000);
  assert_int_equal (json_integer_value (at (s, "process.user.gid")), 29);
  json_decref (s);
  img.user = "77:88";
  s = build ();
  assert_int_equal (json_integer_value (at (s, "process.user.uid")), 77);
  assert_int_equal (json_integer_value (at (s, "process.user.gid")), 88);
  json_decref (s);
  img.user = "alice:nogroup";
  assert_contains (build_err (), "image config: User: group \"nogroup\" not found");
}

static void
test_user_image_name_without_passwd (void **state)
{
  img.user = "alice";
  cctx.passwd = NULL;
  assert_contains (build_err (), "image config: User: user \"alice\" not found");
}

static void
test_supplemental_groups_and_strict (void **state)
{
  int64_t groups[] = { 500, 10 };
  sc.n_supplemental_groups = 2;
  sc.supplemental_groups = groups;
  json_t *s = build ();
  assert_int_equal (json_array_size (at (s, "process.user.additionalGids")), 2); /* 10 once */
  json_decref (s);
  sc.supplemental_groups_policy = RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict;
  groups[1] = 600;
  s = build ();
  assert_int_equal (json_integer_value (at (s, "process.user.additionalGids.0")), 500);
  assert_int_equal (json_integer_value (at (s, "process.user.additionalGids.1")), 600);
  assert_int_equal (json_array_size (at (s, "process.user.additionalGids")), 2);
  json_decref (s);
}

/* ---- mounts ------------------------------------------------------------ */

static void
test_pod_files_and_shm (void **state)
{
  json_t *s = build ();
  assert_string_equal (str_at (mount_at (s, "/etc/hosts"), "source"), "/run/berth/pods/sb1/hosts");
  assert_string_equal (str_at (mount_at (s, "/etc/hostname"), "source"), "/run/berth/pods/sb1/hostname");
  assert_string_equal (str_at (mount_at (s, "/etc/resolv.conf"), "source"), "/run/berth/pods/sb1/resolv.conf");
  assert_string_equal (str_at (mount_at (s, "/dev/shm"), "source"), "/run/berth/pods/sb1/shm");
  assert_string_equal (joined (at (mount_at (s, "/etc/hosts"), "options")), "rbind|rprivate|rw");
  json_decref (s);
}

static void
test_pod_files_ro_with_readonly_rootfs (void **state)
{
  sc.readonly_rootfs = true;
  json_t *s = build ();
  assert_true (json_is_true (at (s, "root.readonly")));
  assert_string_equal (joined (at (mount_at (s, "/etc/resolv.conf"), "options")), "rbind|rprivate|ro");
  json_decref (s);
}

static void
test_host_ipc_gets_host_shm (void **state)
{
  nso.ipc = RUNTIME__V1__NAMESPACE_MODE__NODE;
  json_t *s = build ();
  assert_string_equal (str_at (mount_at (s, "/dev/shm"), "source"), "/dev/shm");
  assert_null (ns_of (s, "ipc"));
  json_decref (s);
}

static void
test_no_pod_shm_keeps_tmpfs (void **state)
{
  pctx.shm_path = NULL;
  json_t *s = build ();
  assert_string_equal (str_at (mount_at (s, "/dev/shm"), "type"), "tmpfs");
  json_decref (s);
}

static void
test_config_mounts (void **state)
{
  Runtime__V1__Mount m1 = RUNTIME__V1__MOUNT__INIT, m2 = RUNTIME__V1__MOUNT__INIT, m3 = RUNTIME__V1__MOUNT__INIT;
  Runtime__V1__Mount *mounts[] = { &m1, &m2, &m3 };
  m1.container_path = "/data/sub";
  m1.host_path = "/srv/sub";
  m1.readonly = true;
  m2.container_path = "/data";
  m2.host_path = "/srv/data";
  m2.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
  m3.container_path = "/etc/hosts";
  m3.host_path = "/my/hosts";
  cfg.n_mounts = 3;
  cfg.mounts = mounts;
  json_t *s = build ();
  json_t *ms = json_object_get (s, "mounts");
  size_t i_data = 0, i_sub = 0, i;
  json_t *m;
  json_array_foreach (ms, i, m)
  {
    if (strcmp (str_at (m, "destination"), "/data") == 0)
      i_data = i;
    if (strcmp (str_at (m, "destination"), "/data/sub") == 0)
      i_sub = i;
  }
  assert_true (i_data < i_sub); /* parent first */
  assert_string_equal (joined (at (mount_at (s, "/data"), "options")), "rbind|rslave|rw");
  assert_string_equal (joined (at (mount_at (s, "/data/sub"), "options")), "rbind|rprivate|ro");
  assert_string_equal (str_at (mount_at (s, "/etc/hosts"), "source"), "/my/hosts");
  assert_string_equal (str_at (s, "linux.rootfsPropagation"), "rslave");
  json_decref (s);
}

static void
test_bidirectional_makes_root_shared (void **state)
{
  Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
  Runtime__V1__Mount *mounts[] = { &m };
  m.container_path = "/shared";
  m.host_path = "/srv/shared";
  m.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
  cfg.n_mounts = 1;
  cfg.mounts = mounts;
  json_t *s = build ();
  assert_string_equal (joined (at (mount_at (s, "/shared"), "options")), "rbind|rshared|rw");
  assert_string_equal (str_at (s, "linux.rootfsPropagation"), "rshared");
  json_decref (s);
}

static void
test_config_mount_replaces_default (void **state)
{
  Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
  Runtime__V1__Mount *mounts[] = { &m };
  m.container_path = "/dev/shm/";
  m.host_path = "/srv/shm";
  cfg.n_mounts = 1;
  cfg.mounts = mounts;
  json_t *s = build ();
  assert_string_equal (str_at (mount_at (s, "/dev/shm"), "source"), "/srv/shm");
  json_decref (s);
}

static void
test_mount_dev_drops_dev_submounts (void **state)
{
  Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
  Runtime__V1__Mount *mounts[] = { &m };
  m.container_path = "/dev";
  m.host_path = "/dev";
  cfg.n_mounts = 1;
  cfg.mounts = mounts;
  pctx.shm_path = NULL;
  json_t *s = build ();
  assert_null (mount_at (s, "/dev/pts"));
  assert_null (mount_at (s, "/dev/mqueue"));
  assert_string_equal (str_at (mount_at (s, "/dev"), "type"), "bind");
  json_decref (s);
}

static void
test_mount_errors (void **state)
{
  Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
  Runtime__V1__Mount *mounts[] = { &m };
  char *opts[] = { "bogus" };
  cfg.n_mounts = 1;
  cfg.mounts = mounts;
  m.container_path = "rel";
  m.host_path = "/x";
  assert_contains (build_err (), "container config: mounts[0].container_path: \"rel\" is not an absolute path");
  m.container_path = "/x";
  m.host_path = "";
  assert_contains (build_err (), "mounts[0].host_path: must not be empty");
  m.host_path = "/x";
  m.recursive_read_only = true;
  assert_contains (build_err (), "mounts[0].recursive_read_only: needs readonly");
  m.recursive_read_only = false;
  m.n_mount_options = 1;
  m.mount_options = opts;
  assert_contains (build_err (), "mounts[0].mount_options[0]: unknown mount option \"bogus\"");
}

static void
test_mount_rro_and_options (void **state)
{
  Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
  Runtime__V1__Mount *mounts[] = { &m };
  char *opts[] = { "noexec", "nosuid" };
  m.container_path = "/cfg";
  m.host_path = "/srv/cfg";
  m.readonly = true;
  m.recursive_read_only = true;
  m.n_mount_options = 2;
  m.mount_options = opts;
  cfg.n_mounts = 1;
  cfg.mounts = mounts;
  json_t *s = build ();
  assert_string_equal (joined (at (mount_at (s, "/cfg"), "options")), "rbind|rprivate|ro|rro|noexec|nosuid");
  json_decref (s);
}

static void
test_mount_idmap (void **state)
{
  Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
  Runtime__V1__Mount *mounts[] = { &m };
  Runtime__V1__IDMapping map = RUNTIME__V1__IDMAPPING__INIT;
  Runtime__V1__IDMapping *maps[] = { &map };
  map.host_id = 100000;
  map.length = 65536;
  m.container_path = "/id";
  m.host_path = "/srv/id";
  m.n_uidmappings = 1;
  m.uidmappings = maps;
  cfg.n_mounts = 1;
  cfg.mounts = mounts;
  assert_contains (build_err (), "mounts[0].gidMappings: required with uidMappings");
  m.n_gidmappings = 1;
  m.gidmappings = maps;
  json_t *s = build ();
  assert_int_equal (json_integer_value (at (mount_at (s, "/id"), "uidMappings.0.hostID")), 100000);
  assert_int_equal (json_integer_value (at (mount_at (s, "/id"), "gidMappings.0.size")), 65536);
  json_decref (s);
}

static void
test_image_volumes (void **state)
{
  Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
  Runtime__V1__Mount *mounts[] = { &m };
  img_vols[0] = "/var/lib/data";
  img_vols[1] = "/cache";
  img_vols[2] = "logs";
  m.container_path = "/cache";
  m.host_path = "/srv/cache";
  cfg.n_mounts = 1;
  cfg.mounts = mounts;
  json_t *s = build ();
  assert_string_equal (str_at (mount_at (s, "/var/lib/data"), "source"), "/var/lib/berth/containers/c1/volumes/0");
  assert_string_equal (str_at (mount_at (s, "/cache"), "source"), "/srv/cache");
  assert_string_equal (str_at (mount_at (s, "/logs"), "source"), "/var/lib/berth/containers/c1/volumes/2");
  json_t *vols = cri_image_volumes (s, &cctx);
  assert_int_equal (json_array_size (vols), 2);
  json_decref (vols);
  json_decref (s);
}

/* ---- security ---------------------------------------------------------- */

static void
test_default_capabilities (void **state)
{
  json_t *s = build ();
  json_t *b = at (s, "process.capabilities.bounding");
  assert_int_equal (json_array_size (b), 14);
  assert_true (has_str (b, "CAP_CHOWN"));
  assert_true (has_str (b, "CAP_NET_BIND_SERVICE"));
  assert_false (has_str (b, "CAP_SYS_ADMIN"));
  assert_int_equal (json_array_size (at (s, "process.capabilities.inheritable")), 0);
  assert_int_equal (json_array_size (at (s, "process.capabilities.ambient")), 0);
  json_decref (s);
}

static void
test_caps_add_drop (void **state)
{
  Runtime__V1__Capability caps = RUNTIME__V1__CAPABILITY__INIT;
  char *add[] = { "NET_ADMIN", "cap_sys_time" }, *drop[] = { "CHOWN" };
  caps.n_add_capabilities = 2;
  caps.add_capabilities = add;
  caps.n_drop_capabilities = 1;
  caps.drop_capabilities = drop;
  sc.capabilities = &caps;
  json_t *s = build ();
  json_t *b = at (s, "process.capabilities.effective");
  assert_true (has_str (b, "CAP_NET_ADMIN"));
  assert_true (has_str (b, "CAP_SYS_TIME"));
  assert_false (has_str (b, "CAP_CHOWN"));
  assert_int_equal (json_array_size (b), 15);
  json_decref (s);
}

static void
test_caps_add_all_drop_one (void **state)
{
  Runtime__V1__Capability caps = RUNTIME__V1__CAPABILITY__INIT;
  char *add[] = { "ALL" }, *drop[] = { "CHOWN" };
  caps.n_add_capabilities = 1;
  caps.add_capabilities = add;
  caps.n_drop_capabilities = 1;
  caps.drop_capabilities = drop;
  sc.capabilities = &caps;
  json_t *s = build ();
  json_t *b = at (s, "process.capabilities.bounding");
  assert_true (has_str (b, "CAP_SYS_ADMIN"));
  assert_false (has_str (b, "CAP_CHOWN"));
  json_decref (s);
}

static void
test_caps_drop_all_add_one (void **state)
{
  Runtime__V1__Capability caps = RUNTIME__V1__CAPABILITY__INIT;
  char *add[] = { "NET_BIND_SERVICE" }, *drop[] = { "all" };
  caps.n_add_capabilities = 1;
  caps.add_capabilities = add;
  caps.n_drop_capabilities = 1;
  caps.drop_capabilities = drop;
  sc.capabilities = &caps;
  json_t *s = build ();
  assert_string_equal (joined (at (s, "process.capabilities.bounding")), "CAP_NET_BIND_SERVICE");
  json_decref (s);
}

static void
test_caps_ambient (void **state)
{
  Runtime__V1__Capability caps = RUNTIME__V1__CAPABILITY__INIT;
  char *amb[] = { "NET_RAW" };
  caps.n_add_ambient_capabilities = 1;
  caps.add_ambient_capabilities = amb;
  sc.capabilities = &caps;
  json_t *s = build ();
  assert_string_equal (joined (at (s, "process.capabilities.ambient")), "CAP_NET_RAW");
  assert_string_equal (joined (at (s, "process.capabilities.inheritable")), "CAP_NET_RAW");
  json_decref (s);
}

static void
test_caps_unknown (void **state)
{
  Runtime__V1__Capability caps = RUNTIME__V1__CAPABILITY__INIT;
  char *add[] = { "FLY" };
  caps.n_add_capabilities = 1;
  caps.add_capabilities = add;
  sc.capabilities = &caps;
  assert_string_equal (build_err (), "container config: linux.security_context.capabilities.add_capabilities[0]: "
                                     "unknown capability \"FLY\"");
}

static void
test_privileged_needs_privileged_pod (void **state)
{
  sc.privileged = true;
  assert_string_equal (build_err (), "no privileged container allowed in sandbox");
}

static const struct cri_host_device fake_dev[] = {
  { "/dev/null", 'c', 1, 3, 0666, 0, 0 },
  { "/dev/sda", 'b', 8, 0, 0660, 0, 6 },
  { "/dev/pts/0", 'c', 136, 0, 0620, 0, 5 },
  { "/dev/snd/pcmC0D0p", 'c', 116, 16, 0660, 0, 29 },
  { "/dev/snd/controlC0", 'c', 116, 0, 0660, 0, 29 },
};

static int
fake_list (void *user, const char *host_path, const struct cri_host_device **out, size_t *n, berth_err *err)
{
  size_t hl = strlen (host_path);
  static struct cri_host_device found[8];
  size_t k = 0;

  for (size_t i = 0; i < sizeof (fake_dev) / sizeof (fake_dev[0]); i++)
    if (strcmp (fake_dev[i].path, host_path) == 0
        || (strncmp (fake_dev[i].path, host_path, hl) == 0 && fake_dev[i].path[hl] == '/'))
      found[k++] = fake_dev[i];
  if (k == 0)
    return berth_fail (err, 2, "stat `%s`", host_path);
  *out = found;
  *n = k;
  return 0;
}

static void
test_privileged (void **state)
{
  pod_sc.privileged = true;
  sc.privileged = true;
  cctx.list_devices = fake_list;
  json_t *s = build ();
  assert_int_equal (json_array_size (at (s, "linux.maskedPaths")), 0);
  assert_int_equal (json_array_size (at (s, "linux.readonlyPaths")), 0);
  assert_true (has_str (at (s, "process.capabilities.bounding"), "CAP_SYS_ADMIN"));
  assert_null (at (s, "linux.seccomp"));
  assert_true (json_is_true (at (s, "linux.resources.devices.0.allow")));
  assert_int_equal (json_array_size (at (s, "linux.resources.devices")), 1);
  assert_string_equal (str_at (s, "linux.devices.0.path"), "/dev/null");
  assert_int_equal (json_array_size (at (s, "linux.devices")), 4); /* not /dev/pts/0 */
  assert_false (has_str (at (mount_at (s, "/sys"), "options"), "ro"));
  json_decref (s);
}

static void
test_masked_paths_defaults_and_override (void **state)
{
  char *masked[] = { "/proc/secret" };
  json_t *s = build ();
  assert_true (has_str (at (s, "linux.maskedPaths"), "/proc/kcore"));
  assert_true (has_str (at (s, "linux.readonlyPaths"), "/proc/sys"));
  json_decref (s);
  sc.n_masked_paths = 1;
  sc.masked_paths = masked;
  s = build ();
  assert_string_equal (joined (at (s, "linux.maskedPaths")), "/proc/secret");
  json_decref (s);
}

static void
test_no_new_privs (void **state)
{
  json_t *s = build ();
  assert_true (json_is_false (at (s, "process.noNewPrivileges")));
  json_decref (s);
  sc.no_new_privs = true;
  s = build ();
  assert_true (json_is_true (at (s, "process.noNewPrivileges")));
  json_decref (s);
}

static void
test_seccomp_unconfined_by_default (void **state)
{
  json_t *s = build ();
  assert_null (at (s, "linux.seccomp"));
  json_decref (s);
}

static void
test_seccomp_runtime_default (void **state)
{
  Runtime__V1__SecurityProfile sp = RUNTIME__V1__SECURITY_PROFILE__INIT;
  sc.seccomp = &sp;
  json_t *s = build ();
  assert_string_equal (str_at (s, "linux.seccomp.defaultAction"), "SCMP_ACT_ERRNO");
  assert_true (has_str (at (s, "linux.seccomp.syscalls.0.names"), "read"));
  assert_false (has_str (at (s, "linux.seccomp.syscalls.0.names"), "mount"));
  assert_false (has_str (at (s, "linux.seccomp.syscalls.0.names"), "keyctl"));
  json_decref (s);
}

static void
test_seccomp_default_follows_caps (void **state)
{
  Runtime__V1__SecurityProfile sp = RUNTIME__V1__SECURITY_PROFILE__INIT;
  Runtime__V1__Capability caps = RUNTIME__V1__CAPABILITY__INIT;
  char *add[] = { "SYS_ADMIN" };
  caps.n_add_capabilities = 1;
  caps.add_capabilities = add;
  sc.capabilities = &caps;
  sc.seccomp = &sp;
  json_t *s = build ();
  assert_true (has_str (at (s, "linux.seccomp.syscalls.0.names"), "mount"));
  assert_true (has_str (at (s, "linux.seccomp.syscalls.0.names"), "clone3"));
  json_decref (s);
}

static void
test_seccomp_deprecated_path (void **state)
{
  sc.seccomp_profile_path = "runtime/default";
  json_t *s = build ();
  assert_non_null (at (s, "linux.seccomp"));
  json_decref (s);
  sc.seccomp_profile_path = "bogus";
  assert_contains (build_err (), "linux.security_context.seccomp_profile_path: unknown profile \"bogus\"");
}

static void
test_seccomp_localhost (void **state)
{
  Runtime__V1__SecurityProfile sp = RUNTIME__V1__SECURITY_PROFILE__INIT;
  sp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
  sp.localhost_ref = "/var/lib/kubelet/seccomp/x.json";
  sc.seccomp = &sp;
  assert_string_equal (cri_seccomp_localhost_path (&cfg), "/var/lib/kubelet/seccomp/x.json");
  assert_contains (build_err (), "seccomp: localhost profile \"/var/lib/kubelet/seccomp/x.json\" was not loaded");
  cctx.seccomp_localhost = json_pack ("{s:s}", "defaultAction", "SCMP_ACT_LOG");
  json_t *s = build ();
  assert_string_equal (str_at (s, "linux.seccomp.defaultAction"), "SCMP_ACT_LOG");
  json_decref (s);
  json_decref (cctx.seccomp_localhost);
}

static void
test_seccomp_default_compiles (void **state)
{
  berth_err err = NULL;

  for (int i = 0; i < 2; i++)
    {
      json_t *p = cri_seccomp_default (i ? UINT64_MAX : 0);
      struct berth_seccomp *s = berth_seccomp_compile (p, &err);
      if (s == NULL)
        fail_msg ("default profile: %s", err->msg);
      berth_seccomp_free (s);
      json_decref (p);
    }
}

static void
test_apparmor (void **state)
{
  Runtime__V1__SecurityProfile sp = RUNTIME__V1__SECURITY_PROFILE__INIT;
  json_t *s = build ();
  assert_null (at (s, "process.apparmorProfile")); /* not on this host */
  json_decref (s);
  sp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
  sp.localhost_ref = "k8s-nginx";
  sc.apparmor = &sp;
  assert_contains (build_err (), "apparmor: profile \"k8s-nginx\" asked for, but AppArmor is not enabled");
  pctx.apparmor_enabled = true;
  s = build ();
  assert_string_equal (str_at (s, "process.apparmorProfile"), "k8s-nginx");
  json_decref (s);
  sc.apparmor = NULL;
  s = build ();
  assert_string_equal (str_at (s, "process.apparmorProfile"), "berth-default");
  json_decref (s);
  sc.apparmor_profile = "unconfined";
  s = build ();
  assert_null (at (s, "process.apparmorProfile"));
  json_decref (s);
}

static void
test_selinux (void **state)
{
  Runtime__V1__SELinuxOption o = RUNTIME__V1__SELINUX_OPTION__INIT;
  o.level = "s0:c1,c2";
  sc.selinux_options = &o;
  json_t *s = build ();
  assert_null (at (s, "process.selinuxLabel")); /* ignored without SELinux */
  json_decref (s);
  pctx.selinux_enabled = true;
  s = build ();
  assert_string_equal (str_at (s, "process.selinuxLabel"), "system_u:system_r:container_t:s0:c1,c2");
  assert_string_equal (str_at (s, "linux.mountLabel"), "system_u:object_r:container_file_t:s0:c1,c2");
  json_decref (s);
}

/* ---- resources --------------------------------------------------------- */

static void
test_resources (void **state)
{
  Runtime__V1__HugepageLimit hp = RUNTIME__V1__HUGEPAGE_LIMIT__INIT;
  Runtime__V1__HugepageLimit *hps[] = { &hp };
  Runtime__V1__LinuxContainerResources__UnifiedEntry u = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__UNIFIED_ENTRY__INIT;
  Runtime__V1__LinuxContainerResources__UnifiedEntry *us[] = { &u };
  res.cpu_period = 100000;
  res.cpu_quota = 50000;
  res.cpu_shares = 512;
  res.memory_limit_in_bytes = 64 << 20;
  res.memory_swap_limit_in_bytes = 128 << 20;
  res.cpuset_cpus = "0-1";
  res.cpuset_mems = "0";
  res.oom_score_adj = 500;
  hp.page_size = "2MB";
  hp.limit = 4 << 20;
  res.n_hugepage_limits = 1;
  res.hugepage_limits = hps;
  u.key = "memory.high";
  u.value = "50000000";
  res.n_unified = 1;
  res.unified = us;
  cfg_linux.resources = &res;
  json_t *s = build ();
  assert_int_equal (json_integer_value (at (s, "linux.resources.cpu.period")), 100000);
  assert_int_equal (json_integer_value (at (s, "linux.resources.cpu.quota")), 50000);
  assert_int_equal (json_integer_value (at (s, "linux.resources.cpu.shares")), 512);
  assert_string_equal (str_at (s, "linux.resources.cpu.cpus"), "0-1");
  assert_string_equal (str_at (s, "linux.resources.cpu.mems"), "0");
  assert_int_equal (json_integer_value (at (s, "linux.resources.memory.limit")), 64 << 20);
  assert_int_equal (json_integer_value (at (s, "linux.resources.memory.swap")), 128 << 20);
  assert_string_equal (str_at (s, "linux.resources.hugepageLimits.0.pageSize"), "2MB");
  assert_string_equal (json_string_value (json_object_get (at (s, "linux.resources.unified"), "memory.high")),
                       "50000000");
  assert_int_equal (json_integer_value (at (s, "process.oomScoreAdj")), 500);
  json_decref (s);
}

static void
test_resources_zero_means_unset (void **state)
{
  cfg_linux.resources = &res;
  json_t *s = build ();
  assert_null (at (s, "linux.resources.cpu"));
  assert_null (at (s, "linux.resources.memory"));
  json_decref (s);
}

static void
test_oom_score_adj_clamped (void **state)
{
  res.oom_score_adj = -999;
  cfg_linux.resources = &res;
  pctx.restrict_oom_score_adj = true;
  pctx.current_oom_score_adj = -500;
  json_t *s = build ();
  assert_int_equal (json_integer_value (at (s, "process.oomScoreAdj")), -500);
  json_decref (s);
  res.oom_score_adj = 2000;
  assert_contains (build_err (), "linux.resources.oom_score_adj: 2000 is outside -1000..1000");
}

static void
test_hugepage_bad_size (void **state)
{
  Runtime__V1__HugepageLimit hp = RUNTIME__V1__HUGEPAGE_LIMIT__INIT;
  Runtime__V1__HugepageLimit *hps[] = { &hp };
  hp.page_size = "2 megs";
  res.n_hugepage_limits = 1;
  res.hugepage_limits = hps;
  cfg_linux.resources = &res;
  assert_contains (build_err (), "linux.resources.hugepage_limits[0].page_size");
}

static void
test_cgroups_path (void **state)
{
  json_t *s = build ();
  assert_string_equal (str_at (s, "linux.cgroupsPath"), "/kubepods/besteffort/poduid-1/c1");
  json_decref (s);
  pctx.systemd_cgroup = true;
  pod_linux.cgroup_parent = "kubepods-besteffort-poduid_1.slice";
  s = build ();
  assert_string_equal (str_at (s, "linux.cgroupsPath"), "kubepods-besteffort-poduid_1.slice:berth:c1");
  json_decref (s);
}

/* ---- namespaces -------------------------------------------------------- */

static void
test_namespaces_pod (void **state)
{
  nso.pid = RUNTIME__V1__NAMESPACE_MODE__POD;
  pctx.pidns_path = "/proc/42/ns/pid";
  json_t *s = build ();
  assert_string_equal (str_at (ns_of (s, "network"), "path"), "/run/berth/netns/sb1");
  assert_string_equal (str_at (ns_of (s, "ipc"), "path"), "/run/berth/ipcns/sb1");
  assert_string_equal (str_at (ns_of (s, "uts"), "path"), "/run/berth/utsns/sb1");
  assert_string_equal (str_at (ns_of (s, "pid"), "path"), "/proc/42/ns/pid");
  assert_non_null (ns_of (s, "mount"));
  assert_null (str_at (ns_of (s, "mount"), "path"));
  assert_null (ns_of (s, "cgroup"));
  json_decref (s);
}

static void
test_namespaces_container_pid (void **state)
{
  nso.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
  pctx.cgroup_v2 = true;
  json_t *s = build ();
  assert_non_null (ns_of (s, "pid"));
  assert_null (str_at (ns_of (s, "pid"), "path"));
  assert_non_null (ns_of (s, "cgroup"));
  json_decref (s);
}

static void
test_namespaces_pod_pid_without_infra (void **state)
{
  nso.pid = RUNTIME__V1__NAMESPACE_MODE__POD;
  assert_contains (build_err (), "namespace_options.pid: POD, but the pod has no pid namespace to join");
}

/* A container left at POD (options unset) follows a pod on the host's
 * network and ipc, and a pod without a pid namespace of its own. */
static void
test_namespaces_pod_follows_host_pod (void **state)
{
  Runtime__V1__NamespaceOption pod_nso = RUNTIME__V1__NAMESPACE_OPTION__INIT;
  pod_nso.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
  pod_nso.ipc = RUNTIME__V1__NAMESPACE_MODE__NODE;
  pod_nso.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
  pod_sc.namespace_options = &pod_nso;
  pctx.netns_path = pctx.ipcns_path = pctx.utsns_path = NULL;
  nso.pid = nso.network = nso.ipc = RUNTIME__V1__NAMESPACE_MODE__POD;
  json_t *s = build ();
  assert_null (ns_of (s, "network"));
  assert_null (ns_of (s, "ipc"));
  assert_null (ns_of (s, "uts"));
  assert_null (at (s, "hostname"));
  assert_non_null (ns_of (s, "pid"));
  assert_null (str_at (ns_of (s, "pid"), "path"));
  json_decref (s);
  pod_sc.namespace_options = NULL;
}

static void
test_namespaces_node_pid (void **state)
{
  nso.pid = RUNTIME__V1__NAMESPACE_MODE__NODE;
  json_t *s = build ();
  assert_null (ns_of (s, "pid"));
  json_decref (s);
}

static void
test_namespaces_target (void **state)
{
  nso.pid = RUNTIME__V1__NAMESPACE_MODE__TARGET;
  assert_contains (build_err (), "namespace_options.target_id: required with pid TARGET");
  nso.target_id = "other";
  assert_contains (build_err (), "container \"other\" has no pid namespace to join");
  cctx.target_pidns_path = "/proc/77/ns/pid";
  json_t *s = build ();
  assert_string_equal (str_at (ns_of (s, "pid"), "path"), "/proc/77/ns/pid");
  json_decref (s);
}

static void
test_userns_refused (void **state)
{
  Runtime__V1__UserNamespace u = RUNTIME__V1__USER_NAMESPACE__INIT;
  nso.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
  nso.userns_options = &u;
  assert_contains (build_err (), "userns_options.mode: user namespaces are not supported");
  u.mode = RUNTIME__V1__NAMESPACE_MODE__NODE;
  json_t *s = build ();
  assert_null (ns_of (s, "user"));
  json_decref (s);
}

static void
test_pod_settings_in_containers (void **state)
{
  Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry e1 = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT,
                                                   e2 = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
  Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *es[] = { &e1, &e2 };
  e1.key = "net.ipv4.ip_forward";
  e1.value = "1";
  e2.key = "kernel.shm_rmid_forced";
  e2.value = "1";
  pod_linux.n_sysctls = 2;
  pod_linux.sysctls = es;
  nso.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
  json_t *s = build ();
  assert_null (at (s, "hostname")); /* the pinned uts namespace has it */
  assert_null (at (s, "linux.sysctl"));
  json_decref (s);
  pctx.pod_settings_in_containers = true;
  s = build ();
  assert_string_equal (str_at (s, "hostname"), "web-host");
  assert_string_equal (json_string_value (json_object_get (at (s, "linux.sysctl"), "net.ipv4.ip_forward")), "1");
  json_decref (s);
  nso.network = RUNTIME__V1__NAMESPACE_MODE__NODE; /* no net sysctl on the host */
  pctx.host_hostname = "node";
  s = build ();
  assert_null (json_object_get (at (s, "linux.sysctl"), "net.ipv4.ip_forward"));
  assert_non_null (json_object_get (at (s, "linux.sysctl"), "kernel.shm_rmid_forced"));
  json_decref (s);
}

/* ---- devices and annotations ------------------------------------------ */

static void
test_devices (void **state)
{
  Runtime__V1__Device d1 = RUNTIME__V1__DEVICE__INIT, d2 = RUNTIME__V1__DEVICE__INIT;
  Runtime__V1__Device *ds[] = { &d1, &d2 };
  d1.host_path = "/dev/sda";
  d1.container_path = "/dev/xvda";
  d1.permissions = "rw";
  d2.host_path = "/dev/snd";
  d2.container_path = "/dev/snd";
  d2.permissions = "rwm";
  cfg.n_devices = 2;
  cfg.devices = ds;
  nso.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
  assert_contains (build_err (), "devices[0]: no way to look up host devices");
  cctx.list_devices = fake_list;
  json_t *s = build ();
  assert_string_equal (str_at (s, "linux.devices.0.path"), "/dev/xvda");
  assert_string_equal (str_at (s, "linux.devices.0.type"), "b");
  assert_int_equal (json_integer_value (at (s, "linux.devices.0.major")), 8);
  assert_string_equal (str_at (s, "linux.devices.1.path"), "/dev/snd/pcmC0D0p");
  json_t *rules = at (s, "linux.resources.devices");
  json_t *last = json_array_get (rules, json_array_size (rules) - 1);
  assert_int_equal (json_integer_value (json_object_get (last, "major")), 116);
  assert_false (json_is_true (at (rules, "0.allow"))); /* default deny first */
  json_decref (s);
  d1.permissions = "rwx";
  assert_contains (build_err (), "devices[0].permissions: \"rwx\"");
  d1.permissions = "r";
  d1.host_path = "/dev/nope";
  assert_contains (build_err (), "container config: devices[0].host_path: stat `/dev/nope`");
}

static void
test_annotations (void **state)
{
  Runtime__V1__ContainerConfig__AnnotationsEntry a = RUNTIME__V1__CONTAINER_CONFIG__ANNOTATIONS_ENTRY__INIT,
                                                 f = RUNTIME__V1__CONTAINER_CONFIG__ANNOTATIONS_ENTRY__INIT;
  Runtime__V1__ContainerConfig__AnnotationsEntry *as[] = { &a, &f };
  a.key = "io.kubernetes.container.hash";
  a.value = "abc";
  f.key = CRI_ANN_SANDBOX_ID;
  f.value = "forged";
  cfg.n_annotations = 2;
  cfg.annotations = as;
  nso.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
  json_t *s = build ();
  json_t *ann = json_object_get (s, "annotations");
  assert_string_equal (json_string_value (json_object_get (ann, "io.kubernetes.container.hash")), "abc");
  assert_string_equal (json_string_value (json_object_get (ann, CRI_ANN_SANDBOX_ID)), "sb1");
  assert_string_equal (json_string_value (json_object_get (ann, CRI_ANN_CONTAINER_TYPE)), "container");
  assert_string_equal (json_string_value (json_object_get (ann, CRI_ANN_CONTAINER_NAME)), "app");
  assert_string_equal (json_string_value (json_object_get (ann, CRI_ANN_IMAGE_NAME)),
                       "docker.io/library/busybox:latest");
  assert_string_equal (json_string_value (json_object_get (ann, CRI_ANN_SANDBOX_NAMESPACE)), "default");
  json_decref (s);
}

/* ---- the infra spec ---------------------------------------------------- */

static void
test_pod_spec (void **state)
{
  const char *args[] = { "/pause", NULL };
  Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry e = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
  Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *es[] = { &e };
  berth_err err = NULL;
  e.key = "net.core.somaxconn";
  e.value = "1024";
  pod_linux.n_sysctls = 1;
  pod_linux.sysctls = es;
  json_t *s = cri_pod_spec (&pod, &pctx, "sb1", "/run/berth/pause", args, &err);
  assert_non_null (s);
  assert_parses (s);
  assert_string_equal (str_at (s, "hostname"), "web-host");
  assert_string_equal (str_at (ns_of (s, "network"), "path"), "/run/berth/netns/sb1");
  assert_null (str_at (ns_of (s, "pid"), "path"));
  assert_string_equal (json_string_value (json_object_get (at (s, "linux.sysctl"), "net.core.somaxconn")), "1024");
  assert_int_equal (json_integer_value (at (s, "process.oomScoreAdj")), -998);
  assert_string_equal (str_at (s, "linux.cgroupsPath"), "/kubepods/besteffort/poduid-1/sb1");
  assert_string_equal (json_string_value (json_object_get (json_object_get (s, "annotations"), CRI_ANN_CONTAINER_TYPE)),
                       "sandbox");
  json_decref (s);
}

static void
test_pod_spec_bad_sysctl (void **state)
{
  const char *args[] = { "/pause", NULL };
  Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry e = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
  Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *es[] = { &e };
  berth_err err = NULL;
  e.key = "kernel.panic";
  e.value = "1";
  pod_linux.n_sysctls = 1;
  pod_linux.sysctls = es;
  assert_null (cri_pod_spec (&pod, &pctx, "sb1", "/r", args, &err));
  assert_string_equal (err->msg, "pod sandbox config: linux.sysctls[\"kernel.panic\"]: not a namespaced sysctl");
  berth_err_free (&err);
}

#define T(f) cmocka_unit_test_setup (f, setup)

int
main (void)
{
  const struct CMUnitTest tests[] = {
    T (test_names),
    T (test_names_need_a_name),
    T (test_resolv_conf),
    T (test_resolv_conf_refuses_injection),
    T (test_hostname_and_hosts),
    T (test_log_path),
    T (test_stop_signal),
    T (test_args_from_image_cmd),
    T (test_args_entrypoint_plus_cmd),
    T (test_args_override_cmd_only),
    T (test_command_drops_entrypoint_and_cmd),
    T (test_command_and_args),
    T (test_empty_entrypoint_means_none),
    T (test_no_command_is_an_error),
    T (test_env_order_and_override),
    T (test_env_empty_key_is_an_error),
    T (test_env_hostname_of_host_network),
    T (test_cwd),
    T (test_tty),
    T (test_user_default_root_with_groups),
    T (test_user_run_as_user_takes_passwd_gid),
    T (test_user_unknown_uid_gets_gid_0),
    T (test_user_run_as_group),
    T (test_user_group_without_user_is_an_error),
    T (test_user_by_name),
    T (test_user_unknown_name_is_an_error),
    T (test_user_name_and_uid_is_an_error),
    T (test_user_negative_uid_is_an_error),
    T (test_user_from_image),
    T (test_user_image_name_without_passwd),
    T (test_supplemental_groups_and_strict),
    T (test_pod_files_and_shm),
    T (test_pod_files_ro_with_readonly_rootfs),
    T (test_host_ipc_gets_host_shm),
    T (test_no_pod_shm_keeps_tmpfs),
    T (test_config_mounts),
    T (test_bidirectional_makes_root_shared),
    T (test_config_mount_replaces_default),
    T (test_mount_dev_drops_dev_submounts),
    T (test_mount_errors),
    T (test_mount_rro_and_options),
    T (test_mount_idmap),
    T (test_image_volumes),
    T (test_default_capabilities),
    T (test_caps_add_drop),
    T (test_caps_add_all_drop_one),
    T (test_caps_drop_all_add_one),
    T (test_caps_ambient),
    T (test_caps_unknown),
    T (test_privileged_needs_privileged_pod),
    T (test_privileged),
    T (test_masked_paths_defaults_and_override),
    T (test_no_new_privs),
    T (test_seccomp_unconfined_by_default),
    T (test_seccomp_runtime_default),
    T (test_seccomp_default_follows_caps),
    T (test_seccomp_deprecated_path),
    T (test_seccomp_localhost),
    T (test_seccomp_default_compiles),
    T (test_apparmor),
    T (test_selinux),
    T (test_resources),
    T (test_resources_zero_means_unset),
    T (test_oom_score_adj_clamped),
    T (test_hugepage_bad_size),
    T (test_cgroups_path),
    T (test_namespaces_pod),
    T (test_namespaces_container_pid),
    T (test_namespaces_pod_pid_without_infra),
    T (test_namespaces_pod_follows_host_pod),
    T (test_namespaces_node_pid),
    T (test_namespaces_target),
    T (test_userns_refused),
    T (test_pod_settings_in_containers),
    T (test_devices),
    T (test_annotations),
    T (test_pod_spec),
    T (test_pod_spec_bad_sysctl),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
