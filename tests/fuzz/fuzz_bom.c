// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_bom.c - bom_loads on arbitrary bytes (the verifier reads bom.json from a third party).
 * Whatever it accepts must write back (bom_dumps) to text that it reads again and that writes
 * back to the very same text; the CycloneDX and in-toto writers must take it too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bom.h"
#include "lib/cdx.h"
#include "lib/intoto.h"

static void must(int cond)
{
	if (!cond)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bom a, b;
	char err[256];
	char *t1 = NULL, *t2 = NULL, *cdx = NULL, *prov = NULL;

	bom_init(&a);
	bom_init(&b);
	if (bom_loads(&a, (const char *)data, size, err, sizeof(err))) {
		/* A rejection always says why, in a terminated string. */
		must(memchr(err, '\0', sizeof(err)) && err[0]);
		goto cleanup;
	}
	t1 = bom_dumps(&a);
	must(t1 != NULL);
	must(bom_loads(&b, t1, strlen(t1), err, sizeof(err)) == 0);
	must(b.nfiles == a.nfiles && b.run.argc == a.run.argc);
	t2 = bom_dumps(&b);
	must(t2 && !strcmp(t1, t2));
	cdx = cdx_dumps(&a);
	must(cdx != NULL);
	prov = intoto_dumps(&a, NULL);
	must(prov != NULL);
cleanup:
	free(t1);
	free(t2);
	free(cdx);
	free(prov);
	bom_free(&a);
	bom_free(&b);
	return 0;
}
