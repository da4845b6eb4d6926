// A malloc heap of known contents, for memheap's census and memleak's verdicts.
//
// usage: census [MODE]
//   (none)     builds the heap below, calls mallinfo2() into `g_mallinfo`, then checkpoint()
//   corrupt    the same, then overwrites one in-use chunk's size field before checkpoint()
//   inmalloc   the same, then calls stop_in_malloc(), which frees a block (break in free)
//   big N      N blocks of 32..160 bytes in a list, then checkpoint() (the bench's heap);
//              under valgrind with CENSUS_TIME_LEAK_CHECK set, it times valgrind's own check
//
// What the heap holds at checkpoint() (requested sizes; every block is written whole with
// a byte that is no text, 0x91-0xb3):
//   main thread, still reachable:
//     100 blocks of 24 bytes       from g_small[]
//     40 of 50 blocks of 200 bytes from g_medium[] (10 freed: 7 in the tcache, 3 in the bins)
//     20 of 30 blocks of 40 bytes  from g_fast[] (10 freed: 7 in the tcache, 3 in a fastbin)
//     8 of 16 blocks of 3000 bytes from g_large[] (8 freed apart, sorted into the bins)
//     3 blocks of 300,000 bytes    from g_mapped[] (above the mmap threshold: mmapped)
//     5 Alpha and 3 Beta objects   from g_alpha[], g_beta[] (C++, virtual)
//     6 strings of 26 bytes        from g_text[] (strdup)
//     1 block of 64 bytes          from main's stack variable (volatile)
//     1 block of 5000 bytes        from g_kept
//     1 block of 88 bytes          from a field of g_small[0]'s block
//   second thread (its own arena, alive and blocked at checkpoint()):
//     40 of 48 blocks of 64 bytes  from g_thread[] (8 freed: 7 in its tcache, 1 in a fastbin)
//   definitely lost: 4 blocks of 72 bytes (pointers dropped), 2 Alpha objects,
//                    the head of a 10-node list of 48-byte nodes (g_list overwritten)
//   indirectly lost: the other 9 nodes of that list
//   possibly lost:   3 blocks of 256 bytes reached only by pointers 40 bytes inside
// Under valgrind, checkpoint() runs VALGRIND_DO_LEAK_CHECK at the same point.
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/memcheck.h>

struct Alpha {
    virtual ~Alpha() {}
    virtual long value() { return a; }
    long a = 1, b = 2;
};

struct Beta {
    virtual ~Beta() {}
    virtual long value() { return c; }
    long c = 3, d = 4, e = 5, f = 6;
};

struct Node {
    Node *next;
    char payload[40];
};

void *g_small[100];
void *g_medium[50];
void *g_fast[30];
void *g_large[16];
void *g_mapped[3];
void *g_thread[48];
Alpha *g_alpha[5];
Beta *g_beta[3];
Node *g_list;
void *g_kept;
char *g_text[6];
void *g_freed;
char *g_interior[3];
struct mallinfo2 g_mallinfo;
volatile unsigned long g_sink;
static int g_pipe[2], g_ready[2];

static void *checked(void *p) {
    if (!p) { perror("malloc"); exit(2); }
    return p;
}
// A macro, not a function: each block's allocation site is the function that asks for it.
#define filled(size, byte) memset(checked(malloc(size)), (byte), (size))

