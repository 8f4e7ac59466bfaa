/* Corpus replay for the fuzz targets: the same inputs as a plain test in every build. */
#ifndef DEMI_TESTS_FUZZ_REPLAY_H
#define DEMI_TESTS_FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* The target under test, as libFuzzer calls it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Feeds every file named in argv[1..argc-1] to the target, descending into
 * directories; a file is read up to 1 MiB. Sets *count to the files run.
 * Returns 0, or -1 when a path could not be read.
 */
int fuzz_replay(int argc, char **argv, int *count);

#endif
