#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc,char**argv){
  int n = argc>1?atoi(argv[1]):20000;
  long pg = sysconf(_SC_PAGESIZE);
  char *base = mmap(NULL, (size_t)2*n*pg, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  for (int i=0;i<2*n;i+=2){ base[i*pg]=1; mprotect(base+(size_t)(i+1)*pg, pg, PROT_READ);}
  printf("%d ready\n", getpid()); fflush(stdout);
  pause(); return 0; }
