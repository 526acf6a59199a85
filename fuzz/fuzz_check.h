// Invariant checks for the fuzz targets: a failed check prints which
// invariant broke (never the input: libFuzzer saves that as the crash file)
// and aborts, which libFuzzer reports as a crash.
#ifndef LEADVAULT_FUZZ_FUZZ_CHECK_H_
#define LEADVAULT_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

#endif  // LEADVAULT_FUZZ_FUZZ_CHECK_H_
