// A ring producer and consumer in C, written from docs/ring-format.md only. The tests run it against IpcKit to
// show the format document is enough to interoperate.
//
//   ring_peer produce NAME COUNT SIZE   writes COUNT test payloads (i64 sequence, then bytes sequence + i)
//   ring_peer consume NAME COUNT        reads COUNT payloads, checks each, prints "READ count first last"
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

#define HEADER 4096
#define WRITE_POS 128
#define READ_POS 256
#define READER_SLEEPING 384
#define WRITER_SLEEPING 512
#define WRITER_ID 640
#define READER_ID 768

static uint8_t *base;
static int64_t capacity;
static int32_t max_message;
static sem_t *data_ready, *space_ready;

#define I64(off) ((_Atomic int64_t *)(base + (off)))
#define I32(off) ((_Atomic int32_t *)(base + (off)))

static void fail(const char *what) { fprintf(stderr, "ring_peer: %s (errno %d)\n", what, errno); exit(5); }

static void attach(int fd, int identity) {
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = identity, .l_len = 1 };
    if (fcntl(fd, F_OFD_SETLK, &lock) != 0) fail("role is held by another process");
    *(int32_t *)(base + identity + 4) = getpid();
    *(int64_t *)(base + identity + 16) = (int64_t)time(NULL) * 1000;
    atomic_store(I32(identity + 24), atomic_load(I32(identity + 24)) + 1);
    atomic_store_explicit(I32(identity), 1, memory_order_release);
}

static void detach(int identity, _Atomic int32_t *peer_sleeping, sem_t *peer_semaphore) {
    atomic_store(I32(identity), 2);
    int32_t one = 1;
    if (atomic_compare_exchange_strong(peer_sleeping, &one, 0)) sem_post(peer_semaphore);
}

