// SPDX-License-Identifier: BSD-2-Clause
/* fuzz_cel.c - the CEL decoder, the aicert content decoder and CEL-JSON on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cel_log log;
	struct cel_event ev;
	char err[CEL_ERR_MAX];
	size_t valid = 0;
	uint8_t *enc = NULL;
	size_t elen = 0;

	cel_log_decode(data, size, &log, &valid, err);
	if (valid > size)
		abort();
	for (size_t i = 0; i < log.n; i++) {
		json_t *j = cel_record_json(&log.recs[i]);
		uint8_t v[CEL_MAX_DIGEST] = {0};

		json_decref(j);
		cel_record_check_digests(&log.recs[i], err);
		cel_replay(&log, log.recs[i].index, 0x0b, v, v, err);
	}
	/* what decodes re-encodes (canonically: recnum 8 bytes, pcr 4) to the same records */
	if (!cel_log_encode(&log, &enc, &elen)) {
		struct cel_log back;

		if (cel_log_decode(enc, elen, &back, NULL, err) || back.n != log.n)
			abort();
		for (size_t i = 0; i < log.n; i++) {
			const struct cel_record *a = &log.recs[i], *b = &back.recs[i];

			if (a->recnum != b->recnum || a->index != b->index ||
			    a->content_len != b->content_len || a->digests.n != b->digests.n ||
			    (a->content_len && memcmp(a->content, b->content, a->content_len)))
				abort();
		}
		cel_log_free(&back);
	}
	free(enc);
	cel_log_free(&log);
	if (!cel_event_decode(data, size, &ev, err))
		cel_event_free(&ev);
	return 0;
}
