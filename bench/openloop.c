// SPDX-License-Identifier: BSD-2-Clause
/*
 * openloop - the access pattern of an epoch loop, for bench/trace.sh.
 *   openloop create DIR N        make N small files DIR/f<i>
 *   openloop read DIR N OPENS    open+read+close DIR/f<i % N> OPENS times
 * Prints "loop_ns <n>": the time of the loop alone, so tracer start-up is not in the ratio, and
 * "loop_cpu_ns <n>": the CPU time the process spent in it (user + kernel, BPF programs included),
 * which time taken by other processes on a shared machine does not inflate.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	char path[4096], buf[4096];
	long n, opens;
	long long t0, c0;

	if (argc < 4 || (strcmp(argv[1], "create") && strcmp(argv[1], "read"))) {
		fprintf(stderr, "usage: openloop create DIR N | openloop read DIR N OPENS\n");
		return 2;
	}
	n = atol(argv[3]);
	opens = argc > 4 ? atol(argv[4]) : n;
	t0 = now_ns(CLOCK_MONOTONIC);
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (long i = 0; i < (argv[1][0] == 'c' ? n : opens); i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%ld", argv[2], i % n);
		if (argv[1][0] == 'c') {
			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || dprintf(fd, "file %ld\n", i) < 0) {
				perror(path);
				return 1;
			}
		} else {
			fd = open(path, O_RDONLY);
			if (fd < 0 || read(fd, buf, sizeof(buf)) < 0) {
				perror(path);
				return 1;
			}
		}
		close(fd);
	}
	printf("loop_ns %lld\n", now_ns(CLOCK_MONOTONIC) - t0);
	printf("loop_cpu_ns %lld\n", now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0);
	return 0;
}
