/* The runtime-spec model (config.json), parsed and validated.
 *
 * berth_spec_parse() turns config.json into this tree.  Every error names the
 * JSON path of the offending value, e.g.
 *     linux.resources.memory.limit: expected integer
 * Unknown properties are ignored (runtime-spec "Extensibility"); unknown
 * values of known properties (a mount option, a namespace type, a capability
 * name, an rlimit type, a signal ...) are refused.
 *
 * Optional scalars carry a `has_*` flag.  Strings are NUL-terminated and owned
 * by the struct; string vectors are NULL-terminated with an explicit count.
 * This header knows nothing of syscalls beyond the constants it stores.
 */
#ifndef BERTH_SPEC_SPEC_H
#define BERTH_SPEC_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

/* GCC predefines `linux` as 1 in the gnu* modes (meson's c_std=gnu11), which
 * would turn the `linux` member below into a syntax error.  Test __linux__. */
#undef linux

#define BERTH_OCI_VERSION "1.3.0"

/* Namespaces, in the order berth joins them: user first (joining others may
 * need the capabilities it grants), mount last (it changes path lookup). */
enum berth_ns_type
{
  BERTH_NS_USER = 0,
  BERTH_NS_PID,
  BERTH_NS_NET,
  BERTH_NS_IPC,
  BERTH_NS_UTS,
  BERTH_NS_CGROUP,
  BERTH_NS_TIME,
  BERTH_NS_MNT,
  BERTH_NS_COUNT
};

struct berth_namespace
{
  bool present; /* listed in linux.namespaces */
  char *path;   /* join this one; NULL: create a new one */
};

struct berth_id_mapping
{
  uint32_t container_id;
  uint32_t host_id;
  uint32_t size;
};

struct berth_rlimit
{
  int resource; /* RLIMIT_* */
  char *type;   /* "RLIMIT_NOFILE", kept for messages */
  uint64_t soft;
  uint64_t hard;
};

struct berth_user
{
  uint32_t uid;
  uint32_t gid;
  bool has_umask;
  mode_t umask;
  uint32_t *additional_gids;
  size_t n_additional_gids;
  char *username;
};

/* Capability sets as bitmasks of CAP_* numbers (bit n = capability n). */
struct berth_capabilities
{
  uint64_t bounding;
  uint64_t effective;
  uint64_t inheritable;
  uint64_t permitted;
  uint64_t ambient;
};

struct berth_process
{
  bool terminal;
  bool has_console_size;
  unsigned console_height;
  unsigned console_width;
  char **args;
  size_t n_args;
  char **env;
  size_t n_env;
  char *cwd;
  struct berth_user user;
  struct berth_capabilities *capabilities; /* NULL: absent (no capabilities kept) */
  struct berth_rlimit *rlimits;
  size_t n_rlimits;
  bool no_new_privileges;
  bool has_oom_score_adj;
  int oom_score_adj;
  char *apparmor_profile;
  char *selinux_label;
  json_t *io_priority;       /* raw, interpreted by runtime/ (issue 3) */
  json_t *scheduler;         /* raw */
  json_t *exec_cpu_affinity; /* raw */
};

/* A mount, with its options already split into what mount(2) and
 * mount_setattr(2) need.  Unknown options on a bind mount are refused at
 * parse time; on other types they are passed to the filesystem as data. */
struct berth_mount
{
  char *destination;
  char *type; /* may be NULL for bind mounts */
  char *source;
  char **options;
  size_t n_options;          /* as written, for messages */
  unsigned long flags;       /* MS_* to set (MS_RDONLY, MS_NOSUID, ...) */
  unsigned long clear_flags; /* MS_* explicitly cleared (rw, suid, dev, exec ...) */
  unsigned long propagation; /* 0 or MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE, maybe |MS_REC */
  uint64_t attr_set;         /* MOUNT_ATTR_* applied recursively (rro, rnosuid ...) */
  uint64_t attr_clr;
  bool is_bind;         /* "bind" or "rbind" option, or type "bind" */
  bool recursive_bind;  /* "rbind" */
  bool tmpcopyup;       /* runc extension: copy the image's directory into the new tmpfs */
  bool idmap;           /* "idmap" or "ridmap" option, or uid/gid mappings given */
  bool recursive_idmap; /* "ridmap": apply the mapping with AT_RECURSIVE */
  char *data;           /* comma-joined filesystem options, NULL if none */
  struct berth_id_mapping *uid_mappings;
  size_t n_uid_mappings; /* idmapped mounts */
  struct berth_id_mapping *gid_mappings;
  size_t n_gid_mappings;
};

