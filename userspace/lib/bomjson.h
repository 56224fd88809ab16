/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the jansson-built documents made from a struct bom (bom.cdx.json,
 * provenance.intoto.json) share: file names as JSON strings, and the text form.
 */
#ifndef AICERT_BOMJSON_H
#define AICERT_BOMJSON_H
#include <jansson.h>

/* A JSON string for any bytes (bom_display_name form): json_string() refuses invalid UTF-8.
 * NULL s, or no memory, gives NULL. */
json_t *bomjson_name(const char *s);

/* doc as text, indented by 2 in insertion order, with a final newline; takes doc's reference
 * (NULL ok). NULL with errno ENOMEM on failure. */
char *bomjson_dumps(json_t *doc);

#endif
