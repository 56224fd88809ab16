/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * collector.h - turns the ring buffer's records into measurements: applies the policy, follows
 * renames, hashes every input as soon as it is seen (on the hash pool) and every output under its
 * final name at run end, and fills the BOM's files[].
 */
#ifndef AICERT_TRACE_COLLECTOR_H
#define AICERT_TRACE_COLLECTOR_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/bom.h"
#include "lib/policy.h"
#include "trace/hashcache.h"

struct collector_opts {
	struct policy *policy;	 /* owned by the caller */
	struct hashcache *cache; /* may be NULL */
	int jobs;		 /* hash threads; <= 0: all cores */
	int progress;		 /* print progress lines on stderr during long work */
};

struct collector_stats {
	uint64_t records;      /* records received from the ring buffer */
	uint64_t malformed;    /* records with a bad size, type, kind or string, or a relative name
				* whose task is gone (no cwd to resolve it): dropped */
	uint64_t excluded;     /* accesses the policy dropped (outputs: also by their final name) */
	uint64_t inputs;       /* input measurements (read, exec, mmap) */
	uint64_t outputs;      /* files (inodes) written */
	uint64_t renames;      /* renames followed */
	uint64_t links;	       /* links to written files followed (names added) */
	uint64_t inherited;    /* regular files the command inherited as fds 0-2 */
	uint64_t interps;      /* ELF interpreters read from executables (tracepoint backend) */
	uint64_t processes;    /* execs seen */
	uint64_t unhashed;     /* files that could not be hashed (vanished, unreadable, changed) */
	uint64_t bytes_hashed; /* bytes actually read and hashed (cache misses) */
	uint64_t cache_hits;
	uint64_t hash_pending; /* files submitted to the hash pool and not hashed yet */
};

/* Called for every file measurement that lands in the BOM (e.g. to append it to the event log). */
typedef void (*collector_measure_cb)(const struct bom_file *f, void *ctx);

struct collector;

struct collector *collector_new(const struct collector_opts *opts);
/* An access_cb: feed it every record of the ring buffer (called on the drain thread). */
void collector_on_record(const void *rec, size_t len, void *ctx);
/*
 * The descriptors 0 .. n-1 of this process, which the command inherits (aicert-trace closes the
 * rest before exec): each that is a regular file is recorded like an open of the command, an
 * input when readable (hashed now) and an output when writable (hashed under its name at run
 * end; not fd 2, nor another fd on the same file, since aicert's own messages go there too).
 * Call before the command starts. Returns how many were recorded.
 */
int collector_inherit_fds(struct collector *c, int n);
/*
 * collector_inherit_fds for the descriptors 0 .. n-1 of another process (pid 0: this one), read
 * through /proc/PID/fd and fdinfo, e.g. those of a client's command that aicertd traces; its
 * files are hashed through /proc/PID/fd while it holds them. Returns how many were recorded, or
 * -errno (logged) when the process's descriptors cannot be read (gone, not permitted).
 */
int collector_inherit_fds_of(struct collector *c, pid_t pid, int n);
/*
 * After the drain has stopped: waits for the inputs' hashes, hashes the outputs under their final
 * names (following renames of the files and of directories above them) and adds every
 * measurement to bom->files. An output the run deleted, or replaced by another of its outputs
 * (rename over it), gets status "deleted before the run ended" and is not counted as unhashed.
 * A written file with several names (links the run made, or a name of it a rename replaced) is
 * measured under each name that still holds it at run end; when none of the others does, the
 * rules above apply to its latest name.
 * A file whose latest name the kernel cut (AC_F_PATH_TRUNC) keeps that cut name and gets status
 * "path truncated": the name is never opened or stat'ed (it may name another file); its sha256
 * is that of the record's inode when a process of the run still holds it (/proc/<pid>/fd or
 * map_files, checked by dev/ino), else empty (and counted as unhashed).
 * cb (may be NULL) sees each file added. Returns 0, or -errno when memory ran out.
 */
int collector_finish(struct collector *c, struct bom *bom, collector_measure_cb cb, void *cb_ctx);
void collector_stats(struct collector *c, struct collector_stats *out);
void collector_free(struct collector *c);

/* Kernel dev_t (MAJOR << 20 | MINOR, as in struct ac_file) to the userspace st_dev encoding. */
uint64_t collector_dev_from_kernel(uint64_t kdev);

#endif
