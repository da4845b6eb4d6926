/* A process whose /proc a debugger without CAP_SYS_PTRACE cannot read: it makes itself not
 * dumpable (as setuid programs are), then stops in ready(). Memory is still readable through
 * ptrace. usage: nondump */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

char secret[64];

__attribute__((noinline)) void ready(void) { __asm__ volatile("" ::: "memory"); }

int main(void) {
    strcpy(secret, "a string in the data segment");
    prctl(PR_SET_DUMPABLE, 0);
    ready();
    pause();
    return 0;
}
