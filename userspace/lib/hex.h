/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef AICERT_HEX_H
#define AICERT_HEX_H
#include <stddef.h>
#include <stdint.h>

/* Writes 2*len lowercase hex digits and a NUL into out (2*len+1 bytes). */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly 2*len hex digits (either case) from in; -1 on any other input. */
int hex_decode(const char *in, uint8_t *out, size_t len);

#endif
