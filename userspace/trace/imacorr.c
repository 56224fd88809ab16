// SPDX-License-Identifier: BSD-2-Clause
/*
 * imacorr.c - files[].ima of bom.json from the kernel's IMA list, and the bundle's ima.bin.
 *
 * The list is read once, parsed with lib/ima, and indexed by recorded name so that a BOM of
 * many files against a long list costs O((files + records) log records), not their product.
 * The name is compared the way the kernel records it (spaces as '_'), and the latest record of
 * a name wins, as a file re-measured after a change gets a new record at the end of the list.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/hex.h"
#include "lib/ima.h"
#include "lib/log.h"
#include "trace/imacorr.h"

struct name_ix {
	const char *name;
	size_t idx;
};

static void set_all(struct bom *bom, enum bom_ima v)
{
	for (size_t i = 0; i < bom->nfiles; i++)
		bom->files[i].ima = v;
}

/* Opens the list; -ENOENT/-EACCES etc. mean "IMA is not available here". */
static int open_list(const char *ima_path, const char **used)
{
	int fd;

	*used = ima_path ? ima_path : IMACORR_DEFAULT_PATH;
	fd = open(*used, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && !ima_path && errno == ENOENT) {
		*used = IMACORR_ALT_PATH;
		fd = open(*used, O_RDONLY | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

static int write_bin(const char *dir, const uint8_t *buf, size_t len)
{
	char *path = NULL;
	int ret;

	if (asprintf(&path, "%s/%s", dir, IMACORR_BUNDLE_NAME) < 0)
		return -ENOMEM;
	/* 0644 whatever the umask: verifiers read the bundle as other users. */
	ret = fileio_write_atomic(path, buf, len, 0644, FILEIO_EXACT_MODE);
	if (ret)
		log_err("cannot write %s: %s", path, strerror(-ret));
	free(path);
	return ret;
}

static int cmp_ix(const void *a, const void *b)
{
	const struct name_ix *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static struct name_ix *build_index(const struct ima_list *l, size_t *n)
{
	struct name_ix *ix = calloc(l->count ? l->count : 1, sizeof(*ix));

	*n = 0;
	if (!ix)
		return NULL;
	for (size_t i = 0; i < l->count; i++)
		if (l->entries[i].file_name)
			ix[(*n)++] = (struct name_ix){l->entries[i].file_name, i};
	qsort(ix, *n, sizeof(*ix), cmp_ix);
	return ix;
}

/* The latest record whose recorded name is name (already in the kernel's encoding). */
static const struct name_ix *find_latest(const struct name_ix *ix, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	/* first index whose name sorts after name; the one before it is the latest match */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ix[mid].name, name) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || strcmp(ix[lo - 1].name, name))
		return NULL;
	return &ix[lo - 1];
}

/* The kernel records a space in a name as '_' (ima_eventname_init_common). */
static char *kernel_name(const char *path)
{
	char *s = strdup(path);

	for (char *p = s; p && *p; p++)
		if (*p == ' ')
			*p = '_';
	return s;
}

static enum bom_ima judge(struct bom_file *f, const struct ima_entry *e, struct imacorr_stats *st)
{
	char ima_hex[2 * IMA_MAX_DIGEST + 1];
	uint8_t ours[32];

	if (e->violation) {
		st->violations++;
		log_warn(
		    "IMA MISMATCH: %s: IMA recorded a violation for it (opened for write while "
		    "measured, or measured while open for write), aicert measured sha256:%s",
		    f->path, f->sha256);
		return BOM_IMA_MISMATCH;
	}
	/* Only a sha256 file digest compares with ours; verity digests are not file hashes. */
	if (!e->file_digest || strcmp(e->hash_algo, "sha256") || e->file_digest_len != 32 ||
	    (e->digest_type[0] && strcmp(e->digest_type, "ima"))) {
		st->other_algo++;
		log_debug("IMA measured %s with %s%s%s, not comparable with sha256", f->path,
			  e->digest_type, e->digest_type[0] ? ":" : "",
			  e->hash_algo[0] ? e->hash_algo : "no digest");
		return BOM_IMA_UNAVAILABLE;
	}
	if (hex_decode(f->sha256, ours, sizeof(ours)))
		return BOM_IMA_UNAVAILABLE;
	if (!memcmp(ours, e->file_digest, sizeof(ours)))
		return BOM_IMA_MATCH;
	hex_encode(e->file_digest, e->file_digest_len, ima_hex);
	log_warn("IMA MISMATCH: %s: IMA measured %s:%s, aicert measured sha256:%s", f->path,
		 e->hash_algo, ima_hex, f->sha256);
	return BOM_IMA_MISMATCH;
}

static int correlate(struct bom *bom, const struct ima_list *l, struct imacorr_stats *st)
{
	size_t n;
	struct name_ix *ix = build_index(l, &n);

	if (!ix)
		return -ENOMEM;
	for (size_t i = 0; i < bom->nfiles; i++) {
		struct bom_file *f = &bom->files[i];
		const struct name_ix *hit;
		char *name;

		f->ima = BOM_IMA_UNAVAILABLE;
		if (!f->sha256[0] || !f->path || f->status) /* a cut name may name another file */
			continue;
		name = kernel_name(f->path);
		if (!name) {
			free(ix);
			return -ENOMEM;
		}
		hit = find_latest(ix, n, name);
		free(name);
		f->ima = hit ? judge(f, &l->entries[hit->idx], st) : BOM_IMA_ABSENT;
	}
	free(ix);
	return 0;
}

static void count(const struct bom *bom, struct imacorr_stats *st)
{
	for (size_t i = 0; i < bom->nfiles; i++) {
		switch (bom->files[i].ima) {
		case BOM_IMA_MATCH:
			st->matched++;
			break;
		case BOM_IMA_MISMATCH:
			st->mismatched++;
			break;
		case BOM_IMA_ABSENT:
			st->absent++;
			break;
		default:
			st->unavailable++;
		}
	}
}

/* binary_runtime_measurements_<algo> carries that bank's template digests (kernels >= 6.10). */
static const char *list_algo(const char *path)
{
	const char *base = strrchr(path, '/');
	static const char stem[] = "binary_runtime_measurements_";

	base = base ? base + 1 : path;
	if (strncmp(base, stem, sizeof(stem) - 1))
		return NULL;
	return base + sizeof(stem) - 1;
}

int imacorr_run(struct bom *bom, const char *bundle_dir, const char *ima_path,
		struct imacorr_stats *st)
{
	struct imacorr_stats local;
	struct ima_list l = {0};
	struct ima_parse_opts o = {0};
	const char *used;
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[256];
	int fd, ret;

	st = st ? st : &local;
	memset(st, 0, sizeof(*st));
	set_all(bom, BOM_IMA_UNAVAILABLE);
	fd = open_list(ima_path, &used);
	if (fd < 0) {
		if (fd == -ENOENT && bom->nfiles)
			log_info("IMA is off (no %s): files[].ima is \"unavailable\"", used);
		else
			log_warn("cannot read the IMA list %s: %s; files[].ima is \"unavailable\"",
				 used, strerror(-fd));
		st->unavailable = bom->nfiles;
		return 0;
	}
	/* securityfs files report size 0; the list only grows while we read */
	ret = fileio_read_fd(fd, IMA_MAX_LIST, &buf, &len);
	close(fd);
	if (ret) {
		log_err("cannot read the IMA list %s: %s", used, strerror(-ret));
		goto cleanup;
	}
	o.digest_algo = list_algo(used);
	if (ima_parse(buf, len, &o, &l, err, sizeof(err))) {
		log_err("cannot parse the IMA list %s: %s", used, err);
		ret = -EBADMSG;
		goto cleanup;
	}
	st->entries = l.count;
	ret = write_bin(bundle_dir, buf, len);
	if (ret)
		goto cleanup;
	st->ima_on = 1;
	ret = correlate(bom, &l, st);
	if (ret) {
		set_all(bom, BOM_IMA_UNAVAILABLE);
		log_err("cannot correlate with the IMA list: %s", strerror(-ret));
		goto cleanup;
	}
	count(bom, st);
	if (st->other_algo)
		log_warn("IMA measured %zu files with another algorithm than sha256 (boot with "
			 "ima_hash=sha256 to compare): their \"ima\" is \"unavailable\"",
			 st->other_algo);
	/* an empty BOM only refreshes ima.bin (aicert-trace does that after the quote) */
	if (bom->nfiles)
		log_info("IMA: %zu records; %zu files match, %zu mismatch, %zu absent, %zu "
			 "unavailable", st->entries, st->matched, st->mismatched, st->absent,
			 st->unavailable);
cleanup:
	if (ret)
		st->unavailable = bom->nfiles;
	ima_list_free(&l);
	free(buf);
	return ret;
}
