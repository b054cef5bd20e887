/* libFuzzer target: the state.json loader (berth_state_load), then a save
 * and a second load of what it read.  The input is written to state.json in
 * a private temporary directory (the loader takes a dirfd). */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/state.h"
#include "util/error.h"

static int in_dir = -1, out_dir = -1;

static int
make_dir (void)
{
  char tmpl[] = "/dev/shm/berth-fuzz-state-XXXXXX";
  if (mkdtemp (tmpl) == NULL)
    abort ();
  return open (tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  in_dir = make_dir ();
  out_dir = make_dir ();
  if (in_dir < 0 || out_dir < 0)
    abort ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  berth_err err = NULL;
  struct berth_state *st, *again;
  int fd = openat (in_dir, "state.json", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if (fd < 0 || (size > 0 && write (fd, data, size) != (ssize_t)size))
    abort ();
  close (fd);
  st = berth_state_load (in_dir, "fuzz", &err);
  if (st == NULL)
    {
      if (err == NULL)
        __builtin_trap ();
      berth_err_free (&err);
      return 0;
    }
  if (berth_state_save (out_dir, st, &err) == 0)
    {
      again = berth_state_load (out_dir, "fuzz", &err);
      berth_state_free (again);
    }
  berth_err_free (&err);
  berth_state_free (st);
  return 0;
}
