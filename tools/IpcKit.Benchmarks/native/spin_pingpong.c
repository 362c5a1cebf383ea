// C baseline: round trips through shared memory with both sides spinning (the physical floor for a busy-spin
// ring ping-pong), each round trip timed. Usage: spin_pingpong COUNT
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
static int compare(const void *a, const void *b) { long long x = *(const long long *)a, y = *(const long long *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    long count = argc > 1 ? atol(argv[1]) : 1000000, warmup = 10000;
    _Atomic long *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    _Atomic long *ping = &shared[0], *pong = &shared[32];
    pid_t child = fork();
    if (child == 0) { for (long i = 1; i <= count + warmup; i++) { while (atomic_load(ping) != i) { } atomic_store(pong, i); } _exit(0); }
    long long *samples = malloc(sizeof(long long) * count);
    long long start = 0;
    for (long i = 1; i <= count + warmup; i++) {
        if (i == warmup + 1) start = now_ns();
        long long t = now_ns();
        atomic_store(ping, i);
        while (atomic_load(pong) != i) { }
        if (i > warmup) samples[i - warmup - 1] = now_ns() - t;
    }
    double seconds = (now_ns() - start) / 1e9;
    waitpid(child, NULL, 0);
    qsort(samples, count, sizeof samples[0], compare);
    printf("RESULT {\"messages\":%ld,\"bytes\":0,\"seconds\":%.6f,\"cpuSeconds\":0,\"allocatedBytes\":0,\"errors\":0,"
           "\"latency\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"count\":%ld}}\n",
           count, seconds, samples[count / 2] / 1e3, samples[count * 99 / 100] / 1e3, samples[count * 999 / 1000] / 1e3, samples[count - 1] / 1e3, count);
    return 0;
}
