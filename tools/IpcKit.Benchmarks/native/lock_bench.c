// C baselines for the lock rows of 'ipckit bench sem': a robust process-shared pthread mutex and flock(2), measured the
// same way as IpcKit's NamedLock (LockChildren.cs). Usage: lock_bench uncontended|handoff|takeover pthread|flock COUNT
//   uncontended: one process locks and unlocks COUNT times; each pair is timed.
//   handoff:     two processes (fork) pass the lock back and forth. The waiter announces itself and blocks in lock();
//                the holder lets it fall asleep (1 ms), stamps the time and unlocks; the waiter stamps the time it got
//                the lock. Latency = the two stamps' difference, recorded by the parent on the turns it waits.
//   takeover:    COUNT rounds: a holder process takes the lock, a waiter process announces itself and blocks in lock(),
//                and after 2 ms the parent kills the holder with SIGKILL. Latency = from the kill to the waiter's lock()
//                returning (EOWNERDEAD for the robust mutex).
// Prints the harness's RESULT line.
//   lock_bench hold PATH: the C holder of the NamedLock takeover row. Holds lease 0 of the IpcKit lock file PATH as
//                docs/locks.md describes (the lifecycle byte shared and the lease's byte exclusively, with
//                open-file-description locks, and its pid in the lease's slot), prints READY and waits to be killed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
    pthread_mutex_t mutex;
    sem_t ready;   // posted by the waiter once it is about to block
    sem_t turn;    // posted by the new holder once it has the lock
    long long released_at;
    long long acquired_at; // takeover: when the waiter's lock() returned
};

static struct shared *s;
static int use_flock, lock_fd = -1;
static char lock_path[64];

static long long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
static int compare(const void *a, const void *b) { long long x = *(const long long *)a, y = *(const long long *)b; return (x > y) - (x < y); }

static void take(void) {
    if (use_flock) { while (flock(lock_fd, LOCK_EX) != 0 && errno == EINTR) {} return; }
    int rc = pthread_mutex_lock(&s->mutex);
    if (rc == EOWNERDEAD) pthread_mutex_consistent(&s->mutex);
}

static void give(void) {
    if (use_flock) flock(lock_fd, LOCK_UN);
    else pthread_mutex_unlock(&s->mutex);
}

static void open_lock(void) {
    if (!use_flock) return;
    lock_fd = open(lock_path, O_RDWR | O_CLOEXEC);
    if (lock_fd < 0) { perror("open"); exit(5); }
}

static void report(long long *samples, long n, double seconds) {
    qsort(samples, n, sizeof samples[0], compare);
    printf("RESULT {\"messages\":%ld,\"bytes\":0,\"seconds\":%.6f,\"cpuSeconds\":0,\"allocatedBytes\":0,\"errors\":0,"
           "\"latency\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"count\":%ld}}\n",
           n, seconds, samples[n / 2] / 1e3, samples[n * 99 / 100] / 1e3, samples[n * 999 / 1000] / 1e3, samples[n - 1] / 1e3, n);
}

static int lock_byte(int fd, int command, short type, off_t offset) {
    struct flock description;
    memset(&description, 0, sizeof description);
    description.l_type = type;
    description.l_whence = SEEK_SET;
    description.l_start = offset;
    description.l_len = 1;
    return fcntl(fd, command, &description);
}

static int hold_ipckit_lock(const char *path) {
    const off_t slot = 64; // lease 0
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 5; }
    if (lock_byte(fd, F_OFD_SETLKW, F_RDLCK, 0) != 0) { perror("lifecycle byte"); return 5; }
    if (lock_byte(fd, F_OFD_SETLK, F_WRLCK, slot) != 0) { perror("lease byte"); return 5; }
    int pid = getpid();
    if (pwrite(fd, &pid, sizeof pid, slot) != sizeof pid) { perror("pwrite"); return 5; }
    printf("READY\n");
    fflush(stdout);
    for (;;) pause();
}

// One takeover round; returns nanoseconds from the kill of the holder to the waiter holding the lock.
static long long takeover_round(void) {
    pid_t holder = fork();
    if (holder == 0) { open_lock(); take(); sem_post(&s->ready); for (;;) pause(); }
    sem_wait(&s->ready);
    pid_t waiter = fork();
    if (waiter == 0) {
        open_lock();
        sem_post(&s->turn);
        take();
        __atomic_store_n(&s->acquired_at, now_ns(), __ATOMIC_RELEASE);
        give();
        _exit(0);
    }

    sem_wait(&s->turn);
    usleep(2000); // let the waiter fall asleep in lock()
    long long killed = now_ns();
    kill(holder, SIGKILL);
    waitpid(waiter, NULL, 0);
    waitpid(holder, NULL, 0);
    return __atomic_load_n(&s->acquired_at, __ATOMIC_ACQUIRE) - killed;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "hold") == 0) return hold_ipckit_lock(argv[2]);
    if (argc < 4) { fprintf(stderr, "usage: lock_bench uncontended|handoff|takeover pthread|flock COUNT | lock_bench hold PATH\n"); return 2; }
    int handoff = strcmp(argv[1], "handoff") == 0;
    int takeover = strcmp(argv[1], "takeover") == 0;
    use_flock = strcmp(argv[2], "flock") == 0;
    long count = atol(argv[3]), warmup = count / 10;
    s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) { perror("mmap"); return 5; }
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&s->mutex, &attributes);
    sem_init(&s->ready, 1, 0);
    sem_init(&s->turn, 1, 0);
    snprintf(lock_path, sizeof lock_path, "/tmp/ipckit-bench-flock-%d", getpid());
    if (use_flock) { int fd = open(lock_path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600); if (fd < 0) { perror("create"); return 5; } close(fd); }
    long long *samples = malloc(sizeof(long long) * (count + 1));

    if (takeover) {
        long long start = now_ns();
        for (long i = 0; i < count; i++) samples[i] = takeover_round();
        double seconds = (now_ns() - start) / 1e9;
        if (use_flock) unlink(lock_path);
        report(samples, count, seconds);
        return 0;
    }

    if (!handoff) {
        open_lock();
        for (long i = 0; i < warmup; i++) { take(); give(); }
        long long start = now_ns();
        for (long i = 0; i < count; i++) { long long t = now_ns(); take(); give(); samples[i] = now_ns() - t; }
        double seconds = (now_ns() - start) / 1e9;
        if (use_flock) unlink(lock_path);
        report(samples, count, seconds);
        return 0;
    }

    // The parent holds first; turn i is held by the parent when i is even. Each party also waits on alternate turns.
    long total = 2 * (count + warmup);
    open_lock();
    take();
    pid_t child = fork();
    int me = child == 0 ? 1 : 0;
    if (me == 1 && use_flock) { close(lock_fd); open_lock(); }
    long recorded = 0;
    long long start = 0;
    for (long i = 0; i < total; i++) {
        int holder = (int)(i % 2);
        if (i == 2 * warmup) start = now_ns();
        if (me == holder) {
            sem_wait(&s->ready);
            usleep(1000);
            s->released_at = now_ns();
            give();
            sem_wait(&s->turn);
        } else {
            sem_post(&s->ready);
            take();
            long long latency = now_ns() - __atomic_load_n(&s->released_at, __ATOMIC_ACQUIRE);
            if (me == 0 && i >= 2 * warmup) samples[recorded++] = latency;
            sem_post(&s->turn);
        }
    }

    give();
    if (me == 1) _exit(0);
    double seconds = (now_ns() - start) / 1e9;
    waitpid(child, NULL, 0);
    if (use_flock) unlink(lock_path);
    report(samples, recorded, seconds);
    return 0;
}
