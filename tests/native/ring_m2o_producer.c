// A writer of a many-to-one ring in C, written from docs/ring-format.md only ("Many-to-one"). The tests run several
// of these beside IpcKit writers into one ring that IpcKit reads.
//
//   ring_m2o_producer NAME ID COUNT SIZE   writes COUNT payloads: i64 sequence ((ID << 40) | n), then bytes sequence + i
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
#define READ_POS 256
#define READER_SLEEPING 384
#define SLEEPING_SLOTS 1024
#define SLOTS_START 4096
#define SLOT_SIZE 128
#define CLAIMED_UP_TO 56

static uint8_t *base;
static int64_t capacity, header_size;
static int lap_shift, slot;
static sem_t *data_ready, *my_semaphore;

#define I64(off) ((_Atomic int64_t *)(base + (off)))
#define I32(off) ((_Atomic int32_t *)(base + (off)))

static void fail(const char *what) { fprintf(stderr, "ring_m2o_producer: %s (errno %d)\n", what, errno); exit(5); }

static int64_t free_word(int64_t lap) {
    return (int64_t)((((uint64_t)lap + 1) * 0x9E3779B97F4A7C15ULL) ^ 0xD6E8FEB86659FD93ULL);
}

static int64_t header_word(int32_t length, int32_t type) { return (int64_t)(((uint64_t)(uint32_t)type << 32) | (uint32_t)length); }

static void wake_reader(void) {
    int32_t one = 1;
    if (atomic_load(I32(READER_SLEEPING)) && atomic_compare_exchange_strong(I32(READER_SLEEPING), &one, 0)) sem_post(data_ready);
}

// Sleeps on the slot semaphore until there is room for `needed` bytes after `tail`, with the bit protocol.
static void wait_for_room(int64_t tail, int64_t needed) {
    time_t deadline = time(NULL) + 30;
    int64_t bit = (int64_t)1 << slot;
    while (tail + needed - atomic_load_explicit(I64(READ_POS), memory_order_acquire) > capacity) {
        atomic_fetch_or(I64(SLEEPING_SLOTS), bit);
        if (tail + needed - atomic_load_explicit(I64(READ_POS), memory_order_acquire) > capacity) {
            struct timespec slice;
            clock_gettime(CLOCK_REALTIME, &slice);
            slice.tv_nsec += 100 * 1000 * 1000;
            if (slice.tv_nsec >= 1000000000) { slice.tv_sec++; slice.tv_nsec -= 1000000000; }
            sem_timedwait(my_semaphore, &slice);
        }
        if ((atomic_fetch_and(I64(SLEEPING_SLOTS), ~bit) & bit) == 0) sem_trywait(my_semaphore);
        if (time(NULL) > deadline) { fprintf(stderr, "ring_m2o_producer: timed out waiting for room\n"); exit(1); }
    }
}

