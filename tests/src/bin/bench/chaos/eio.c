/* The chaos run's journal faults, loaded into the agent with LD_PRELOAD. The
 * file that SYSLANE_CHAOS_EIO names holds "PROBABILITY DELAY_MS": the calls the
 * journal makes on its segment files through the C library (positioned reads
 * and syncs) fail with EIO at that probability ("0" stops it), and its syncs
 * first wait DELAY_MS (so that a kill lands during one); only files whose path
 * holds "/journal/" are touched. The journal's writes are raw system calls (rustix),
 * which no preload reaches; their failure path is the one a full disk drives.
 *
 * Every real function is looked up in the constructor, before the program has
 * threads: a lookup on first use, from several threads and during dlopen, can
 * deadlock in the dynamic linker. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static ssize_t (*real_pread64)(int, void *, size_t, off_t);
static ssize_t (*real_preadv)(int, const struct iovec *, int, off_t);
static ssize_t (*real_preadv64)(int, const struct iovec *, int, off_t);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);

static const char *control;
static atomic_uint permille;
static atomic_uint delay_ms;
static atomic_llong next_check_ns;

__attribute__((constructor)) static void init(void) {
    real_pread64 = dlsym(RTLD_NEXT, "pread64");
    real_preadv = dlsym(RTLD_NEXT, "preadv");
    real_preadv64 = dlsym(RTLD_NEXT, "preadv64");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    control = getenv("SYSLANE_CHAOS_EIO");
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Reads the control file at most every 50 ms. */
static void refresh(void) {
    if (!control)
        return;
    long long now = now_ns();
    long long due = atomic_load(&next_check_ns);
    if (now >= due && atomic_compare_exchange_strong(&next_check_ns, &due, now + 50000000LL)) {
        char text[32] = {0};
        int fd = open(control, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, text, sizeof text - 1);
            close(fd);
            if (n > 0) {
                char *rest = text;
                double p = strtod(text, &rest);
                long d = strtol(rest, NULL, 10);
                atomic_store(&permille, p <= 0 ? 0u : p >= 1 ? 1000u : (unsigned)(p * 1000));
                atomic_store(&delay_ms, d > 0 && d < 60000 ? (unsigned)d : 0u);
            }
        }
    }
}

static int in_journal(int fd) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = 0;
    return strstr(path, "/journal/") != NULL;
}

static int fails(int fd) {
    refresh();
    unsigned p = atomic_load(&permille);
    if (p == 0 || !in_journal(fd))
        return 0;
    static _Thread_local uint64_t state;
    if (state == 0)
        state = (uint64_t)now_ns() ^ ((uint64_t)(uintptr_t)&state << 16) ^ 0x9e3779b97f4a7c15ULL;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (state % 1000) < p;
}

ssize_t pread64(int fd, void *buf, size_t count, off_t offset) {
    if (fails(fd)) {
        errno = EIO;
        return -1;
    }
    return real_pread64(fd, buf, count, offset);
}

ssize_t pread(int fd, void *buf, size_t count, off_t offset) {
    return pread64(fd, buf, count, offset);
}

ssize_t preadv(int fd, const struct iovec *iov, int n, off_t offset) {
    if (fails(fd)) {
        errno = EIO;
        return -1;
    }
    return real_preadv(fd, iov, n, offset);
}

ssize_t preadv64(int fd, const struct iovec *iov, int n, off_t offset) {
    if (fails(fd)) {
        errno = EIO;
        return -1;
    }
    return real_preadv64(fd, iov, n, offset);
}

static void slow_sync(int fd) {
    refresh();
    unsigned d = atomic_load(&delay_ms);
    if (d > 0 && in_journal(fd)) {
        struct timespec t = {d / 1000, (long)(d % 1000) * 1000000L};
        nanosleep(&t, NULL);
    }
}

int fdatasync(int fd) {
    slow_sync(fd);
    if (fails(fd)) {
        errno = EIO;
        return -1;
    }
    return real_fdatasync(fd);
}

int fsync(int fd) {
    slow_sync(fd);
    if (fails(fd)) {
        errno = EIO;
        return -1;
    }
    return real_fsync(fd);
}
