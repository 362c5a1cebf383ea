// C baseline: round trips through two POSIX named semaphores between two processes (fork), each round trip timed,
// percentiles reported in the harness's RESULT format. Usage: sem_pingpong COUNT
#define _GNU_SOURCE
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
static int compare(const void *a, const void *b) { long long x = *(const long long *)a, y = *(const long long *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    long count = argc > 1 ? atol(argv[1]) : 50000, warmup = count / 10 < 2000 ? count / 10 : 2000;
    char a[64], b[64];
    snprintf(a, sizeof a, "/ipckit-bench-c-%d-a", getpid());
    snprintf(b, sizeof b, "/ipckit-bench-c-%d-b", getpid());
    sem_t *ping = sem_open(a, O_CREAT | O_EXCL, 0600, 0), *pong = sem_open(b, O_CREAT | O_EXCL, 0600, 0);
    if (ping == SEM_FAILED || pong == SEM_FAILED) { perror("sem_open"); return 5; }
    sem_unlink(a);
    sem_unlink(b);
    pid_t child = fork();
    if (child == 0) { for (long i = 0; i < count + warmup; i++) { sem_wait(ping); sem_post(pong); } _exit(0); }
    long long *samples = malloc(sizeof(long long) * count);
    for (long i = 0; i < warmup; i++) { sem_post(ping); sem_wait(pong); }
    long long start = now_ns();
    for (long i = 0; i < count; i++) { long long t = now_ns(); sem_post(ping); sem_wait(pong); samples[i] = now_ns() - t; }
    double seconds = (now_ns() - start) / 1e9;
    waitpid(child, NULL, 0);
    qsort(samples, count, sizeof samples[0], compare);
    printf("RESULT {\"messages\":%ld,\"bytes\":0,\"seconds\":%.6f,\"cpuSeconds\":0,\"allocatedBytes\":0,\"errors\":0,"
           "\"latency\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"count\":%ld}}\n",
           count, seconds, samples[count / 2] / 1e3, samples[count * 99 / 100] / 1e3, samples[count * 999 / 1000] / 1e3, samples[count - 1] / 1e3, count);
    return 0;
}
