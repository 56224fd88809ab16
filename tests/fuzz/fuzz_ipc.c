// SPDX-License-Identifier: BSD-2-Clause
/* fuzz_ipc.c - ipc_decode on arbitrary bytes (what a peer can put in a datagram), then the
 * checks a receiver makes on what it accepted: the "files" names of a bundle message. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *m, *files, *v;
	size_t i;
	char *again;

	if (ipc_decode(data, size, &m)) {
		if (m)
			__builtin_trap();
		return 0;
	}
	/* what decodes is an object with a string "op" */
	if (!json_is_object(m) || !json_is_string(json_object_get(m, "op")))
		__builtin_trap();
	files = json_object_get(m, "files");
	json_array_foreach(files, i, v)
	{
		const char *s = json_string_value(v);

		if (s && ipc_name_ok(s) && (strchr(s, '/') || !strcmp(s, "..") || !strcmp(s, ".")))
			__builtin_trap();
	}
	/* a decoded message encodes again within the limit it was read under, and decodes */
	again = json_dumps(m, JSON_COMPACT);
	if (again) {
		json_t *m2;

		if (strlen(again) <= IPC_MSG_MAX && ipc_decode(again, strlen(again), &m2) == 0) {
			if (!json_equal(m, m2))
				__builtin_trap();
			json_decref(m2);
		}
		free(again);
	}
	json_decref(m);
	return 0;
}
