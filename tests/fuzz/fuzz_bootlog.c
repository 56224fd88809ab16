// SPDX-License-Identifier: BSD-2-Clause
/* fuzz_bootlog.c - libFuzzer over the firmware event log parser, replay, YAML and facts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/bootlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	uint8_t pcrs[BOOTLOG_PCRS][BOOTLOG_MAX_DIGEST];
	struct bootlog l;
	struct bootlog_facts f;
	uint32_t used;
	char err[256];

	if (!null)
		null = fopen("/dev/null", "w");
	if (bootlog_parse(data, size, &l, err, sizeof(err)))
		return 0;
	for (unsigned b = 0; b < l.nbanks; b++)
		bootlog_replay(&l, l.banks[b].alg, pcrs, &used, err, sizeof(err));
	bootlog_render_yaml(null, &l);
	if (!bootlog_facts(&l, &f, err, sizeof(err))) {
		bootlog_facts_print(null, &f);
		bootlog_facts_free(&f);
	}
	bootlog_free(&l);
	return 0;
}
