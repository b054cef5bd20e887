/* Name reservation keys: one pod (or container) per key, so two
 * concurrent requests for the same kubelet object cannot both succeed. */
#include "cri/cri_internal.h"

/* Only names are required: namespace and uid may be empty (crictl users
 * leave them out).  '_' in a part is accepted, as containerd does, though
 * it could make two keys equal: the kubelet's names are DNS-1123 and never
 * hold one. */
static int
check_part (const char *value, const char *what, const char *field, berth_err *err)
{
  if (cri_empty (value))
    return berth_fail (err, 0, "%s%s: must not be empty", what, field);
  return 0;
}

static int
check_pod (const Runtime__V1__PodSandboxMetadata *m, const char *what, berth_err *err)
{
  if (m == NULL)
    return berth_fail (err, 0, "%smetadata: missing", what);
  return check_part (m->name, what, "metadata.name", err);
}

char *
cri_sandbox_name (const Runtime__V1__PodSandboxMetadata *m, berth_err *err)
{
  if (check_pod (m, CRI_POD, err) < 0)
    return NULL;
  return cri_printf ("%s_%s_%s_%u", m->name, CRI_S (m->namespace_), CRI_S (m->uid), m->attempt);
}

char *
cri_container_name (const Runtime__V1__ContainerMetadata *c, const Runtime__V1__PodSandboxMetadata *p, berth_err *err)
{
  if (c == NULL)
    return berth_fail (err, 0, CRI_CFG "metadata: missing"), NULL;
  if (check_part (c->name, CRI_CFG, "metadata.name", err) < 0 || check_pod (p, CRI_POD, err) < 0)
    return NULL;
  return cri_printf ("%s_%s_%s_%s_%u", c->name, p->name, CRI_S (p->namespace_), CRI_S (p->uid), c->attempt);
}
