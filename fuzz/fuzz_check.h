/* fuzz_check.h - CHECK(c): a property a fuzz target asserts. A failed check traps, so libFuzzer
 * reports it as a crash and keeps the input (assert() would vanish under NDEBUG). */
#ifndef CF_FUZZ_CHECK_H
#define CF_FUZZ_CHECK_H

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#endif
