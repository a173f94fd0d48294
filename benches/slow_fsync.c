/* An LD_PRELOAD shim for the benchmarks: counts fsync and fdatasync calls of the process it is
 * loaded into and, when SLOW_FSYNC_MS is set, makes each one take that much longer (a slow
 * disk, without changing the library). With SLOW_FSYNC_MATCH set, only the syncs of files
 * whose path contains it are slowed (and counted apart): the journal's, not the videos'. At
 * exit it writes "fsyncs=N" and "matched=M" to the file named by SLOW_FSYNC_COUNT_FILE, if set.
 *
 *   gcc -O2 -shared -fPIC -o libslow_fsync.so benches/slow_fsync.c -ldl
 *   SLOW_FSYNC_MS=5 SLOW_FSYNC_COUNT_FILE=/tmp/n LD_PRELOAD=./libslow_fsync.so program ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long calls, matched;
static long delay_ns = -1;

/* True when fd's file is one to slow down: every file, or those SLOW_FSYNC_MATCH names. */
static int matches(int fd) {
    const char *want = getenv("SLOW_FSYNC_MATCH");
    if (!want || !*want) return 1;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) return 0;
    path[n] = 0;
    return strstr(path, want) != NULL;
}

static void slow_down(int fd) {
    atomic_fetch_add(&calls, 1);
    if (!matches(fd)) return;
    atomic_fetch_add(&matched, 1);
    if (delay_ns < 0) {
        const char *ms = getenv("SLOW_FSYNC_MS");
        delay_ns = ms ? (long)(atof(ms) * 1e6) : 0;
    }
    if (delay_ns > 0) {
        struct timespec t = {delay_ns / 1000000000L, delay_ns % 1000000000L};
        while (nanosleep(&t, &t) != 0) {
        }
    }
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int r = real(fd);
    slow_down(fd);
    return r;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int r = real(fd);
    slow_down(fd);
    return r;
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("SLOW_FSYNC_COUNT_FILE");
    if (!path) return;
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "fsyncs=%ld\nmatched=%ld\n", atomic_load(&calls), atomic_load(&matched));
    fclose(f);
}
