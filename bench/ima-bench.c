// SPDX-License-Identifier: BSD-2-Clause
/*
 * ima-bench.c - writes an N-entry ima-ng list in the kernel's binary format (valid template
 * digests, sha256 file digests, realistic path lengths), then times ima_read_file + replay of
 * PCR 10 into the sha1 and sha256 banks. Built and run by bench/ima.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "lib/ima.h"

static void put32(FILE *f, uint32_t v)
{
	uint8_t b[4] = {v & 0xff, v >> 8 & 0xff, v >> 16 & 0xff, v >> 24};

	fwrite(b, 1, 4, f);
}

static int generate(const char *path, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f) {
		perror(path);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t data[512], tdig[20];
		char name[200];
		size_t dn = 0;
		int nl;

		nl = snprintf(name, sizeof(name),
			      "/usr/lib/python3/dist-packages/pkg%04zu/mod%06zu.py", i % 997, i) +
		     1;
		memcpy(data, "\x0f\0\0\0sha256:\0", 12); /* d-ng: 7 + 1 + 32 = 40 bytes */
		data[0] = 40;
		EVP_Digest(&i, sizeof(i), data + 12, NULL, EVP_sha256(), NULL);
		dn = 44;
		data[dn] = (uint8_t)nl, data[dn + 1] = data[dn + 2] = data[dn + 3] = 0;
		memcpy(data + dn + 4, name, (size_t)nl);
		dn += 4 + (size_t)nl;
		EVP_Digest(data, dn, tdig, NULL, EVP_sha1(), NULL);
		put32(f, 10);
		fwrite(tdig, 1, 20, f);
		put32(f, 6);
		fwrite("ima-ng", 1, 6, f);
		put32(f, (uint32_t)dn);
		fwrite(data, 1, dn, f);
	}
	return fclose(f);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	const char *path = argc > 2 ? argv[2] : "/tmp/aicert-ima-bench.bin";
	struct ima_list l;
	uint8_t pcr[32];
	char err[256];
	double t0, t1, t2, t3;

	if (generate(path, n))
		return 1;
	t0 = now();
	if (ima_read_file(path, NULL, &l, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t1 = now();
	if (ima_replay(&l, 10, "sha1", 0, SIZE_MAX, pcr, NULL, err, sizeof(err)))
		return fprintf(stderr, "%s\n", err), 1;
	t2 = now();
	if (ima_replay(&l, 10, "sha256", 0, SIZE_MAX, pcr, NULL, err, sizeof(err)))
		return fprintf(stderr, "%s\n", err), 1;
	t3 = now();
	remove(path);
	if (l.count != n)
		return fprintf(stderr, "parsed %zu of %zu records\n", l.count, n), 1;
	printf("ima: %zu records: parse %.3f s, replay sha1 %.3f s, replay sha256 %.3f s\n", n,
	       t1 - t0, t2 - t1, t3 - t2);
	printf("ima: %.0f records/s (parse + both replays)\n", n / (t3 - t0));
	printf("bench ima: %.3f s (target < 1 s) %s\n", t3 - t0, t3 - t0 < 1.0 ? "PASS" : "MISS");
	ima_list_free(&l);
	return 0;
}