// Sleeps until ready() holds, with the flag protocol of the format document; gives up after 30 s.
static void wait_for(int (*ready)(void), _Atomic int32_t *sleeping, sem_t *semaphore) {
    for (int spin = 0; spin < 1000; spin++) if (ready()) return;
    time_t deadline = time(NULL) + 30;
    while (!ready()) {
        atomic_store(sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        if (!ready()) {
            struct timespec slice;
            clock_gettime(CLOCK_REALTIME, &slice);
            slice.tv_nsec += 100 * 1000 * 1000;
            if (slice.tv_nsec >= 1000000000) { slice.tv_sec++; slice.tv_nsec -= 1000000000; }
            sem_timedwait(semaphore, &slice);
        }
        int32_t one = 1;
        if (!atomic_compare_exchange_strong(sleeping, &one, 0)) sem_trywait(semaphore);
        if (time(NULL) > deadline) { fprintf(stderr, "ring_peer: timed out waiting\n"); exit(1); }
    }
}

static int64_t write_pos, read_pos, needed_end;
static int has_room(void) { return needed_end - atomic_load_explicit(I64(READ_POS), memory_order_acquire) <= capacity; }
static int has_data(void) { return atomic_load_explicit(I64(WRITE_POS), memory_order_acquire) != read_pos; }

static void fill(uint8_t *payload, int size, int64_t sequence) {
    memcpy(payload, &sequence, 8);
    for (int i = 8; i < size; i++) payload[i] = (uint8_t)(sequence + i);
}

static int64_t check(const uint8_t *payload, int size) {
    int64_t sequence;
    if (size < 8) return -1;
    memcpy(&sequence, payload, 8);
    for (int i = 8; i < size; i++) if (payload[i] != (uint8_t)(sequence + i)) return -1;
    return sequence;
}

static void produce(int fd, long count, int size) {
    attach(fd, WRITER_ID);
    write_pos = atomic_load(I64(WRITE_POS));
    int64_t record = (size + 15) & ~7;
    for (long n = 0; n < count; n++) {
        int64_t offset = write_pos & (capacity - 1);
        int64_t to_end = capacity - offset;
        int64_t needed = record <= to_end ? record : to_end + record;
        needed_end = write_pos + needed;
        if (!has_room()) wait_for(has_room, I32(WRITER_SLEEPING), space_ready);
        int64_t position = write_pos;
        if (record > to_end) {
            *(int32_t *)(base + HEADER + offset + 4) = -1;
            *(int32_t *)(base + HEADER + offset) = (int32_t)(to_end - 8);
            position += to_end;
            offset = 0;
        }
        uint8_t *at = base + HEADER + offset;
        fill(at + 8, size, n);
        *(int32_t *)(at + 4) = 0;
        atomic_store_explicit((_Atomic int32_t *)at, size, memory_order_release);
        write_pos = position + record;
        atomic_exchange(I64(WRITE_POS), write_pos);
        int32_t one = 1;
        if (atomic_load(I32(READER_SLEEPING)) && atomic_compare_exchange_strong(I32(READER_SLEEPING), &one, 0)) sem_post(data_ready);
    }
    detach(WRITER_ID, I32(READER_SLEEPING), data_ready);
    printf("WROTE %ld\n", count);
}

static void consume(int fd, long count) {
    attach(fd, READER_ID);
    read_pos = atomic_load(I64(READ_POS));
    long got = 0;
    int64_t first = -1, last = -1;
    while (got < count) {
        if (!has_data()) wait_for(has_data, I32(READER_SLEEPING), data_ready);
        int64_t write = atomic_load_explicit(I64(WRITE_POS), memory_order_acquire);
        if (write < read_pos || write - read_pos > capacity || (write & 7)) { fprintf(stderr, "corrupt write position\n"); exit(4); }
        while (read_pos < write && got < count) {
            int64_t offset = read_pos & (capacity - 1);
            uint8_t *at = base + HEADER + offset;
            int32_t length = atomic_load_explicit((_Atomic int32_t *)at, memory_order_acquire);
            int32_t type = *(int32_t *)(at + 4);
            if (type == -1) {
                if (length != capacity - offset - 8) { fprintf(stderr, "corrupt padding\n"); exit(4); }
                read_pos += capacity - offset;
                continue;
            }
            int64_t record = ((int64_t)length + 15) & ~7;
            if (length < 0 || length > max_message || offset + record > capacity || read_pos + record > write) { fprintf(stderr, "corrupt record\n"); exit(4); }
            int64_t sequence = check(at + 8, length);
            if (sequence < 0 || (last >= 0 && sequence != last + 1)) { fprintf(stderr, "bad payload at %ld\n", got); exit(4); }
            if (first < 0) first = sequence;
            last = sequence;
            got++;
            read_pos += record;
        }
        atomic_exchange(I64(READ_POS), read_pos);
        int32_t one = 1;
        if (atomic_load(I32(WRITER_SLEEPING)) && atomic_compare_exchange_strong(I32(WRITER_SLEEPING), &one, 0)) sem_post(space_ready);
    }
    detach(READER_ID, I32(WRITER_SLEEPING), space_ready);
    printf("READ %ld %lld %lld\n", got, (long long)first, (long long)last);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: ring_peer produce NAME COUNT SIZE | consume NAME COUNT\n"); return 2; }
    char path[512], rd[300], rs[300];
    snprintf(path, sizeof path, "/dev/shm/ipckit.ring.%s", argv[2]);
    snprintf(rd, sizeof rd, "/ipckit.%s~rd", argv[2]);
    snprintf(rs, sizeof rs, "/ipckit.%s~rs", argv[2]);
    int fd = open(path, O_RDWR);
    if (fd < 0) fail("cannot open the ring file");
    struct stat st;
    fstat(fd, &st);
    base = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) fail("mmap");
    if (atomic_load_explicit((_Atomic uint64_t *)base, memory_order_acquire) != 0x474E49524B435049ULL) { fprintf(stderr, "not a ring\n"); return 4; }
    if (*(int32_t *)(base + 8) != 1 || *(int32_t *)(base + 12) != HEADER) { fprintf(stderr, "unknown layout\n"); return 4; }
    capacity = *(int64_t *)(base + 16);
    max_message = *(int32_t *)(base + 24);
    if (capacity < 4096 || (capacity & (capacity - 1)) || st.st_size != HEADER + capacity) { fprintf(stderr, "bad capacity\n"); return 4; }
    data_ready = sem_open(rd, 0);
    space_ready = sem_open(rs, 0);
    if (data_ready == SEM_FAILED || space_ready == SEM_FAILED) fail("sem_open");
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("READY\n");
    if (strcmp(argv[1], "produce") == 0 && argc == 5) produce(fd, atol(argv[3]), atoi(argv[4]));
    else if (strcmp(argv[1], "consume") == 0) consume(fd, atol(argv[3]));
    else return 2;
    return 0;
}
