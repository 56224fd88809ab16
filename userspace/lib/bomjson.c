// SPDX-License-Identifier: BSD-2-Clause
#include "lib/bomjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/bom.h"

json_t *bomjson_name(const char *s)
{
	char *d = s ? bom_display_name(s) : NULL;
	json_t *j = d ? json_string(d) : NULL;

	free(d);
	return j;
}

char *bomjson_dumps(json_t *doc)
{
	char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL, *t = NULL;

	if (s && asprintf(&t, "%s\n", s) < 0)
		t = NULL;
	if (!t)
		errno = ENOMEM;
	json_decref(doc);
	free(s);
	return t;
}
