#ifndef WHARF_FUZZ_DRIVER_H
#define WHARF_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// One fuzz input: returns 0 (libFuzzer's convention); a bug traps.
typedef int (*wharf_fuzz_callback)(const uint8_t *data, size_t size);

/// The `main` of every Wharf fuzz harness.
///
/// Linked with libFuzzer (`-sanitize=fuzzer`), it hands over to libFuzzer's driver with all arguments, so the
/// binary takes libFuzzer's options and corpus folders. Linked without it (a normal `swift build`), it replays each
/// file argument — or every file in each folder argument — through `callback` once and prints how many it ran:
/// a quick regression run of a corpus or a crash file in a debugger-friendly build.
int wharf_fuzz_main(int argc, char **argv, wharf_fuzz_callback callback);

#endif
