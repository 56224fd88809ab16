// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "trace/runinfo.h"

int run_id_new(char out[37])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -errno;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	return 0;
}

void time_rfc3339(const struct timespec *ts, char *out, size_t len)
{
	struct tm tm;
	char buf[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03ldZ", buf, ts->tv_nsec / 1000000);
}

int boot_id_read(char out[37])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%36s", out) == 1 && strlen(out) == 36;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

int host_fill(struct bom_host *h)
{
	struct utsname u;
	char boot[37] = "unknown";

	if (uname(&u))
		return -errno;
	boot_id_read(boot);
	h->hostname = strdup(u.nodename);
	h->kernel = strdup(u.release);
	h->boot_id = strdup(boot);
	if (!h->hostname || !h->kernel || !h->boot_id)
		return -ENOMEM;
	return 0;
}
