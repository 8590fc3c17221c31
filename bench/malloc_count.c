/* Counts the calls to malloc, calloc and realloc of the process it is preloaded into, and writes
 * the count to stderr as "mallocs N" on SIGUSR2 (bench/http_allocations.py). Not part of almanac.
 * glibc's own entry points do the work, so no dlsym (which may allocate) is needed. */
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);

static atomic_long calls;

void* malloc(size_t size) {
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    return __libc_malloc(size);
}

void* calloc(size_t n, size_t size) {
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    return __libc_calloc(n, size);
}

void* realloc(void* p, size_t size) {
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    return __libc_realloc(p, size);
}

static void report(int sig) {
    (void)sig;
    char line[64];
    int n = snprintf(line, sizeof line, "mallocs %ld\n", atomic_load(&calls));
    if (write(2, line, (size_t)n) < 0) return;
}

__attribute__((constructor)) static void start(void) { signal(SIGUSR2, report); }
