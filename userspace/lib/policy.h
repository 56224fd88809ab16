/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * policy.h - what the collector records and how it labels it, read with libyaml from
 * policy/default.yaml or -p FILE (the format is documented at the top of policy/default.yaml).
 *
 * A policy is: path-prefix excludes, filesystem excludes (by name, e.g. "proc", mapped to the
 * superblock magic the kernel reports), glob excludes (fnmatch, "**" spans directories), and an
 * ordered list of category rules (glob -> category name), first match wins. Its track: section
 * names cgroups (path globs below the cgroup v2 root) that aicertd traces as runs of their own.
 */
#ifndef AICERT_LIB_POLICY_H
#define AICERT_LIB_POLICY_H
#include <stddef.h>
#include <stdint.h>

struct policy;

/* NULL on failure with err holding "FILE:LINE:COLUMN: what is wrong". */
struct policy *policy_load(const char *path, char *err, size_t errlen);
/* Same, from a buffer; name is used in error messages. */
struct policy *policy_parse(const char *buf, size_t len, const char *name, char *err,
			    size_t errlen);
/* The built-in copy of policy/default.yaml (a unit test checks they agree). NULL without memory. */
struct policy *policy_default(void);
/* The built-in policy's YAML text. */
const char *policy_default_text(void);
/* 1 when the access is not recorded. fs_magic 0: unknown (only path rules apply). */
int policy_excluded(const struct policy *p, const char *path, uint32_t fs_magic);
/* Adds a path-prefix exclude (e.g. the bundle's own output directory). 0 or -ENOMEM/-EINVAL. */
int policy_add_exclude(struct policy *p, const char *prefix);
/*
 * The category of path by the policy's rules ("dataset", "code", "model", "config", "library",
 * "interpreter", ...), first match wins, "other" when none. The string lives as long as p.
 */
const char *policy_category(const struct policy *p, const char *path);
/* The most globs a track: section may hold (each one is matched against every new cgroup). */
#define POLICY_TRACK_MAX 256
/*
 * The track: section: cgroup path globs relative to the cgroup v2 root, each starting with "/"
 * (policy_glob_match syntax). Returns how many; *globs lives as long as p. The built-in policy
 * has none.
 */
size_t policy_track(const struct policy *p, const char *const **globs);
/* sha256 of the policy's source bytes (the YAML text it was parsed from; track: included). */
void policy_digest(const struct policy *p, uint8_t out[32]);
/* The filesystem magic for a name of the policy's "filesystems" list, 0 when unknown. */
uint32_t policy_fs_magic(const char *name);
/*
 * Glob match as the policy uses it: fnmatch(FNM_PATHNAME) where "**" also matches any number of
 * whole directories ("**" + "/" may match nothing). A pattern without a "/" is matched against
 * the last path component only. 1 on match.
 */
int policy_glob_match(const char *pattern, const char *path);
/* NULL ok. */
void policy_free(struct policy *p);

#endif
