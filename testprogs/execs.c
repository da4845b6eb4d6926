/* A program that becomes another: memsnap's snapshots taken before an exec keep their
 * locations.
 *
 * usage: execs TICKS
 *   calls tick(i) TICKS times, then execs /bin/true.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

volatile unsigned long sink;

__attribute__((noinline)) void tick(int i) { sink += (unsigned long)i; __asm__ volatile("" ::: "memory"); }

int main(int argc, char **argv) {
    int ticks = argc > 1 ? atoi(argv[1]) : 3;
    for (int i = 0; i < ticks; i++)
        tick(i);
    execl("/bin/true", "true", (char *)NULL);
    perror("execl");
    return 1;
}
