/* Files and directories through the C library: stdio and POSIX file I/O,
 * seeking, truncation, directories (create, list, rename, remove), stat,
 * symbolic and hard links, timestamps, and the errno of common failures.
 * Works in the current directory and removes everything it creates. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHECK(expr)                                                          \
    do {                                                                     \
        if (!(expr)) {                                                       \
            printf("FAILED line %d: %s (%s)\n", __LINE__, #expr,            \
                   strerror(errno));                                         \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

/* errno by name: glibc and wasi-libc (musl) word some strerror texts
 * differently (ELOOP), the values' meaning is what must match. */
static const char *errno_name(int e) {
    switch (e) {
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case ENOTEMPTY: return "ENOTEMPTY";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ELOOP: return "ELOOP";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EXDEV: return "EXDEV";
    default: return strerror(e);
    }
}

static void report(const char *what, int rc) {
    if (rc < 0)
        printf("%s: %s\n", what, errno_name(errno));
    else
        printf("%s: ok\n", what);
}

static const char *kind(mode_t m) {
    if (S_ISREG(m)) return "file";
    if (S_ISDIR(m)) return "dir";
    if (S_ISLNK(m)) return "symlink";
    return "other";
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *path) {
    DIR *d = opendir(path);
    CHECK(d != NULL);
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64) {
        char full[512];
        struct stat st;
        const char *k = "dir";
        /* "." and ".." are directories; stat'ing "./.." would also leave
         * the sandbox when listing the preopened directory itself. */
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(full, sizeof full, "%s/%s", path, e->d_name);
            CHECK(lstat(full, &st) == 0);
            k = kind(st.st_mode);
        }
        char *line = malloc(600);
        snprintf(line, 600, "%s (%s)", e->d_name, k);
        names[n++] = line;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    printf("listing of %s:", path);
    for (int i = 0; i < n; i++) {
        printf(" [%s]", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void stdio_files(void) {
    FILE *f = fopen("notes.txt", "w");
    CHECK(f != NULL);
    fprintf(f, "line one\nline two\n");
    for (int i = 0; i < 1000; i++) fprintf(f, "%d,", i);
    fputc('\n', f);
    CHECK(fclose(f) == 0);

    f = fopen("notes.txt", "r");
    CHECK(f != NULL);
    char line[8192];
    CHECK(fgets(line, sizeof line, f) != NULL);
    printf("first line: %s", line);
    CHECK(fseek(f, -6, SEEK_END) == 0);
    printf("tell after seek from end: %ld\n", ftell(f));
    size_t n = fread(line, 1, sizeof line - 1, f);
    line[n] = 0;
    printf("tail (%zu bytes): %s", n, line);
    rewind(f);
    n = fread(line, 1, sizeof line, f);
    printf("whole file: %zu bytes\n", n);
    CHECK(fclose(f) == 0);

    f = fopen("notes.txt", "a");
    CHECK(f != NULL);
    fputs("appended\n", f);
    CHECK(fclose(f) == 0);
    struct stat st;
    CHECK(stat("notes.txt", &st) == 0);
    printf("size after append: %lld\n", (long long)st.st_size);
}

static void posix_files(void) {
    int fd = open("raw.bin", O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, "0123456789", 10) == 10);
    printf("lseek cur: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    CHECK(pwrite(fd, "ab", 2, 3) == 2);
    char buf[32] = {0};
    CHECK(pread(fd, buf, 8, 1) == 8);
    printf("pread: %s\n", buf);
    printf("lseek cur after pread/pwrite: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    CHECK(lseek(fd, 20, SEEK_SET) == 20);
    CHECK(write(fd, "Z", 1) == 1);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("size after write past end: %lld (%s)\n", (long long)st.st_size, kind(st.st_mode));
    CHECK(ftruncate(fd, 4) == 0);
    CHECK(fstat(fd, &st) == 0);
    printf("size after ftruncate: %lld\n", (long long)st.st_size);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    memset(buf, 0, sizeof buf);
    printf("read after truncate: %zd bytes\n", read(fd, buf, sizeof buf));
    printf("contents: %s\n", buf);
    CHECK(posix_fallocate(fd, 0, 4096) == 0);
    CHECK(fstat(fd, &st) == 0);
    printf("size after posix_fallocate: %lld\n", (long long)st.st_size);
    CHECK(fsync(fd) == 0);
    CHECK(fdatasync(fd) == 0);
    int flags = fcntl(fd, F_GETFL);
    printf("append flag: %d\n", (flags & O_APPEND) != 0);
    CHECK(fcntl(fd, F_SETFL, flags | O_APPEND) == 0);
    printf("append flag after F_SETFL: %d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    CHECK(close(fd) == 0);
    report("open O_EXCL existing", open("raw.bin", O_RDWR | O_CREAT | O_EXCL, 0644));
    report("close closed fd", close(fd));
    CHECK(unlink("raw.bin") == 0);
}

static void directories(void) {
    CHECK(mkdir("tree", 0755) == 0);
    CHECK(mkdir("tree/sub", 0755) == 0);
    FILE *f = fopen("tree/a.txt", "w");
    CHECK(f != NULL);
    fputs("A", f);
    fclose(f);
    f = fopen("tree/sub/deep.txt", "w");
    CHECK(f != NULL);
    fclose(f);
    list("tree");
    report("mkdir existing", mkdir("tree", 0755));
    report("rmdir non-empty", rmdir("tree"));
    report("open missing", open("tree/missing", O_RDONLY));
    report("mkdir under a file", mkdir("tree/a.txt/x", 0755));
    report("opendir a file", opendir("tree/a.txt") ? 0 : -1);
    report("unlink a directory", unlink("tree/sub"));
    CHECK(rename("tree/a.txt", "tree/sub/b.txt") == 0);
    CHECK(rename("tree/sub", "tree/moved") == 0);
    list("tree");
    list("tree/moved");
    report("rename missing", rename("tree/nothing", "tree/x"));
    CHECK(unlink("tree/moved/b.txt") == 0);
    CHECK(unlink("tree/moved/deep.txt") == 0);
    CHECK(rmdir("tree/moved") == 0);
    CHECK(rmdir("tree") == 0);
    report("stat removed", access("tree", F_OK));
}

static void links_and_times(void) {
    FILE *f = fopen("target.txt", "w");
    CHECK(f != NULL);
    fputs("through the link\n", f);
    fclose(f);
    CHECK(symlink("target.txt", "link") == 0);
    CHECK(symlink("missing-target", "dangling") == 0);
    char buf[256];
    ssize_t n = readlink("link", buf, sizeof buf - 1);
    CHECK(n >= 0);
    buf[n] = 0;
    printf("readlink: %s\n", buf);
    n = readlink("link", buf, 3);
    printf("readlink into 3 bytes: %zd\n", n);
    report("readlink a file", readlink("target.txt", buf, sizeof buf));
    struct stat st, lst;
    CHECK(stat("link", &st) == 0);
    CHECK(lstat("link", &lst) == 0);
    printf("stat link: %s size %lld; lstat link: %s size %lld\n", kind(st.st_mode),
           (long long)st.st_size, kind(lst.st_mode), (long long)lst.st_size);
    report("stat dangling", stat("dangling", &st));
    report("lstat dangling", lstat("dangling", &st));
    f = fopen("link", "r");
    CHECK(f != NULL);
    CHECK(fgets(buf, sizeof buf, f) != NULL);
    fclose(f);
    printf("read through link: %s", buf);
    report("open O_NOFOLLOW on link", open("link", O_RDONLY | O_NOFOLLOW));

    CHECK(link("target.txt", "hard.txt") == 0);
    CHECK(stat("target.txt", &st) == 0);
    printf("nlink after link: %lu\n", (unsigned long)st.st_nlink);
    report("link onto existing", link("target.txt", "hard.txt"));

    struct timespec times[2] = {{1000000000, 123456789}, {1234567890, 500}};
    CHECK(utimensat(AT_FDCWD, "target.txt", times, 0) == 0);
    CHECK(stat("hard.txt", &st) == 0);
    printf("atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec,
           st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit_a[2] = {{0, UTIME_OMIT}, {42, 0}};
    int fd = open("target.txt", O_RDONLY);
    CHECK(fd >= 0);
    CHECK(futimens(fd, omit_a) == 0);
    CHECK(fstat(fd, &st) == 0);
    close(fd);
    printf("after futimens: atime %lld mtime %lld\n", (long long)st.st_atim.tv_sec,
           (long long)st.st_mtim.tv_sec);
    struct timespec link_times[2] = {{7, 0}, {8, 0}};
    CHECK(utimensat(AT_FDCWD, "link", link_times, AT_SYMLINK_NOFOLLOW) == 0);
    CHECK(lstat("link", &lst) == 0);
    CHECK(stat("link", &st) == 0);
    printf("link mtime %lld, target mtime %lld\n", (long long)lst.st_mtim.tv_sec,
           (long long)st.st_mtim.tv_sec);

    CHECK(unlink("link") == 0);
    CHECK(unlink("dangling") == 0);
    CHECK(unlink("hard.txt") == 0);
    CHECK(unlink("target.txt") == 0);
}

/* More entries than one fd_readdir buffer of wasi-libc holds (32 KiB):
 * the listing continues from a cookie. */
static void many_entries(void) {
    CHECK(mkdir("many", 0755) == 0);
    char path[256], pad[101];
    memset(pad, 'x', 100);
    pad[100] = 0;
    for (int i = 0; i < 300; i++) {
        snprintf(path, sizeof path, "many/%s_%03d", pad, i);
        int fd = open(path, O_WRONLY | O_CREAT, 0644);
        CHECK(fd >= 0);
        close(fd);
    }
    DIR *d = opendir("many");
    CHECK(d != NULL);
    int count = 0, sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        count++;
        sum += atoi(e->d_name + 101);
    }
    rewinddir(d);
    int again = 0;
    while ((e = readdir(d)) != NULL) again++;
    closedir(d);
    printf("many entries: %d, index sum %d, after rewind %d\n", count, sum, again);
    for (int i = 0; i < 300; i++) {
        snprintf(path, sizeof path, "many/%s_%03d", pad, i);
        CHECK(unlink(path) == 0);
    }
    CHECK(rmdir("many") == 0);
}

int main(void) {
    stdio_files();
    posix_files();
    directories();
    links_and_times();
    many_entries();
    CHECK(unlink("notes.txt") == 0);
    list(".");
    printf("done\n");
    return 0;
}
