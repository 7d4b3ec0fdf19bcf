// Live producer for the perfbuf-live workload (both sides start the same
// binary): pins itself to CPU argv[2], waits for one byte on stdin, then calls
// getpgid(MAGIC) argv[1] times as fast as it can. Each call makes
// test/bpf/events_tp.o write one sample into the perf buffer of that CPU.
// Exits 0 when done. (No libbpf: the harness links every program alike.)
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAGIC 0x7ffffff0

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	long n = atol(argv[1]);
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(atoi(argv[2]), &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return 3;
	char go;
	if (read(0, &go, 1) != 1)
		return 4;
	for (long i = 0; i < n; i++)
		syscall(SYS_getpgid, MAGIC);
	return 0;
}
