/* process.args, process.env and process.cwd from the container config and
 * the image config, by the kubelet's (and docker's) rules. */
#include <string.h>

#include "cri/cri_internal.h"
#include "util/cleanup.h"

static size_t
strv_len (char **v)
{
  size_t n = 0;

  while (v && v[n])
    n++;
  return n;
}

/* command replaces the image's Entrypoint, and then its Cmd too; args
 * replace Cmd alone.  An Entrypoint of [""] means "none" (docker's way of
 * clearing a base image's entrypoint). */
static int
build_args (struct cri_build *b, berth_err *err)
{
  const Runtime__V1__ContainerConfig *c = b->c;
  char **entrypoint = b->image ? b->image->entrypoint : NULL;
  char **cmd = b->image ? b->image->cmd : NULL;
  json_t *args = json_array ();

  json_object_set_new (cri_obj (b->spec, "process"), "args", args);
  if (c->n_command > 0)
    {
      for (size_t i = 0; i < c->n_command; i++)
        json_array_append_new (args, json_string (c->command[i]));
    }
  else if (!(strv_len (entrypoint) == 1 && entrypoint[0][0] == '\0'))
    for (size_t i = 0; i < strv_len (entrypoint); i++)
      json_array_append_new (args, json_string (entrypoint[i]));
  if (c->n_args > 0)
    for (size_t i = 0; i < c->n_args; i++)
      json_array_append_new (args, json_string (c->args[i]));
  else if (c->n_command == 0)
    for (size_t i = 0; i < strv_len (cmd); i++)
      json_array_append_new (args, json_string (cmd[i]));
  if (json_array_size (args) == 0)
    return berth_fail (err, 0,
                       CRI_CFG "command: no command specified (none in command, args or the image's "
                               "Entrypoint and Cmd)");
  return 0;
}

/* Sets NAME=VALUE in env, in place when NAME is there (the later source
 * wins, and the variable keeps the position it had). */
static void
env_set (json_t *env, const char *entry, size_t name_len)
{
  size_t i;
  json_t *e;

  json_array_foreach (env, i, e)
  {
    const char *s = json_string_value (e);
    if (s && strncmp (s, entry, name_len) == 0 && s[name_len] == '=')
      {
        json_array_set_new (env, i, json_string (entry));
        return;
      }
  }
  json_array_append_new (env, json_string (entry));
}

static int
build_env (struct cri_build *b, berth_err *err)
{
  const Runtime__V1__ContainerConfig *c = b->c;
  json_t *env = json_array ();
  const char *hostname;
  berth_err herr = NULL;

  json_object_set_new (cri_obj (b->spec, "process"), "env", env);
  env_set (env, CRI_DEFAULT_PATH, 4);
  hostname = cri_pod_hostname (b->pod, b->pctx, &herr);
  if (hostname == NULL)
    {
      berth_err_move (err, &herr);
      return -1;
    }
  if (*hostname)
    {
      cleanup_free char *h = cri_printf ("HOSTNAME=%s", hostname);
      env_set (env, h, 8);
    }
  /* The image's entries first, so the config's override them.  An entry
     without '=' (docker's "inherit from the caller") has no meaning here. */
  for (size_t i = 0; b->image && b->image->env && b->image->env[i]; i++)
    {
      const char *e = b->image->env[i], *eq = strchr (e, '=');
      if (eq != NULL && eq != e)
        env_set (env, e, eq - e);
    }
  for (size_t i = 0; i < c->n_envs; i++)
    {
      const Runtime__V1__KeyValue *kv = c->envs[i];
      cleanup_free char *entry = NULL;
      size_t klen;

      if (kv == NULL || cri_empty (kv->key))
        return berth_fail (err, 0, CRI_CFG "envs[%zu].key: must not be empty", i);
      if (strchr (kv->key, '=') != NULL)
        return berth_fail (err, 0, CRI_CFG "envs[%zu].key: \"%s\" contains '='", i, kv->key);
      /* value is bytes on the wire; an environment string ends at NUL. */
      if (kv->value.len > 0 && memchr (kv->value.data, '\0', kv->value.len) != NULL)
        return berth_fail (err, 0, CRI_CFG "envs[%zu].value: contains a NUL byte", i);
      klen = strlen (kv->key);
      entry = cri_printf ("%s=%.*s", kv->key, (int)kv->value.len, kv->value.len ? (const char *)kv->value.data : "");
      env_set (env, entry, klen);
    }
  return 0;
}

static int
build_cwd (struct cri_build *b, berth_err *err)
{
  const char *wd = b->c->working_dir;
  cleanup_free char *abs = NULL;

  if (!cri_empty (wd))
    {
      if (wd[0] != '/')
        return berth_fail (err, 0, CRI_CFG "working_dir: \"%s\" is not an absolute path", wd);
    }
  else if (b->image && !cri_empty (b->image->working_dir))
    {
      /* docker resolves a relative WorkingDir against "/". */
      wd = b->image->working_dir;
      if (wd[0] != '/')
        wd = abs = cri_printf ("/%s", wd);
    }
  else
    wd = "/";
  json_object_set_new (cri_obj (b->spec, "process"), "cwd", json_string (wd));
  return 0;
}

int
cri_step_args_env (struct cri_build *b, berth_err *err)
{
  json_t *process = cri_obj (b->spec, "process");

  if (build_args (b, err) < 0 || build_env (b, err) < 0 || build_cwd (b, err) < 0)
    return -1;
  json_object_set_new (process, "terminal", json_boolean (b->c->tty));
  return 0;
}
