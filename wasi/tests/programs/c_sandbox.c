/* Sandbox probes, run on wrun only: escapes through "..", absolute paths
 * and symbolic links, changes under a read-only grant, rights that cannot
 * be regained, bad guest pointers and unsupported calls. Each line names a
 * probe and the WASI errno it got. The test gives "." (read-write, with
 * host-made links "hostabs" -> /etc/passwd and "hostrel" -> ../secret.txt
 * and a directory "sub") and "/ro" (read-only, with "existing.txt" and
 * "dir"). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <wasi/api.h>

static const char *name(__wasi_errno_t e) {
    switch (e) {
    case __WASI_ERRNO_SUCCESS: return "SUCCESS";
    case __WASI_ERRNO_BADF: return "BADF";
    case __WASI_ERRNO_FAULT: return "FAULT";
    case __WASI_ERRNO_INVAL: return "INVAL";
    case __WASI_ERRNO_NOENT: return "NOENT";
    case __WASI_ERRNO_NOSYS: return "NOSYS";
    case __WASI_ERRNO_NOTSOCK: return "NOTSOCK";
    case __WASI_ERRNO_NOTCAPABLE: return "NOTCAPABLE";
    case __WASI_ERRNO_NOTDIR: return "NOTDIR";
    case __WASI_ERRNO_EXIST: return "EXIST";
    case __WASI_ERRNO_PERM: return "PERM";
    case __WASI_ERRNO_ISDIR: return "ISDIR";
    default: return "other";
    }
}

#define PROBE(label, call) printf("%s: %s\n", label, name(call))

static const __wasi_rights_t READ = __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK |
                                    __WASI_RIGHTS_FD_FILESTAT_GET;
static const __wasi_rights_t WRITE = __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK;

static __wasi_errno_t open_at(__wasi_fd_t dir, const char *path, __wasi_oflags_t oflags,
                              __wasi_rights_t rights, __wasi_fd_t *out) {
    return __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path, oflags, rights,
                            rights, 0, out);
}

static __wasi_errno_t try_open(__wasi_fd_t dir, const char *path) {
    __wasi_fd_t fd;
    __wasi_errno_t e = open_at(dir, path, 0, READ, &fd);
    if (e == 0) (void)!__wasi_fd_close(fd);
    return e;
}

/* Raw imports, to hand the host pointers no C wrapper would pass. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("fd_write")))
int32_t raw_fd_write(int32_t fd, int32_t iovs, int32_t iovs_len, int32_t nwritten);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open")))
int32_t raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len,
                      int32_t oflags, int64_t base, int64_t inheriting, int32_t fdflags,
                      int32_t opened);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("args_sizes_get")))
int32_t raw_args_sizes_get(int32_t argc, int32_t argv_buf_size);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise")))
int32_t raw_proc_raise(int32_t sig);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("random_get")))
int32_t raw_random_get(int32_t buf, int32_t len);

int main(void) {
    __wasi_fd_t dot = 3, ro = 4;
    __wasi_prestat_t pre;
    char pname[16] = {0};
    if (__wasi_fd_prestat_get(ro, &pre) == 0 && pre.u.dir.pr_name_len < sizeof pname &&
        __wasi_fd_prestat_dir_name(ro, (uint8_t *)pname, pre.u.dir.pr_name_len) == 0)
        printf("fd 4 is the preopen %s\n", pname);

    puts("-- escapes");
    PROBE("open ../secret.txt", try_open(dot, "../secret.txt"));
    PROBE("open sub/../../secret.txt", try_open(dot, "sub/../../secret.txt"));
    PROBE("open /etc/passwd", try_open(dot, "/etc/passwd"));
    PROBE("open hostabs (-> /etc/passwd)", try_open(dot, "hostabs"));
    PROBE("open hostrel (-> ../secret.txt)", try_open(dot, "hostrel"));
    __wasi_filestat_t st;
    PROBE("stat hostrel following", __wasi_path_filestat_get(dot, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "hostrel", &st));
    PROBE("lstat hostrel", __wasi_path_filestat_get(dot, 0, "hostrel", &st));
    printf("lstat hostrel is a symlink: %d\n", st.filetype == __WASI_FILETYPE_SYMBOLIC_LINK);
    PROBE("symlink mylink -> ../secret.txt", __wasi_path_symlink("../secret.txt", dot, "mylink"));
    PROBE("open mylink", try_open(dot, "mylink"));
    PROBE("symlink abslink -> /etc/passwd", __wasi_path_symlink("/etc/passwd", dot, "abslink"));
    PROBE("mkdir ../evil", __wasi_path_create_directory(dot, "../evil"));
    PROBE("mkdir sub/../../evil", __wasi_path_create_directory(dot, "sub/../../evil"));
    PROBE("rename sub -> ../moved", __wasi_path_rename(dot, "sub", dot, "../moved"));
    PROBE("rename ../secret.txt -> stolen", __wasi_path_rename(dot, "../secret.txt", dot, "stolen"));
    PROBE("link ../secret.txt -> stolen", __wasi_path_link(dot, 0, "../secret.txt", dot, "stolen"));
    PROBE("unlink ../secret.txt", __wasi_path_unlink_file(dot, "../secret.txt"));
    PROBE("rmdir ..", __wasi_path_remove_directory(dot, ".."));
    PROBE("rmdir sub/..", __wasi_path_remove_directory(dot, "sub/.."));
    PROBE("open .. as a directory", try_open(dot, ".."));
    PROBE("open sub/.. as a directory", try_open(dot, "sub/.."));
    PROBE("create through mylink/x", __wasi_path_create_directory(dot, "mylink/x"));
    FILE *f = fopen("../secret.txt", "r");
    printf("fopen ../secret.txt: %s\n", f ? "opened" : strerror(errno));
    f = fopen("/etc/passwd", "r");
    printf("fopen /etc/passwd: %s\n", f ? "opened" : strerror(errno));

    puts("-- read-only grant");
    __wasi_fd_t fd;
    char buf[32] = {0};
    __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf - 1};
    __wasi_size_t n = 0;
    PROBE("open existing.txt for reading", open_at(ro, "existing.txt", 0, READ, &fd));
    PROBE("read it", __wasi_fd_read(fd, &iov, 1, &n));
    printf("contents: %s\n", buf);
    __wasi_ciovec_t ciov = {(const uint8_t *)"x", 1};
    PROBE("write to it", __wasi_fd_write(fd, &ciov, 1, &n));
    PROBE("set its size", __wasi_fd_filestat_set_size(fd, 0));
    PROBE("regain rights on it", __wasi_fd_fdstat_set_rights(fd, READ | WRITE, 0));
    PROBE("drop rights on it", __wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_SEEK, 0));
    PROBE("read after dropping", __wasi_fd_read(fd, &iov, 1, &n));
    (void)!__wasi_fd_close(fd);
    __wasi_fd_t nfd;
    PROBE("create new.txt", open_at(ro, "new.txt", __WASI_OFLAGS_CREAT, READ | WRITE, &nfd));
    PROBE("truncate existing.txt", open_at(ro, "existing.txt", __WASI_OFLAGS_TRUNC, READ, &nfd));
    PROBE("open existing.txt for writing", open_at(ro, "existing.txt", 0, WRITE, &nfd));
    PROBE("mkdir d", __wasi_path_create_directory(ro, "d"));
    PROBE("unlink existing.txt", __wasi_path_unlink_file(ro, "existing.txt"));
    PROBE("rmdir dir", __wasi_path_remove_directory(ro, "dir"));
    PROBE("rename existing.txt out", __wasi_path_rename(ro, "existing.txt", dot, "taken.txt"));
    PROBE("rename into it", __wasi_path_rename(dot, "sub", ro, "sub"));
    PROBE("symlink in it", __wasi_path_symlink("existing.txt", ro, "l"));
    PROBE("set times", __wasi_path_filestat_set_times(ro, 0, "existing.txt", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    __wasi_fd_t dfd;
    /* Asks for the right to create files in it: the grant does not hand
     * that right down, so the new fd lacks it. */
    PROBE("open dir", __wasi_path_open(ro, 0, "dir", __WASI_OFLAGS_DIRECTORY,
                                       __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_FD_READDIR |
                                           __WASI_RIGHTS_PATH_CREATE_FILE,
                                       ~0ULL, 0, &dfd));
    PROBE("create inside dir", open_at(dfd, "x", __WASI_OFLAGS_CREAT, READ, &nfd));
    PROBE("regain rights on the grant", __wasi_fd_fdstat_set_rights(ro, ~0ULL, ~0ULL));
    f = fopen("/ro/new.txt", "w");
    printf("fopen /ro/new.txt for writing: %s\n", f ? "opened" : strerror(errno));
    printf("mkdir /ro/x: %s\n", mkdir("/ro/x", 0755) == 0 ? "made" : strerror(errno));

    puts("-- bad pointers and bad fds");
    PROBE("fd_write iovs out of memory", raw_fd_write(1, -16, 1, 1024));
    static __wasi_ciovec_t far = {(const uint8_t *)0x7ffffff0, 64};
    PROBE("fd_write buffer out of memory", raw_fd_write(1, (int32_t)(intptr_t)&far, 1, 1024));
    PROBE("fd_write nwritten out of memory", __wasi_fd_write(1, &ciov, 0, (__wasi_size_t *)-4));
    PROBE("path_open path out of memory", raw_path_open(dot, 0, -8, 100, 0, 0, 0, 0, 1024));
    PROBE("path_open result out of memory", raw_path_open(dot, 0, (int32_t)(intptr_t)"sub", 3, 0, 0, 0, 0, -2));
    PROBE("args_sizes_get out of memory", raw_args_sizes_get(-4, 1024));
    PROBE("random_get out of memory", raw_random_get(-100, 200));
    PROBE("fd_read on fd 99", __wasi_fd_read(99, &iov, 1, &n));
    PROBE("fd_close on fd 99", __wasi_fd_close(99));
    PROBE("path_open on a file fd", try_open(1, "x"));
    PROBE("sock_accept on a directory", __wasi_sock_accept(dot, 0, &nfd));
    PROBE("sock_shutdown on fd 99", __wasi_sock_shutdown(99, __WASI_SDFLAGS_RD));
    PROBE("proc_raise", raw_proc_raise(15));
    PROBE("clock_time_get bad clock", __wasi_clock_time_get(99, 0, (__wasi_timestamp_t *)buf));
    return 0;
}
