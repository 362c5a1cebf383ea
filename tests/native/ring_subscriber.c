// A subscriber of a broadcast ring in C, written from docs/ring-format.md only ("Broadcast"). The tests run it
// against an IpcKit writer, with back-pressure and lossy.
//
//   ring_subscriber NAME COUNT   reads until COUNT messages were received or lost; checks each payload (i64
//                                sequence, then bytes sequence + i) and prints "READ received lost first last"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WRITE_POS 128
#define WRITER_SLEEPING 512
#define LIMIT 896
#define SLEEPING_SLOTS 1024
#define CHECKPOINTS 1152
#define SLOTS_START 4096
#define SLOT_SIZE 128

static uint8_t *base;
static int64_t capacity, header_size;
static int32_t max_message;
static int slot, line;
static sem_t *space_ready, *my_semaphore;
static uint8_t copy[1 << 20];

#define I64(off) ((_Atomic int64_t *)(base + (off)))
#define I32(off) ((_Atomic int32_t *)(base + (off)))

static void fail(const char *what) { fprintf(stderr, "ring_subscriber: %s (errno %d)\n", what, errno); exit(5); }

static int overtaken(int64_t p) { return atomic_load_explicit(I64(LIMIT), memory_order_acquire) - capacity > p; }

// The checkpoint with the smallest (oldest) or largest position within [from, to]; 0 if none.
static int find_checkpoint(int64_t from, int64_t to, int oldest, int64_t *position, int64_t *sequence) {
    int found = 0;
    for (int i = 0; i < 16; i++) {
        int64_t first = atomic_load_explicit(I64(CHECKPOINTS + 16 * i), memory_order_acquire);
        int64_t count = atomic_load_explicit(I64(CHECKPOINTS + 16 * i + 8), memory_order_acquire);
        int64_t second = atomic_load_explicit(I64(CHECKPOINTS + 16 * i), memory_order_acquire);
        if (first != second || first < from || first > to || (first & 7) || count < 0) continue;
        if (!found || (oldest ? first < *position : first > *position)) { *position = first; *sequence = count; found = 1; }
    }
    return found;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: ring_subscriber NAME COUNT\n"); return 2; }
    char path[512], rs[300], mine[300];
    snprintf(path, sizeof path, "/dev/shm/ipckit.ring.%s", argv[1]);
    snprintf(rs, sizeof rs, "/ipckit.%s~rs", argv[1]);
    long wanted = atol(argv[2]);
    int fd = open(path, O_RDWR | O_NOFOLLOW);
    if (fd < 0) fail("cannot open the ring file");
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) { fprintf(stderr, "ring_subscriber: not my private file\n"); return 5; }
    base = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) fail("mmap");
    if (atomic_load_explicit((_Atomic uint64_t *)base, memory_order_acquire) != 0x474E49524B435049ULL) { fprintf(stderr, "not a ring\n"); return 4; }
    int32_t slots = *(int32_t *)(base + 48);
    header_size = *(int32_t *)(base + 12);
    capacity = *(int64_t *)(base + 16);
    max_message = *(int32_t *)(base + 24);
    if (*(int32_t *)(base + 8) != 2 || *(int32_t *)(base + 44) != 2 || slots < 1 || slots > 64
        || header_size != 4096 + ((128 * slots + 4095) & ~4095) || capacity < 4096 || (capacity & (capacity - 1))
        || st.st_size != header_size + capacity || max_message < 1 || max_message > (int)sizeof copy) { fprintf(stderr, "not a broadcast ring\n"); return 4; }
    space_ready = sem_open(rs, 0);
    if (space_ready == SEM_FAILED) fail("sem_open ~rs");

    for (slot = 0; slot < slots; slot++) {
        struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = SLOTS_START + slot * SLOT_SIZE, .l_len = 1 };
        if (fcntl(fd, F_OFD_SETLK, &lock) == 0) break;
    }
    if (slot == slots) { fprintf(stderr, "ring_subscriber: no free slot\n"); return 5; }
    line = SLOTS_START + slot * SLOT_SIZE;
    snprintf(mine, sizeof mine, "/ipckit.%s~%02d", argv[1], slot);
    sem_unlink(mine);
    my_semaphore = sem_open(mine, O_CREAT | O_EXCL, 0600, 0);
    if (my_semaphore == SEM_FAILED) fail("sem_open slot");
    atomic_fetch_and(I64(SLEEPING_SLOTS), ~((int64_t)1 << slot));

    // Attach at "now": the write position, with the sequence counted from the newest checkpoint at or below it.
    int64_t p = 0, sequence = 0;
    for (int attempt = 0;; attempt++) {
        int64_t tail = atomic_load_explicit(I64(WRITE_POS), memory_order_acquire);
        if (!find_checkpoint(tail > capacity ? tail - capacity : 0, tail, 0, &p, &sequence)) { if (attempt > 1000) { fprintf(stderr, "no checkpoint\n"); return 4; } continue; }
        while (p < tail) {
            int64_t offset = p & (capacity - 1);
            int32_t length = *(int32_t *)(base + header_size + offset), type = *(int32_t *)(base + header_size + offset + 4);
            if (type == -1) { p += capacity - offset; continue; }
            p += ((int64_t)length + 15) & ~7;
            sequence++;
        }
        if (p == tail && !overtaken(tail - capacity / 2)) break;
    }
    *(int64_t *)(base + line + 32) = p;
    *(int32_t *)(base + line + 4) = getpid();
    *(int64_t *)(base + line + 16) = (int64_t)time(NULL) * 1000;
    atomic_store(I32(line + 24), atomic_load(I32(line + 24)) + 1);
    atomic_store_explicit(I32(line), 1, memory_order_release);
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("READY %d\n", slot);

    int64_t first = -1, last = -1, received = 0, lost = 0, bit = (int64_t)1 << slot;
    time_t deadline = time(NULL) + 60;
    while (received + lost < wanted) {
        int64_t tail = atomic_load_explicit(I64(WRITE_POS), memory_order_acquire);
        if (p == tail) {
            // Nothing to read: announce the sleep with an atomic OR (a full fence), re-check, sleep on the slot semaphore.
            atomic_fetch_or(I64(SLEEPING_SLOTS), bit);
            if (atomic_load_explicit(I64(WRITE_POS), memory_order_acquire) == p) {
                struct timespec slice;
                clock_gettime(CLOCK_REALTIME, &slice);
                slice.tv_nsec += 100 * 1000 * 1000;
                if (slice.tv_nsec >= 1000000000) { slice.tv_sec++; slice.tv_nsec -= 1000000000; }
                sem_timedwait(my_semaphore, &slice);
            }
            if ((atomic_fetch_and(I64(SLEEPING_SLOTS), ~bit) & bit) == 0) sem_trywait(my_semaphore);
            if (time(NULL) > deadline) { fprintf(stderr, "ring_subscriber: timed out after %lld\n", (long long)received); return 1; }
            continue;
        }
        if (atomic_load(I32(line)) == 3) { fprintf(stderr, "ring_subscriber: dropped by the writer\n"); return 3; }
        while (p < tail && received + lost < wanted) {
            if (overtaken(p)) {
                int64_t limit = atomic_load_explicit(I64(LIMIT), memory_order_acquire), position, count;
                if (!find_checkpoint(limit - capacity, tail, 1, &position, &count)) break;
                lost += count - sequence;
                sequence = count;
                p = position;
                continue;
            }
            int64_t offset = p & (capacity - 1);
            int32_t length = atomic_load_explicit(I32(header_size + offset), memory_order_acquire);
            int32_t type = *(int32_t *)(base + header_size + offset + 4);
            if (type == -1) {
                if (length != capacity - offset - 8 || p + capacity - offset > tail) { if (overtaken(p)) continue; fprintf(stderr, "corrupt padding\n"); return 4; }
                p += capacity - offset;
                continue;
            }
            int64_t record = ((int64_t)length + 15) & ~7;
            if (length < 8 || length > max_message || offset + record > capacity || p + record > tail) { if (overtaken(p)) continue; fprintf(stderr, "corrupt record\n"); return 4; }
            memcpy(copy, base + header_size + offset + 8, length);
            atomic_thread_fence(memory_order_acquire);
            if (overtaken(p)) continue;
            int64_t value;
            memcpy(&value, copy, 8);
            for (int i = 8; i < length; i++) if (copy[i] != (uint8_t)(value + i)) { fprintf(stderr, "bad payload\n"); return 4; }
            if (first >= 0 && value <= last) { fprintf(stderr, "out of order: %lld after %lld\n", (long long)value, (long long)last); return 4; }
            if (first < 0) first = value;
            last = value;
            received++;
            sequence++;
            p += record;
        }
        // Publish the position with an exchange (a full fence), then wake a writer waiting for room.
        atomic_exchange(I64(line + 32), p);
        int32_t one = 1;
        if (atomic_load(I32(WRITER_SLEEPING)) && atomic_compare_exchange_strong(I32(WRITER_SLEEPING), &one, 0)) sem_post(space_ready);
    }

    atomic_store(I32(line), 2);
    struct flock unlock = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = line, .l_len = 1 };
    fcntl(fd, F_OFD_SETLK, &unlock);
    printf("READ %lld %lld %lld %lld\n", (long long)received, (long long)lost, (long long)first, (long long)last);
    return 0;
}
