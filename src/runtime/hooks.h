/* OCI hooks: each one runs with the container's state JSON on stdin; its
 * output is captured and shown when it fails; `timeout` kills it. */
#ifndef BERTH_RUNTIME_HOOKS_H
#define BERTH_RUNTIME_HOOKS_H

#include <jansson.h>

#include "spec/spec.h"
#include "util/error.h"

/* The state JSON given to hooks (runtime.md "State"). Returns malloc'ed text. */
char *hooks_state_json (const char *id, const char *status, pid_t pid, const char *bundle, json_t *annotations);

/* Run every hook of `kind` in order; stops at the first failure. */
int hooks_run (const struct berth_spec *spec, enum berth_hook_kind kind, const char *state_json, berth_err *err);

/* Run every hook of `kind` even when one fails, logging each failure as a
 * warning (poststop: runtime.md step 13; poststart before spec 1.3). */
void hooks_run_warn (const struct berth_spec *spec, enum berth_hook_kind kind, const char *state_json);

/* Whether a failing hook of `kind` is only a warning for this bundle. */
bool hooks_failure_is_warning (const struct berth_spec *spec, enum berth_hook_kind kind);

/* Bit (1 << kind) set for every kind the spec has hooks of. */
unsigned hooks_mask (const struct berth_spec *spec);

#endif
