// SPDX-License-Identifier: BSD-2-Clause
/* fuzz_policy.c - policy_parse on arbitrary bytes, then matching with whatever it accepted. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {"/",
					    "/proc/1/maps",
					    "/data/a.csv",
					    "/a/b/c/d.py",
					    "/x/__pycache__/y.pyc",
					    "/usr/lib/libc.so.6",
					    ""};
	char err[256];
	uint8_t md[32];
	struct policy *p = policy_parse((const char *)data, size, "fuzz", err, sizeof(err));

	if (!p) {
		/* An error message is always set and terminated. */
		if (!memchr(err, '\0', sizeof(err)) || !err[0])
			__builtin_trap();
		return 0;
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		policy_excluded(p, paths[i], 0x9fa0);
		if (!policy_category(p, paths[i]))
			__builtin_trap();
	}
	/* The data's own text as a path exercises the glob matcher with odd input. */
	if (size && size < 512 && !memchr(data, '\0', size)) {
		char path[512];

		memcpy(path, data, size);
		path[size] = '\0';
		policy_excluded(p, path, 0);
		policy_category(p, path);
	}
	policy_digest(p, md);
	policy_free(p);
	return 0;
}
