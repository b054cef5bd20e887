/* berthctl: images (and later pods and containers) for people.
 *
 *   berthctl [--root DIR] [--auth-file FILE] [--registries-config FILE]
 *            [--ca-file FILE] COMMAND [ARGS]
 *
 * Exit status: 0 done, 1 failed (the message says why), 2 usage error.
 */
#include "berthctl/berthctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ctl_command *const commands[] = {
  &ctl_cmd_pull,   &ctl_cmd_images, &ctl_cmd_inspect, &ctl_cmd_rmi,   &ctl_cmd_prune,
  &ctl_cmd_import, &ctl_cmd_export, &ctl_cmd_image,   &ctl_cmd_layer,
};
#define N_COMMANDS (sizeof (commands) / sizeof (commands[0]))

static void
help (FILE *f)
{
  fprintf (f, "usage: berthctl [OPTIONS] COMMAND [ARGS]\n\n"
              "options:\n"
              "  --root DIR                image store (default " BERTH_IMAGE_DEFAULT_ROOT ")\n"
              "  --auth-file FILE          registry credentials, docker's config.json format\n"
              "                            (default $BERTH_AUTH_FILE, $DOCKER_CONFIG/config.json,\n"
              "                            ~/.docker/config.json)\n"
              "  --registries-config FILE  {\"insecure-registries\": [\"host:port\"]}\n"
              "                            (default /etc/berth/registries.json)\n"
              "  --ca-file FILE            extra CA certificates for HTTPS registries\n"
              "  --version                 print the version\n\n"
              "commands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (!commands[i]->hidden)
      fprintf (f, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
}

static const char *
default_auth_file (void)
{
  static char buf[4096];
  const char *v = getenv ("BERTH_AUTH_FILE");

  if (v && v[0])
    return v;
  if ((v = getenv ("DOCKER_CONFIG")) && v[0])
    snprintf (buf, sizeof (buf), "%s/config.json", v);
  else if ((v = getenv ("HOME")) && v[0])
    snprintf (buf, sizeof (buf), "%s/.docker/config.json", v);
  else
    return NULL;
  return buf;
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "root", required_argument, NULL, 'r' },
    { "auth-file", required_argument, NULL, 'a' },
    { "registries-config", required_argument, NULL, 'c' },
    { "ca-file", required_argument, NULL, 'C' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  struct ctl ctl = { .root = BERTH_IMAGE_DEFAULT_ROOT, .registries_conf = "/etc/berth/registries.json" };
  int c;

  ctl.auth_file = default_auth_file ();
  while ((c = getopt_long (argc, argv, "+h", opts, NULL)) != -1)
    switch (c)
      {
      case 'r':
        ctl.root = optarg;
        break;
      case 'a':
        ctl.auth_file = optarg;
        break;
      case 'c':
        ctl.registries_conf = optarg;
        break;
      case 'C':
        ctl.ca_file = optarg;
        break;
      case 'h':
        help (stdout);
        return 0;
      case 'V':
        printf ("berthctl version %s\n", BERTH_VERSION);
        return 0;
      default:
        help (stderr);
        return 2;
      }
  if (optind >= argc)
    {
      help (stderr);
      return 2;
    }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp (commands[i]->name, argv[optind]) == 0)
      {
        int sub_argc = argc - optind;
        char **sub_argv = argv + optind;
        optind = 0; /* glibc: 0 re-initialises getopt for the verb's own argv */
        return commands[i]->run (&ctl, sub_argc, sub_argv);
      }
  fprintf (stderr, "berthctl: unknown command \"%s\"\n", argv[optind]);
  help (stderr);
  return 2;
}
