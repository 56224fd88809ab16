// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_manifest.c - libFuzzer target for the manifest.json parser. What parses must dump and
 * parse back to the same document, with the same binding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[MANIFEST_WHY_MAX];
	struct manifest *m = NULL, *again = NULL;
	char *text = NULL, *text2 = NULL;
	uint8_t b1[32], b2[32];

	if (manifest_parse((const char *)data, size, &m, why))
		return 0;
	text = manifest_dump(m);
	if (!text || manifest_parse(text, strlen(text), &again, why))
		abort();
	text2 = manifest_dump(again);
	if (!text2 || strcmp(text, text2))
		abort();
	if (manifest_binding(m, b1) || manifest_binding(again, b2) || memcmp(b1, b2, 32))
		abort();
	manifest_check_binding(m, why);
	free(text);
	free(text2);
	manifest_free(m);
	manifest_free(again);
	return 0;
}