__attribute__((noinline)) void checkpoint(void) {
    if (RUNNING_ON_VALGRIND) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        VALGRIND_DO_LEAK_CHECK;
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (getenv("CENSUS_TIME_LEAK_CHECK"))  // the bench's anchor: valgrind's own check
            fprintf(stderr, "census: valgrind leak check %.3f s\n",
                    (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    }
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void stop_in_malloc(void *p) { free(p); }

// Zeroes the stack below the caller, where the functions that made the heap kept pointers.
__attribute__((noinline)) static void scrub(void) {
    volatile char area[1 << 16];
    memset((char *)area, 0, sizeof area);
    g_sink += area[100];
}

static void *worker(void *) {
    for (int i = 0; i < 48; i++) g_thread[i] = filled(64, 0x91);
    for (int i = 40; i < 48; i++) { free(g_thread[i]); g_thread[i] = nullptr; }
    char byte = 'r';
    if (write(g_ready[1], &byte, 1) != 1) perror("write");
    if (read(g_pipe[0], &byte, 1) < 0) perror("read");  // blocked here at checkpoint()
    return nullptr;
}

__attribute__((noinline)) static void make_heap(void) {
    for (int i = 0; i < 100; i++) g_small[i] = filled(24, 0xa1);
    *(void **)g_small[0] = filled(88, 0xa2);
    for (int i = 0; i < 50; i++) g_medium[i] = filled(200, 0xa3);
    for (int i = 0; i < 30; i++) g_fast[i] = filled(40, 0xa4);
    for (int i = 0; i < 16; i++) g_large[i] = filled(3000, 0xa5);
    for (int i = 0; i < 3; i++) g_mapped[i] = filled(300000, 0xa6);
    for (int i = 0; i < 5; i++) g_alpha[i] = new Alpha;
    for (int i = 0; i < 3; i++) g_beta[i] = new Beta;
    for (int i = 0; i < 6; i++) g_text[i] = strdup("a census of malloc's heap");
    // Freed, every other one so that none coalesces with a neighbour.
    g_freed = g_medium[0];  // kept dangling: vmainfo names its chunk free, in the tcache
    for (int i = 0; i < 20; i += 2) { free(g_medium[i]); g_medium[i] = nullptr; }
    for (int i = 0; i < 20; i += 2) { free(g_fast[i]); g_fast[i] = nullptr; }
    for (int i = 0; i < 16; i += 2) { free(g_large[i]); g_large[i] = nullptr; }
    g_kept = filled(5000, 0xa7);  // sorts the freed 3000-byte chunks into the bins
}

__attribute__((noinline)) static void make_leaks(void) {
    for (int i = 0; i < 4; i++) g_sink += (uintptr_t)filled(72, 0xb1) & 1;
    for (int i = 0; i < 2; i++) g_sink += (uintptr_t)(new Alpha) & 1;
    Node *head = nullptr;
    for (int i = 0; i < 10; i++) {
        Node *n = (Node *)filled(sizeof(Node), 0xb2);
        n->next = head;
        head = n;
    }
    g_list = head;
    g_list = nullptr;  // the head is lost, the rest only through it
    for (int i = 0; i < 3; i++) g_interior[i] = (char *)filled(256, 0xb3) + 40;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (pipe(g_pipe) != 0 || pipe(g_ready) != 0) { perror("pipe"); return 2; }
    if (strcmp(mode, "big") == 0) {
        long count = argc > 2 ? atol(argv[2]) : 1000000;
        Node *head = nullptr;
        for (long i = 0; i < count; i++) {
            Node *n = (Node *)malloc(32 + (size_t)(i % 5) * 32);
            n->next = head;
            memset(n->payload, 0x41, sizeof n->payload - 8);
            head = n;
        }
        g_list = head;
        scrub();
        checkpoint();
        return 0;
    }
    pthread_t thread;
    make_heap();
    volatile void *on_stack = filled(64, 0xa8);
    pthread_create(&thread, nullptr, worker, nullptr);
    char byte;
    if (read(g_ready[0], &byte, 1) != 1) perror("read");  // the worker has freed its blocks
    make_leaks();
    if (strcmp(mode, "corrupt") == 0) ((size_t *)g_small[50])[-1] = 0x7fff0;
    // heaptrack (memtrace on --malloc) writes its records in blocks: these push out the
    // block that holds the leaks' (one 16-byte chunk ends in the tcache).
    for (int i = 0; i < 4000; i++) free(malloc(16));
    scrub();
    g_mallinfo = mallinfo2();
    checkpoint();
    if (strcmp(mode, "inmalloc") == 0) stop_in_malloc(g_small[99]);
    g_sink += (uintptr_t)on_stack & 1;
    if (write(g_pipe[1], "x", 1) != 1) perror("write");
    pthread_join(thread, nullptr);
    return 0;
}
