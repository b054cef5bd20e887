/* Help and version output, laid out as urfave/cli v1 (runc's parser) does:
 * sections NAME / USAGE / DESCRIPTION / OPTIONS, option columns aligned two
 * spaces past the widest name. */
#include "cli/cli.h"

#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BERTH_COMMIT
#define BERTH_COMMIT "unknown"
#endif

/* "--bundle value, -b value" for a flag (urfave's FlagStringer). */
static void
flag_names (const struct berth_flag *flag, char *out, size_t size)
{
  const char *p = flag->names;
  size_t n = 0;

  out[0] = '\0';
  while (*p != '\0' && n < size)
    {
      while (*p == ' ' || *p == ',')
        p++;
      size_t len = strcspn (p, ", ");
      if (len == 0)
        break;
      n += snprintf (out + n, size - n, "%s%s%.*s%s", n > 0 ? ", " : "", len == 1 ? "-" : "--", (int)len, p,
                     flag->type == BERTH_FLAG_BOOL ? "" : " value");
      p += len;
    }
}

static void
print_flag_table (const struct berth_flag *flags, size_t n_flags, bool with_help_version)
{
  char names[128];
  size_t width = 0;
  size_t n_rows = n_flags + (with_help_version ? 2 : 0);

  for (size_t i = 0; i < n_flags; i++)
    {
      flag_names (&flags[i], names, sizeof (names));
      if (strlen (names) > width)
        width = strlen (names);
    }
  if (with_help_version && width < strlen ("--version, -v"))
    width = strlen ("--version, -v");
  for (size_t i = 0; i < n_rows; i++)
    {
      if (i < n_flags)
        {
          const struct berth_flag *f = &flags[i];
          bool quote = f->type == BERTH_FLAG_STRING;
          flag_names (f, names, sizeof (names));
          printf ("   %-*s  %s", (int)width, names, f->usage);
          if (f->default_text != NULL)
            printf (quote ? " (default: \"%s\")" : " (default: %s)", f->default_text);
        }
      else if (i == n_flags)
        printf ("   %-*s  %s", (int)width, "--help, -h", "show help");
      else
        printf ("   %-*s  %s", (int)width, "--version, -v", "print the version");
      putchar ('\n');
    }
}

void
berth_cli_print_version (void)
{
  const struct scmp_version *v = seccomp_version ();

  printf ("berth version %s\ncommit: %s\nspec: %s\n", BERTH_VERSION, BERTH_COMMIT, BERTH_OCI_VERSION);
  if (v != NULL)
    printf ("libseccomp: %u.%u.%u\n", v->major, v->minor, v->micro);
}

void
berth_cli_print_command_help (const struct berth_cli *cli, const struct berth_cli_command *cmd)
{
  printf ("NAME:\n   berth %s - %s\n\n", cmd->name, cmd->summary);
  printf ("USAGE:\n   berth %s%s %s\n", cmd->name, cmd->n_flags > 0 ? " [command options]" : "",
          cmd->usage != NULL ? cmd->usage : "[arguments...]");
  if (cmd->description != NULL)
    printf ("\nDESCRIPTION:\n   %s\n", cmd->description);
  if (cmd->n_flags > 0)
    {
      printf ("\nOPTIONS:\n");
      print_flag_table (cmd->flags, cmd->n_flags, false);
      printf ("   \n");
    }
}

/* Global flags, declared in main.c's order; help and version are added. */
extern const struct berth_flag berth_global_flags[];
extern const size_t berth_n_global_flags;

void
berth_cli_print_app_help (const struct berth_cli *cli, const struct berth_cli_command *const *commands,
                          size_t n_commands)
{
  size_t width = strlen ("help, h");

  printf ("NAME:\n   berth - Open Container Initiative runtime\n\n");
  printf ("berth is a command line client for running applications packaged according to\n"
          "the Open Container Initiative (OCI) format and is a compliant implementation of the\n"
          "Open Container Initiative specification, with runc's command line.\n\n"
          "To start a new instance of a container:\n\n"
          "    # berth run [ -b bundle ] <container-id>\n\n");
  printf ("USAGE:\n   berth [global options] command [command options] [arguments...]\n\n");
  printf ("VERSION:\n   %s\ncommit: %s\nspec: %s\n\n", BERTH_VERSION, BERTH_COMMIT, BERTH_OCI_VERSION);
  printf ("COMMANDS:\n");
  for (size_t i = 0; i < n_commands; i++)
    if (strlen (commands[i]->name) > width)
      width = strlen (commands[i]->name);
  for (size_t i = 0; i < n_commands; i++)
    printf ("   %-*s  %s\n", (int)width, commands[i]->name, commands[i]->summary);
  printf ("   %-*s  %s\n", (int)width, "help, h", "Shows a list of commands or help for one command");
  printf ("\nGLOBAL OPTIONS:\n");
  print_flag_table (berth_global_flags, berth_n_global_flags, true);
}
