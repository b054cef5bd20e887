/* The `berth` command line: one file per verb, each defining one
 * `struct berth_cli_command` that main.c lists in its verb table.
 *
 * A verb's run() returns the exit status (>= 0), or -1 with *err set: main
 * then logs the error as runc's fatal() does and exits 1.  Argument counts
 * are checked by main from min_args/max_args before run() is called.
 */
#ifndef BERTH_CLI_CLI_H
#define BERTH_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cli/args.h"
#include "runtime/container.h"
#include "util/error.h"

#define BERTH_DEFAULT_ROOT "/run/berth"

/* Global flags and what main derived from them. */
struct berth_cli
{
  const char *argv0;        /* as invoked: runc names itself so in messages */
  char **main_argv;         /* the whole command line, to re-execute from a sealed copy */
  struct berth_context ctx; /* what the library needs */
  const char *rootless;     /* "true", "false" or "auto" (accepted, unused yet) */
};

struct berth_cli_command
{
  const char *name;
  const char *summary;     /* one line, for the command list and NAME */
  const char *usage;       /* the arguments, e.g. "<container-id>", maybe followed by prose
                              ("[command options]" is added when there are flags) */
  const char *description; /* DESCRIPTION section of the help, or NULL */
  const struct berth_flag *flags;
  size_t n_flags;
  int min_args;
  int max_args;      /* -1: no maximum */
  bool skip_reorder; /* flags only before the id (exec, ps: the rest is the command's) */
  int error_status;  /* exit status when run() fails; 0 means 1 (runc's exec uses 255) */
  bool sealed_exe;   /* starts container processes: run from a sealed copy (CVE-2019-5736) */
  int (*run) (struct berth_cli *cli, const struct berth_args *args, berth_err *err);
};

#define BERTH_N_FLAGS(a) (sizeof (a) / sizeof ((a)[0]))

/* The verbs; main.c lists them in help order. */
extern const struct berth_cli_command berth_cmd_create;
extern const struct berth_cli_command berth_cmd_delete;
extern const struct berth_cli_command berth_cmd_events;
extern const struct berth_cli_command berth_cmd_exec;
extern const struct berth_cli_command berth_cmd_features;
extern const struct berth_cli_command berth_cmd_kill;
extern const struct berth_cli_command berth_cmd_list;
extern const struct berth_cli_command berth_cmd_pause;
extern const struct berth_cli_command berth_cmd_ps;
extern const struct berth_cli_command berth_cmd_resume;
extern const struct berth_cli_command berth_cmd_run;
extern const struct berth_cli_command berth_cmd_spec;
extern const struct berth_cli_command berth_cmd_start;
extern const struct berth_cli_command berth_cmd_state;
extern const struct berth_cli_command berth_cmd_update;

/* Help, in urfave/cli's layout (help.c). */
void berth_cli_print_app_help (const struct berth_cli *cli, const struct berth_cli_command *const *commands,
                               size_t n_commands);
void berth_cli_print_command_help (const struct berth_cli *cli, const struct berth_cli_command *cmd);
void berth_cli_print_version (void);

/* Shared helpers (common.c). */

/* The value of flag `name` of the running command (never NULL). */
const struct berth_flag_value *berth_cli_flag (const struct berth_cli_command *cmd, const struct berth_args *args,
                                               const char *name);

/* Write JSON as Go's encoding/json would: indent 0 is compact (json.Encoder,
 * then a newline when `newline`), otherwise MarshalIndent-style. */
int berth_cli_print_json (json_t *value, int indent, bool newline, berth_err *err);

/* An absolute form of path, relative to the cwd (runc's filepath.Abs).  NULL
 * in, NULL out. */
char *berth_cli_abs_path (const char *path, berth_err *err);

/* Whether err is the library's "container does not exist". */
bool berth_cli_is_not_exist (const struct berth_error *err);

/* The flags create and run share, as table entries. */
/* clang-format off */
#define BERTH_CREATE_FLAGS                                                                                    \
  { "bundle, b", BERTH_FLAG_STRING,                                                                           \
    "path to the root of the bundle directory, defaults to the current directory", NULL },                    \
  { "console-socket", BERTH_FLAG_STRING,                                                                      \
    "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the "       \
    "console's pseudoterminal", NULL },                                                                      \
  { "pid-file", BERTH_FLAG_STRING, "specify the file to write the process id to", NULL },                     \
  { "no-pivot", BERTH_FLAG_BOOL,                                                                              \
    "do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on "    \
    "top of a ramdisk", NULL },                                                                              \
  { "no-new-keyring", BERTH_FLAG_BOOL,                                                                        \
    "do not create a new session keyring for the container.  This will cause the container to inherit the "   \
    "calling processes session key", NULL },                                                                 \
  { "preserve-fds", BERTH_FLAG_INT,                                                                           \
    "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)", "0" }
/* clang-format on */

/* Fill create options from the create/run flags and the id.  The bundle and
 * pid file are made absolute (runc does); *owned_bundle and *owned_pid_file
 * back those fields and are freed by the caller. */
int berth_cli_create_options (const struct berth_cli_command *cmd, const struct berth_args *args,
                              struct berth_create_options *opts, char **owned_bundle, char **owned_pid_file,
                              berth_err *err);

#endif