// Claims room for a record of `size` bytes; returns the data offset of the record, and its claim's position and bytes.
static int64_t claim(int64_t size, int64_t *claim_position, int64_t *claim_bytes) {
    for (int attempt = 0; attempt < 1000000; attempt++) {
        int64_t tail = atomic_load_explicit(I64(WRITE_POS), memory_order_acquire);
        int64_t offset = tail & (capacity - 1), to_end = capacity - offset;
        int64_t bytes = size <= to_end ? size : to_end + size;
        if (tail + bytes - atomic_load_explicit(I64(READ_POS), memory_order_acquire) > capacity) { wait_for_room(tail, bytes); continue; }
        _Atomic int64_t *header = I64(header_size + offset);
        int64_t expected = free_word(tail >> lap_shift);
        int64_t word = atomic_load_explicit(header, memory_order_acquire);
        if (word != expected) {
            int32_t length = (int32_t)word, type = (int32_t)(word >> 32);
            if (length < 0 && (type & 0xFFFFFF) == (int32_t)((tail >> lap_shift) & 0xFFFFFF)) {
                int64_t other = tail;
                atomic_compare_exchange_strong(I64(WRITE_POS), &other, tail + (-(int64_t)length));
            }
            continue;
        }
        *(int64_t *)(base + SLOTS_START + slot * SLOT_SIZE + CLAIMED_UP_TO) = tail + bytes;
        int64_t claim_word = header_word((int32_t)-bytes, (slot << 24) | (int32_t)((tail >> lap_shift) & 0xFFFFFF));
        if (!atomic_compare_exchange_strong(header, &expected, claim_word)) continue;
        int64_t current = tail;
        atomic_compare_exchange_strong(I64(WRITE_POS), &current, tail + bytes);
        *claim_position = tail;
        *claim_bytes = bytes;
        return bytes == size ? offset : 0;
    }
    fprintf(stderr, "ring_m2o_producer: the write position never settled\n");
    exit(4);
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: ring_m2o_producer NAME ID COUNT SIZE\n"); return 2; }
    char path[512], rd[300], mine[300];
    snprintf(path, sizeof path, "/dev/shm/ipckit.ring.%s", argv[1]);
    snprintf(rd, sizeof rd, "/ipckit.%s~rd", argv[1]);
    int64_t id = atol(argv[2]);
    long count = atol(argv[3]);
    int size = atoi(argv[4]);
    int fd = open(path, O_RDWR | O_NOFOLLOW);
    if (fd < 0) fail("cannot open the ring file");
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) { fprintf(stderr, "ring_m2o_producer: not my private file\n"); return 5; }
    base = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) fail("mmap");
    if (atomic_load_explicit((_Atomic uint64_t *)base, memory_order_acquire) != 0x474E49524B435049ULL) { fprintf(stderr, "not a ring\n"); return 4; }
    int32_t slots = *(int32_t *)(base + 48);
    header_size = *(int32_t *)(base + 12);
    capacity = *(int64_t *)(base + 16);
    if (*(int32_t *)(base + 8) != 2 || *(int32_t *)(base + 44) != 1 || slots < 1 || slots > 64
        || header_size != 4096 + ((128 * slots + 4095) & ~4095) || capacity < 4096 || (capacity & (capacity - 1))
        || st.st_size != header_size + capacity) { fprintf(stderr, "not a many-to-one ring\n"); return 4; }
    lap_shift = __builtin_ctzll((uint64_t)capacity);
    data_ready = sem_open(rd, 0);
    if (data_ready == SEM_FAILED) fail("sem_open ~rd");

    // Take a slot: its lock, unless its dead holder's claims still lie ahead of the reader.
    for (slot = 0; slot < slots; slot++) {
        int line = SLOTS_START + slot * SLOT_SIZE;
        struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = line, .l_len = 1 };
        if (fcntl(fd, F_OFD_SETLK, &lock) != 0) continue;
        if (atomic_load(I32(line)) == 1 && atomic_load(I64(READ_POS)) < *(int64_t *)(base + line + CLAIMED_UP_TO)) {
            lock.l_type = F_UNLCK;
            fcntl(fd, F_OFD_SETLK, &lock);
            continue;
        }
        break;
    }
    if (slot == slots) { fprintf(stderr, "ring_m2o_producer: no free slot\n"); return 5; }
    int line = SLOTS_START + slot * SLOT_SIZE;
    snprintf(mine, sizeof mine, "/ipckit.%s~%02d", argv[1], slot);
    sem_unlink(mine);
    my_semaphore = sem_open(mine, O_CREAT | O_EXCL, 0600, 0);
    if (my_semaphore == SEM_FAILED) fail("sem_open slot");
    atomic_fetch_and(I64(SLEEPING_SLOTS), ~((int64_t)1 << slot));
    *(int32_t *)(base + line + 4) = getpid();
    *(int64_t *)(base + line + 16) = (int64_t)time(NULL) * 1000;
    atomic_store(I32(line + 24), atomic_load(I32(line + 24)) + 1);
    atomic_store_explicit(I32(line), 1, memory_order_release);
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("READY %d\n", slot);

    int64_t size_record = ((int64_t)size + 15) & ~7;
    for (long n = 0; n < count; n++) {
        int64_t position, bytes;
        int64_t offset = claim(size_record, &position, &bytes);
        uint8_t *record = base + header_size + offset;
        int64_t sequence = (id << 40) | n;
        memcpy(record + 8, &sequence, 8);
        for (int i = 8; i < size; i++) record[8 + i] = (uint8_t)(sequence + i);
        if (bytes != size_record) {
            // A wrapping claim: the record at data offset 0 first, then the claim word becomes padding.
            atomic_store_explicit(I64(header_size), header_word(size, 0), memory_order_release);
            atomic_exchange(I64(header_size + (position & (capacity - 1))), header_word((int32_t)(bytes - size_record - 8), -1));
        } else {
            atomic_exchange(I64(header_size + offset), header_word(size, 0));
        }
        wake_reader();
    }

    atomic_store(I32(line), 2);
    wake_reader();
    struct flock unlock = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = line, .l_len = 1 };
    fcntl(fd, F_OFD_SETLK, &unlock);
    printf("WROTE %ld\n", count);
    return 0;
}