struct berth_device
{
  char *path;
  char type; /* 'c', 'b', 'u' or 'p' */
  int64_t major;
  int64_t minor;
  bool has_file_mode;
  mode_t file_mode; /* permission bits only */
  bool has_uid;
  uint32_t uid;
  bool has_gid;
  uint32_t gid;
};

struct berth_device_rule /* linux.resources.devices[] */
{
  bool allow;
  char type;     /* 'a', 'c' or 'b'; 'a' when absent */
  int64_t major; /* -1: any */
  int64_t minor; /* -1: any */
  char *access;  /* "rwm" subset; NULL: all */
};

struct berth_throttle_device
{
  int64_t major, minor;
  uint64_t rate;
};

struct berth_weight_device
{
  int64_t major, minor;
  bool has_weight;
  uint16_t weight;
  bool has_leaf_weight;
  uint16_t leaf_weight;
};

struct berth_hugepage_limit
{
  char *page_size; /* "2MB" */
  uint64_t limit;
};

struct berth_net_priority
{
  char *name;
  uint32_t priority;
};

struct berth_rdma_limit
{
  char *device;
  bool has_hca_handles;
  uint32_t hca_handles;
  bool has_hca_objects;
  uint32_t hca_objects;
};

struct berth_key_value
{
  char *key;
  char *value;
};

struct berth_resources
{
  struct berth_device_rule *devices;
  size_t n_devices;

  struct
  {
    bool present;
    bool has_limit;
    int64_t limit;
    bool has_reservation;
    int64_t reservation;
    bool has_swap;
    int64_t swap;
    bool has_kernel;
    int64_t kernel;
    bool has_kernel_tcp;
    int64_t kernel_tcp;
    bool has_swappiness;
    uint64_t swappiness;
    bool has_disable_oom_killer;
    bool disable_oom_killer;
    bool has_use_hierarchy;
    bool use_hierarchy;
    bool has_check_before_update;
    bool check_before_update;
  } memory;

  struct
  {
    bool present;
    bool has_shares;
    uint64_t shares;
    bool has_quota;
    int64_t quota;
    bool has_burst;
    uint64_t burst;
    bool has_period;
    uint64_t period;
    bool has_realtime_runtime;
    int64_t realtime_runtime;
    bool has_realtime_period;
    uint64_t realtime_period;
    char *cpus;
    char *mems;
    bool has_idle;
    int64_t idle;
  } cpu;

  struct
  {
    bool present;
    int64_t limit; /* -1 or 0 with present: unlimited ("max") */
  } pids;

  struct
  {
    bool present;
    bool has_weight;
    uint16_t weight;
    bool has_leaf_weight;
    uint16_t leaf_weight;
    struct berth_weight_device *weight_device;
    size_t n_weight_device;
    struct berth_throttle_device *throttle_read_bps;
    size_t n_throttle_read_bps;
    struct berth_throttle_device *throttle_write_bps;
    size_t n_throttle_write_bps;
    struct berth_throttle_device *throttle_read_iops;
    size_t n_throttle_read_iops;
    struct berth_throttle_device *throttle_write_iops;
    size_t n_throttle_write_iops;
  } block_io;

  struct berth_hugepage_limit *hugepage_limits;
  size_t n_hugepage_limits;

  struct
  {
    bool present;
    bool has_class_id;
    uint32_t class_id;
    struct berth_net_priority *priorities;
    size_t n_priorities;
  } network;

  struct berth_rdma_limit *rdma;
  size_t n_rdma;

  struct berth_key_value *unified;
  size_t n_unified;
};

struct berth_hook
{
  char *path;
  char **args;
  size_t n_args; /* NULL-terminated; may be empty */
  char **env;
  size_t n_env;
  bool has_timeout;
  int timeout; /* seconds, > 0 */
};

enum berth_hook_kind
{
  BERTH_HOOK_PRESTART = 0,
  BERTH_HOOK_CREATE_RUNTIME,
  BERTH_HOOK_CREATE_CONTAINER,
  BERTH_HOOK_START_CONTAINER,
  BERTH_HOOK_POSTSTART,
  BERTH_HOOK_POSTSTOP,
  BERTH_HOOK_KIND_COUNT
};

