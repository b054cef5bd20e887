/* berth list: the containers under --root, as a table (runc's Go tabwriter:
 * min width 12, padding 3), as JSON (an array, `null` when empty) or ids. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct berth_flag list_flags[] = {
  { "format, f", BERTH_FLAG_STRING, "select one of: table or json", "table" },
  { "quiet, q", BERTH_FLAG_BOOL, "display only container IDs", NULL },
};

#define N_COLUMNS 6

/* Display width as tabwriter counts it: UTF-8 code points. */
static size_t
text_width (const char *s)
{
  size_t n = 0;

  for (; *s != '\0'; s++)
    if (((unsigned char)*s & 0xc0) != 0x80)
      n++;
  return n;
}

/* The cells of table row `row` (0: the header). */
static void
row_cells (const struct berth_container_info *list, size_t row, char *pid, size_t pid_size,
           const char *cells[N_COLUMNS])
{
  static const char *const header[N_COLUMNS] = { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" };
  const struct berth_container_info *c;

  if (row == 0)
    {
      memcpy (cells, header, sizeof (header));
      return;
    }
  c = &list[row - 1]; /* not before: list may be NULL for the header alone */
  snprintf (pid, pid_size, "%d", (int)c->pid);
  cells[0] = c->id;
  cells[1] = pid;
  cells[2] = berth_status_name (c->status);
  cells[3] = c->bundle;
  cells[4] = c->created;
  cells[5] = c->owner;
  for (size_t i = 0; i < N_COLUMNS; i++)
    if (cells[i] == NULL)
      cells[i] = "";
}

static void
print_table (const struct berth_container_info *list, size_t n)
{
  const char *cells[N_COLUMNS];
  size_t width[N_COLUMNS] = { 0 };
  char pid[24];

  /* A column is as wide as its widest cell plus 3, and at least 12. */
  for (size_t row = 0; row <= n; row++)
    {
      row_cells (list, row, pid, sizeof (pid), cells);
      for (size_t c = 0; c < N_COLUMNS; c++)
        if (text_width (cells[c]) + 3 > width[c])
          width[c] = text_width (cells[c]) + 3;
    }
  for (size_t row = 0; row <= n; row++)
    {
      row_cells (list, row, pid, sizeof (pid), cells);
      for (size_t c = 0; c < N_COLUMNS; c++)
        {
          size_t pad_to = width[c] < 12 ? 12 : width[c];
          fputs (cells[c], stdout);
          /* The last column is not a cell for tabwriter: never padded. */
          for (size_t k = text_width (cells[c]); c + 1 < N_COLUMNS && k < pad_to; k++)
            putchar (' ');
        }
      putchar ('\n');
    }
}

static int
run_list (struct berth_cli *cli, const struct berth_args *args, berth_err *err)
{
  const char *format = berth_cli_flag (&berth_cmd_list, args, "format")->s;
  struct berth_container_info *list = NULL;
  size_t n = 0;
  int ret = 0;

  if (format == NULL)
    format = "table";
  if (berth_container_list (&cli->ctx, &list, &n, err) < 0)
    return -1;
  if (berth_cli_flag (&berth_cmd_list, args, "quiet")->b)
    for (size_t i = 0; i < n; i++)
      printf ("%s\n", list[i].id);
  else if (strcmp (format, "table") == 0)
    print_table (list, n);
  else if (strcmp (format, "json") == 0)
    {
      /* Go encodes an empty slice of runc's list as null. */
      json_t *array = n > 0 ? json_array () : json_null ();
      for (size_t i = 0; i < n; i++)
        json_array_append_new (array, berth_container_info_to_json (&list[i]));
      ret = berth_cli_print_json (array, 0, true, err);
      json_decref (array);
    }
  else
    ret = berth_fail (err, 0, "invalid format option");
  berth_container_info_list_free (list, n);
  return ret < 0 ? -1 : 0;
}

const struct berth_cli_command berth_cmd_list = {
  .name = "list",
  .summary = "lists containers started by berth with the given root",
  .usage = "\n\n"
           "Where the given root is specified via the global option \"--root\"\n"
           "(default: \"" BERTH_DEFAULT_ROOT "\").\n\n"
           "EXAMPLE 1:\n"
           "To list containers created via the default \"--root\":\n"
           "       # berth list\n\n"
           "EXAMPLE 2:\n"
           "To list containers created using a non-default value for \"--root\":\n"
           "       # berth --root value list",
  .flags = list_flags,
  .n_flags = BERTH_N_FLAGS (list_flags),
  .min_args = 0,
  .max_args = 0,
  .run = run_list,
};
