// SPDX-License-Identifier: BSD-2-Clause
/* fuzz_ima.c - libFuzzer over the IMA list parser, renderer, replay and lookup. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/ima.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	/* The first byte picks the options, so both byte orders and digest sizes are reached. */
	static const char *const algos[] = {NULL, "sha256", NULL, "sha512"};
	struct ima_parse_opts o = {0};
	struct ima_list l;
	uint8_t pcr[IMA_MAX_DIGEST];
	size_t n;
	char err[256];

	if (!null)
		null = fopen("/dev/null", "w");
	if (size > 0) {
		o.endian = (enum ima_endian)(data[0] % 3);
		o.digest_algo = algos[(data[0] >> 2) % 4];
		data++, size--;
	}
	if (ima_parse(data, size, &o, &l, err, sizeof(err)))
		return 0;
	ima_render_ascii(null, &l);
	ima_replay(&l, 10, "sha1", 0, SIZE_MAX, pcr, &n, err, sizeof(err));
	ima_replay(&l, 10, "sha256", IMA_REPLAY_PADDED_SHA1, SIZE_MAX, pcr, &n, err, sizeof(err));
	ima_replay_match(&l, 10, "sha256", 0, pcr, 32, &n, err, sizeof(err));
	ima_check_digests(&l, err, sizeof(err));
	ima_lookup(&l, "/usr/bin/cat");
	ima_list_free(&l);
	return 0;
}