struct berth_linux
{
  struct berth_namespace namespaces[BERTH_NS_COUNT];
  struct berth_id_mapping *uid_mappings;
  size_t n_uid_mappings;
  struct berth_id_mapping *gid_mappings;
  size_t n_gid_mappings;
  struct berth_device *devices;
  size_t n_devices;
  char *cgroups_path;                /* NULL when absent */
  struct berth_resources *resources; /* NULL when absent */
  unsigned long rootfs_propagation;  /* 0 when absent; else MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE (with MS_REC) */
  char **masked_paths;
  size_t n_masked_paths;
  char **readonly_paths;
  size_t n_readonly_paths;
  char *mount_label;
  struct berth_key_value *sysctl;
  size_t n_sysctl;
  json_t *seccomp;       /* raw; interpreted by runtime/seccomp (issue 3) */
  json_t *personality;   /* raw */
  json_t *intel_rdt;     /* raw */
  json_t *memory_policy; /* raw */
  json_t *net_devices;   /* raw */
  json_t *time_offsets;  /* raw */
};

struct berth_spec
{
  char *oci_version;
  char *root_path; /* as written (relative to the bundle or absolute) */
  bool root_readonly;
  struct berth_process *process; /* NULL when absent (only valid for `spec`-less uses) */
  char *hostname;
  char *domainname;
  struct berth_mount *mounts;
  size_t n_mounts;
  struct berth_hook *hooks[BERTH_HOOK_KIND_COUNT];
  size_t n_hooks[BERTH_HOOK_KIND_COUNT];
  struct berth_linux *linux; /* NULL when absent */
  json_t *annotations;       /* object or NULL; borrowed from raw */
  json_t *raw;               /* the whole document, owned */
};

/* Parse and validate a config.json document held in memory (len bytes).
 * `where` names the source in messages (e.g. the file path). */
struct berth_spec *berth_spec_parse (const char *data, size_t len, const char *where, berth_err *err);

/* Whether the bundle's ociVersion is major.minor or later (a pre-release such
 * as "1.3.0-rc.1" counts as 1.3).  An ociVersion that is not SemVer counts as
 * current: the version only selects between old and new rules. */
bool berth_spec_version_at_least (const struct berth_spec *spec, unsigned major, unsigned minor);

/* Read and parse a config file. */
struct berth_spec *berth_spec_load (const char *path, berth_err *err);

/* Parse a process object alone (`exec --process FILE`); `path_prefix` names
 * the JSON path in messages ("process" or ""). */
struct berth_process *berth_process_parse (json_t *obj, const char *path_prefix, berth_err *err);

void berth_spec_free (struct berth_spec *spec);
void berth_process_free (struct berth_process *process);

/* Name <-> constant tables shared by the parser and the runtime. */
int berth_ns_type_from_name (const char *name);               /* -1 when unknown */
const char *berth_ns_type_name (enum berth_ns_type type);     /* "pid", "network", "mount" ... */
/* Which namespace isolates the sysctl `key` (BERTH_NS_IPC, _NET, _UTS); -1
 * when none does, so setting it would change the host. */
int berth_sysctl_namespace (const char *key);
const char *berth_hook_kind_name (enum berth_hook_kind kind); /* "prestart" ... */
int berth_signal_from_name (const char *name);                /* "KILL", "SIGKILL", "9" -> 9; -1 when unknown */
int berth_rlimit_from_name (const char *name);                /* "RLIMIT_NOFILE" -> RLIMIT_NOFILE; -1 */
int berth_capability_from_name (const char *name);            /* "CAP_CHOWN" -> 0; -1 */

/* `berth spec`: the default config.json, as runc writes it (rootless variant
 * maps the caller's ids).  Returns a new JSON object. */
json_t *berth_spec_default (bool rootless, uid_t uid, gid_t gid);

/* A linux.resources object alone (`update --resources FILE`); errors name
 * the JSON path below path_prefix ("" or e.g. "linux.resources"). */
struct berth_resources *berth_resources_parse (json_t *obj, const char *path_prefix, berth_err *err);
void berth_resources_free (struct berth_resources *r);

/* Whether the mount option parser knows `name` (for `features`). */
bool berth_mount_option_known (const char *name);

#endif
