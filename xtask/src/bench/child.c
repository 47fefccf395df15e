/* The child process of `cargo xtask bench core`, compiled at bench time with `cc -O2`.
 *
 *   child restart FILE
 *       appends "S <ns>\n" (its start time) and "E <ns>\n" (its exit time) to FILE, then exits 1.
 *   child lines COUNT WIDTH TIMES_FILE
 *       writes COUNT numbered lines to stdout as fast as it can (64 KiB stdio buffer). WIDTH 0: the
 *       line is the number ("1\n", "2\n", ...); WIDTH > 12: the number zero-padded to 10 digits, a
 *       space and 'x' filler, WIDTH bytes with the newline. Then writes "<start ns> <end ns>\n"
 *       (taken around the writing, flush included) to TIMES_FILE.
 *
 * Times are CLOCK_REALTIME nanoseconds, comparable with the bench's own clock.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0) _exit(3);
        buf += n;
        len -= (size_t)n;
    }
}

static int restart_mode(const char *path) {
    long long start = now_ns();
    char buf[64];
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return 2;
    int len = snprintf(buf, sizeof buf, "S %lld\n", start);
    write_all(fd, buf, (size_t)len);
    len = snprintf(buf, sizeof buf, "E %lld\n", now_ns());
    write_all(fd, buf, (size_t)len);
    _exit(1);
}

static int lines_mode(long count, long width, const char *times_path) {
    static char line[65536];
    if (width != 0 && (width <= 12 || width > (long)sizeof line)) return 2;
    if (width > 0) {
        memset(line, 'x', (size_t)width);
        line[10] = ' ';
        line[width - 1] = '\n';
    }
    /* One large buffer: the writer should be limited by the pipe, not by its own syscalls. */
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    long long start = now_ns();
    for (long n = 1; n <= count; n++) {
        if (width == 0) {
            printf("%ld\n", n);
        } else {
            char digits[24];
            snprintf(digits, sizeof digits, "%010ld", n);
            memcpy(line, digits, 10);
            fwrite(line, 1, (size_t)width, stdout);
        }
    }
    if (fflush(stdout) != 0) return 3;
    long long end = now_ns();
    FILE *t = fopen(times_path, "w");
    if (t == NULL) return 2;
    fprintf(t, "%lld %lld\n", start, end);
    return fclose(t) == 0 ? 0 : 2;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "restart") == 0) return restart_mode(argv[2]);
    if (argc == 5 && strcmp(argv[1], "lines") == 0)
        return lines_mode(atol(argv[2]), atol(argv[3]), argv[4]);
    fprintf(stderr, "usage: child restart FILE | child lines COUNT WIDTH TIMES_FILE\n");
    return 2;
}
