/* A file mapping whose name is any bytes (not UTF-8, spaces, ...), for names as the kernel
 * gives them.
 *
 * usage: mapname PATH
 *   creates PATH (3 pages), maps it shared at 0x310000000000, writes to each of them,
 *   calls ready() (break there), then waits until killed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define AT ((void *)0x310000000000UL)

__attribute__((noinline)) void ready(void) { __asm__ volatile("" ::: "memory"); }

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: mapname PATH\n"); return 2; }
    long page = sysconf(_SC_PAGESIZE);
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 3 * page) != 0) { perror(argv[1]); return 1; }
    char *p = mmap(AT, 3 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    for (int i = 0; i < 3; i++)
        p[i * page] = 'a';
    printf("mapname ready pid %d\n", getpid());
    fflush(stdout);
    ready();
    for (;;) pause();
}
