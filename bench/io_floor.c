// The I/O a build cannot avoid, measured alone: reading every content file, and writing every file
// of a finished output tree again (each as almanac writes it: a new NAME.tmp, write, close, rename).
// The bytes are in memory before the clocks start, so what is timed is the kernel's part and a few
// calls per file: a lower bound for `almanac build` on the same machine, with the same threads.
//
// usage: io_floor CONTENT_DIR OUTPUT_TREE SCRATCH_DIR THREADS   (io_floor.py builds and runs it)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct file {
    char* path;  // relative to the tree
    char* bytes;
    size_t size;
};

static struct file* files;
static size_t count, capacity;
static size_t root_length;
static int keep_bytes;

static int add(const char* path, const struct stat* st, int type, struct FTW* ftw) {
    (void)ftw;
    if (type != FTW_F) return 0;
    if (count == capacity) {
        capacity = capacity ? 2 * capacity : 1024;
        files = realloc(files, capacity * sizeof *files);
        if (!files) abort();
    }
    struct file* f = &files[count++];
    f->path = strdup(path + root_length + 1);
    f->size = (size_t)st->st_size;
    f->bytes = NULL;
    if (keep_bytes) {
        f->bytes = malloc(f->size + 1);
        const int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (!f->bytes || fd < 0 || read(fd, f->bytes, f->size) != (ssize_t)f->size) {
            perror(path);
            exit(1);
        }
        close(fd);
    }
    return 0;
}

static void list(const char* root, int with_bytes) {
    free(files);
    files = NULL;
    count = capacity = 0;
    root_length = strlen(root);
    keep_bytes = with_bytes;
    if (nftw(root, add, 64, FTW_PHYS) != 0) {
        perror(root);
        exit(1);
    }
}

static atomic_size_t next;
static const char* base;

static void* read_worker(void* arg) {
    (void)arg;
    char* buffer = malloc(1 << 20);
    for (size_t i; (i = atomic_fetch_add(&next, 1)) < count;) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", base, files[i].path);
        const int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        while (read(fd, buffer, 1 << 20) > 0) {
        }
        close(fd);
    }
    free(buffer);
    return NULL;
}

static void* write_worker(void* arg) {
    (void)arg;
    for (size_t i; (i = atomic_fetch_add(&next, 1)) < count;) {
        char path[4096], tmp[4200];
        snprintf(path, sizeof path, "%s/%s", base, files[i].path);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, files[i].bytes, files[i].size) != (ssize_t)files[i].size || close(fd) != 0 ||
            rename(tmp, path) != 0) {
            perror(tmp);
            exit(1);
        }
    }
    return NULL;
}

static double seconds(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

// `prepare` (when given) runs first, on the clock: the folders a write needs.
static void timed(const char* what, void (*prepare)(void), void* (*worker)(void*), int threads, size_t bytes) {
    struct rusage before, after;
    struct timespec start, end;
    atomic_store(&next, 0);
    getrusage(RUSAGE_SELF, &before);
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (prepare) prepare();
    pthread_t ids[64];
    for (int t = 0; t < threads; ++t) pthread_create(&ids[t], NULL, worker, NULL);
    for (int t = 0; t < threads; ++t) pthread_join(ids[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &end);
    getrusage(RUSAGE_SELF, &after);
    const double wall = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    const double user = seconds(after.ru_utime) - seconds(before.ru_utime);
    const double sys = seconds(after.ru_stime) - seconds(before.ru_stime);
    printf("%s %zu files %.1f MB wall %.3f user %.3f sys %.3f\n", what, count, (double)bytes / 1e6, wall, user, sys);
}

// Every folder of the tree made under `base`, as the build makes its output folders.
static void make_folders(void) {
    for (size_t i = 0; i < count; ++i) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", base, files[i].path);
        for (char* p = path + strlen(base) + 1; (p = strchr(p, '/')); ++p) {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                perror(path);
                exit(1);
            }
            *p = '/';
        }
    }
}

int main(int argc, char** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: io_floor CONTENT_DIR OUTPUT_TREE SCRATCH_DIR THREADS\n");
        return 2;
    }
    const int threads = atoi(argv[4]);
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "io_floor: THREADS must be 1 to 64\n");
        return 2;
    }

    list(argv[1], 0);
    size_t bytes = 0;
    for (size_t i = 0; i < count; ++i) bytes += files[i].size;
    base = argv[1];
    timed("read", NULL, read_worker, threads, bytes);

    list(argv[2], 1);
    bytes = 0;
    for (size_t i = 0; i < count; ++i) bytes += files[i].size;
    if (mkdir(argv[3], 0755) != 0) {
        perror(argv[3]);
        return 1;
    }
    base = argv[3];
    timed("write", make_folders, write_worker, threads, bytes);
    return 0;
}
