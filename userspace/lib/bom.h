/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bom.h - aicert's own AI-BOM, bom.json, schema "aicert.bom/v1" (DESIGN.md):
 *
 *   { "schema": "aicert.bom/v1",
 *     "run": { "id", "command": [..], "cwd", "exit_code", "signal", "started", "finished",
 *              "backend", "events_lost", "paths_truncated", "complete", "detached" },
 *     "host": { "hostname", "kernel", "boot_id", "tpm" },
 *     "attested": bool,
 *     "files": [ { "path", "sha256", "size", "roles": [..], "category", "ima", "status"?,
 *                  "derived"? } ] }
 *
 * Strings that are NULL in memory are JSON null; "sha256" is null when the file was not hashed
 * and "status" is then present and says why. "derived" is present when no access of the run was
 * seen for the file and it was found from another one: "elf-interpreter", the PT_INTERP of a
 * program the run executed (tracepoint backend). "roles" lists input, output, executable, library
 * in that order. Files are sorted by (path, sha256) in byte order so the same run gives the same
 * text.
 *
 * Names are bytes (anything but NUL) and JSON is UTF-8. A value that is valid UTF-8 is written as
 * is (JSON escapes newlines and control characters). A value that is not is written twice:
 * "<key>" holds a display form in which each byte of an invalid sequence, and each '%', is
 * percent-encoded ("%FF", "%25"), and "<key>_b64" holds the exact bytes in base64 (RFC 4648).
 * bom_read takes the bytes from "<key>_b64" and rejects the document when "<key>" is not the
 * display form of those bytes. This applies to files[].path ("path_b64"), run.cwd ("cwd_b64") and
 * run.command ("command_b64": an array of base64 strings, present when any argument is invalid).
 */
#ifndef AICERT_LIB_BOM_H
#define AICERT_LIB_BOM_H
#include <stddef.h>
#include <stdint.h>

#include "lib/job.h"

#define BOM_SCHEMA "aicert.bom/v1"

enum bom_role {
	BOM_ROLE_INPUT = 1,
	BOM_ROLE_OUTPUT = 2,
	BOM_ROLE_EXECUTABLE = 4,
	BOM_ROLE_LIBRARY = 8
};
enum bom_ima { BOM_IMA_UNAVAILABLE = 0, BOM_IMA_MATCH, BOM_IMA_MISMATCH, BOM_IMA_ABSENT };
enum bom_derived { BOM_DERIVED_NONE = 0, BOM_DERIVED_ELF_INTERP = 1 };

struct bom_file {
	char *path;
	char sha256[65]; /* lowercase hex; "" when not hashed */
	uint64_t size;
	unsigned roles; /* enum bom_role bits */
	char *category;
	enum bom_ima ima;
	/*
	 * NULL when hashed fine, else "vanished", "unreadable: <why>", "changed while hashing",
	 * "replaced", "not a regular file", "deleted before the run ended" (an output), or
	 * "path truncated": the kernel cut the name; then sha256 is the digest of the inode the
	 * record named (hashed through a process that held it) or "" when none did.
	 */
	char *status;
	enum bom_derived derived;
};

struct bom_run {
	char *id;
	char **command;
	size_t argc;
	char *cwd;
	int exit_code; /* -1 and signal set when killed by a signal */
	int signal;
	char *started, *finished; /* RFC 3339 UTC */
	char *backend;
	uint64_t events_lost, paths_truncated;
	int complete;
	int detached; /* the run ended by --detach-timeout with processes left */
	char *cgroup;		  /* a tracked cgroup's path (track:); NULL: not written */
	char *incomplete_reason;  /* why the run is incomplete, when said; NULL: not written */
};

struct bom_host {
	char *hostname, *kernel, *boot_id;
	char *tpm; /* "none (unattested)" or a description */
};

struct bom {
	struct bom_run run;
	struct bom_host host;
	struct job_info job; /* "job", for a job step's run (written when scheduler is set) */
	int attested;
	struct bom_file *files;
	size_t nfiles, cap;
};

void bom_init(struct bom *b);
/*
 * Appends a file (path and sha256hex copied; sha256hex NULL: not hashed; it must be 64 hex
 * digits otherwise). Returns the new entry, valid until the next bom_add_file, or NULL when
 * memory ran out or sha256hex is malformed.
 */
struct bom_file *bom_add_file(struct bom *b, const char *path, const char *sha256hex);
/* Room for n more files without a reallocation (a writer that knows its count). 0 or -ENOMEM. */
int bom_reserve(struct bom *b, size_t n);
/* Sets run.command to a copy of argv[0..argc). 0 or -ENOMEM. */
int bom_set_command(struct bom *b, char *const *argv, size_t argc);
/* The text bom_write writes, NUL-terminated, malloc'd (free it); NULL on error with errno set. */
char *bom_dumps(const struct bom *b);
/* Files sorted by (path, sha256); pretty JSON; tmp + fsync + rename. 0 or -errno. */
int bom_write(const struct bom *b, const char *path);
/*
 * Strict: RFC 8259 JSON (UTF-8, no duplicate keys, integers within int64), schema "aicert.bom/v1",
 * every field present with its type, no unknown keys; keys in any order. b must be bom_init'ed (or
 * freed); on error it is left empty and err says what is wrong ("line L column C: ..." for broken
 * JSON, which is reported before a schema error). 0 or -1.
 */
int bom_read(struct bom *b, const char *path, char *err, size_t errlen);
/* Same from a buffer. */
int bom_loads(struct bom *b, const char *buf, size_t len, char *err, size_t errlen);
const char *bom_ima_name(enum bom_ima v);
/* "input", "output", "executable", "library" for one role bit; NULL for anything else. */
const char *bom_role_name(enum bom_role r);
/* The enum value, -1 for an unknown name. */
int bom_ima_parse(const char *s);
/*
 * Helpers for the other bundle writers (cdx.c, intoto.c), so that every document names a file
 * the same way.
 */
/* 1 when s is valid UTF-8 (RFC 3629). */
int bom_utf8_valid(const char *s);
/* malloc'd: s itself when valid UTF-8, else its display form (above). NULL when memory ran out. */
char *bom_display_name(const char *s);
/* malloc'd base64 (RFC 4648, padded) of s's bytes. NULL when memory ran out. */
char *bom_b64(const char *s);
/*
 * malloc'd array of pointers to b's files in bom_write's order (path, sha256), NULL-terminated
 * (free only the array). NULL with errno ENOMEM, or EINVAL when a file has no path.
 */
const struct bom_file **bom_sorted_files(const struct bom *b);
/* Writes text to path: tmp + fsync + rename + fsync of the directory. 0 or -errno. */
int bom_write_text(const char *path, const char *text);
/* bom_write_text of text made by a *_dumps function, then frees it; NULL text gives -errno (the
 * dumps function's error). */
int bom_write_dumped(const char *path, char *text);
/* Frees everything b holds and re-initialises it. NULL ok. */
void bom_free(struct bom *b);

#endif
