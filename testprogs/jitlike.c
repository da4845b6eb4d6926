/* A healthy process with a JIT, as memcheck sees a JVM or node: code compiled into writable
 * and executable anonymous memory, and a large anonymous heap, all private and dirty.
 *
 * usage: jitlike
 *   maps 64 KiB read-write-execute at 0x320000000000, writes a function there (x86-64: mov
 *   eax, 42; ret) and calls it; allocates 96 MiB and writes all of it; calls ready() (break
 *   there), then waits until killed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CODE ((void *)0x320000000000UL)

__attribute__((noinline)) void ready(void) { __asm__ volatile("" ::: "memory"); }

int main(void) {
    unsigned char *code = mmap(CODE, 64 << 10, PROT_READ | PROT_WRITE | PROT_EXEC,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (code == MAP_FAILED) { perror("mmap"); return 1; }
    static const unsigned char forty_two[] = {0xb8, 42, 0, 0, 0, 0xc3};
    memcpy(code, forty_two, sizeof forty_two);
    int (*compiled)(void) = (int (*)(void))(void *)code;
    char *heap = malloc(96 << 20);
    if (heap == NULL) { perror("malloc"); return 1; }
    memset(heap, 1, 96 << 20);
    printf("jitlike ready pid %d: %d\n", getpid(), compiled());
    fflush(stdout);
    ready();
    for (;;) pause();
}
