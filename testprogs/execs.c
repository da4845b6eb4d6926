/* A program that becomes another: memsnap's snapshots taken before an exec keep their
 * locations, and memtrace's account of the old image ends with it.
 *
 * usage: execs TICKS [PROGRAM ARGS...]
 *   maps 8 MiB in hold_before_exec() and touches it, calls tick(i) TICKS times, then execs
 *   PROGRAM with ARGS (/bin/true when none is given): the 8 MiB go with the old image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

volatile unsigned long sink;

__attribute__((noinline)) void tick(int i) { sink += (unsigned long)i; __asm__ volatile("" ::: "memory"); }

__attribute__((noinline)) static void *hold_before_exec(void) {
    void *p = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(2); }
    memset(p, 1, 8 << 20);
    return p;
}

int main(int argc, char **argv) {
    int ticks = argc > 1 ? atoi(argv[1]) : 3;
    sink += (unsigned long)hold_before_exec();
    for (int i = 0; i < ticks; i++)
        tick(i);
    if (argc > 2)
        execv(argv[2], argv + 2);
    else
        execl("/bin/true", "true", (char *)NULL);
    perror("exec");
    return 1;
}
