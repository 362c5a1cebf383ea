// A C program that uses an IpcKit lock file as docs/locks.md describes, for the interop tests.
// Usage: lock_peer PATH LEASE ofd|classic
//   ofd:     holds the lifecycle byte shared and the lease's byte exclusively with open-file-description locks and
//            writes its pid into the lease's slot, as IpcKit does;
//   classic: takes the lease's byte with a classic fcntl lock (what lockf(3) and Python's fcntl.lockf do) and writes
//            nothing.
// Prints HOLDING (or BUSY and exits 1 if the lease is taken), then waits for a line on stdin; "release" releases the
// lease the documented way (slot cleared first) and prints RELEASED.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int lock_byte(int fd, int command, short type, off_t offset) {
    struct flock description;
    memset(&description, 0, sizeof description);
    description.l_type = type;
    description.l_whence = SEEK_SET;
    description.l_start = offset;
    description.l_len = 1;
    return fcntl(fd, command, &description);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: lock_peer PATH LEASE ofd|classic\n"); return 2; }
    int classic = strcmp(argv[3], "classic") == 0;
    off_t slot = 64 + 16 * (off_t)atoi(argv[2]);
    int fd = open(argv[1], O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 5; }
    if (!classic && lock_byte(fd, F_OFD_SETLKW, F_RDLCK, 0) != 0) { perror("lifecycle byte"); return 5; }
    if (lock_byte(fd, classic ? F_SETLK : F_OFD_SETLK, F_WRLCK, slot) != 0) { printf("BUSY\n"); fflush(stdout); return 1; }
    int pid = getpid(), zero = 0;
    if (!classic && pwrite(fd, &pid, sizeof pid, slot) != sizeof pid) { perror("pwrite"); return 5; }
    printf("HOLDING %d\n", pid);
    fflush(stdout);
    char line[64];
    if (fgets(line, sizeof line, stdin) != NULL && strncmp(line, "release", 7) == 0) {
        if (!classic && pwrite(fd, &zero, sizeof zero, slot) != sizeof zero) { perror("pwrite"); return 5; }
        lock_byte(fd, classic ? F_SETLK : F_OFD_SETLK, F_UNLCK, slot);
        printf("RELEASED\n");
        fflush(stdout);
    }

    return 0;
}
