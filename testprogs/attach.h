/* A testprog that a test attaches to at a known point: it says so, then waits for SIGUSR1,
 * which the debugger sends once it is attached and ready (`signal SIGUSR1`). What it does
 * after that is all seen by the debugger, whatever the time gdb took to start. */
#ifndef TESTPROGS_ATTACH_H
#define TESTPROGS_ATTACH_H
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

static volatile sig_atomic_t attach_woken;

static void attach_wake(int sig) { (void)sig; attach_woken = 1; }

/* Blocks SIGUSR1 before creating READY (a path), then waits with it unblocked: a signal sent
 * as soon as READY exists is never lost between the test of the flag and the wait. */
static void wait_for_attach(const char *ready) {
    sigset_t usr1, before;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &before);
    signal(SIGUSR1, attach_wake);
    close(open(ready, O_WRONLY | O_CREAT, 0600));
    while (!attach_woken) sigsuspend(&before);
    sigprocmask(SIG_SETMASK, &before, NULL);
}
#endif
