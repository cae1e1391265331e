/* out_path.h: checks of output paths before any work, so that a command never computes for minutes and then fails
 * on a missing directory. Used by measure, forward, theory, spectrum and diffeo. */
#pragma once

/* A file to be written at path: refused when path is empty or a directory, or when its directory does not exist,
 * is not a directory, or is not writable. An existing non-regular target (/dev/null, a FIFO) and "-" pass.
 * Returns 0, or 1 after printing "relstab CMD: FLAG PATH: ..." on stderr. */
int cli_check_out_file(const char *cmd, const char *flag, const char *path);
/* A directory to be created (with its parents) or written into: the nearest existing ancestor must be a writable
 * directory (and path itself, when it exists, a directory). Returns 0 or 1 after the message. */
int cli_check_out_dir(const char *cmd, const char *flag, const char *path);
