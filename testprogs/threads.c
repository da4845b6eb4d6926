/* Threads that run while a breakpoint's stop() runs: memsnap must still know their stacks.
 *
 * usage: threads TICKS
 *   two threads spin (never in a system call), one sleeps; main calls tick(i) TICKS times,
 *   50 ms apart. Between hits threads come and go: a fourth thread (it sleeps) is created
 *   before tick 3 and joined before tick 6. Every thread has its own 256 KiB stack.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;
volatile unsigned long sink;

__attribute__((noinline)) void tick(int i) { sink += (unsigned long)i; __asm__ volatile("" ::: "memory"); }

static void *spin(void *arg) {
    (void)arg;
    while (!atomic_load(&stop))
        sink++;
    return NULL;
}

static void *nap(void *arg) {
    (void)arg;
    while (!atomic_load(&stop))
        usleep(1000);
    return NULL;
}

static pthread_t start(void *(*body)(void *)) {
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    if (pthread_create(&thread, &attr, body, NULL) != 0) { perror("pthread_create"); exit(1); }
    pthread_attr_destroy(&attr);
    return thread;
}

int main(int argc, char **argv) {
    int ticks = argc > 1 ? atoi(argv[1]) : 8;
    pthread_t spinners[2] = {start(spin), start(spin)}, sleeper = start(nap), visitor = 0;
    struct timespec pause = {0, 50 * 1000 * 1000};
    for (int i = 0; i < ticks; i++) {
        if (i == 3)
            visitor = start(nap);
        if (i == 6) {  /* the visitor goes: stop it alone, then let the others run on */
            atomic_store(&stop, 1);
            pthread_join(visitor, NULL);
            pthread_join(sleeper, NULL);
            pthread_join(spinners[0], NULL);
            pthread_join(spinners[1], NULL);
            atomic_store(&stop, 0);
            spinners[0] = start(spin);
            spinners[1] = start(spin);
            sleeper = start(nap);
        }
        nanosleep(&pause, NULL);
        tick(i);
    }
    atomic_store(&stop, 1);
    pthread_join(spinners[0], NULL);
    pthread_join(spinners[1], NULL);
    pthread_join(sleeper, NULL);
    return 0;
}
