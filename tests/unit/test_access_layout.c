// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_access_layout.c - pins every size and offset of the records shared with the BPF programs
 * (include/access.h), and the numbers that are never renumbered, so that the kernel side, the
 * collector and old bundles cannot drift apart. Values as of the first release; a change here is
 * a format break.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "access.h"

static void test_ac_hdr(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ac_hdr), 24);
	assert_int_equal(offsetof(struct ac_hdr, type), 0);
	assert_int_equal(offsetof(struct ac_hdr, flags), 4);
	assert_int_equal(offsetof(struct ac_hdr, size), 8);
	assert_int_equal(offsetof(struct ac_hdr, backend), 12);
	assert_int_equal(offsetof(struct ac_hdr, cpu), 14);
	assert_int_equal(offsetof(struct ac_hdr, ktime), 16);
}

static void test_ac_task(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ac_task), 56);
	assert_int_equal(offsetof(struct ac_task, pid), 0);
	assert_int_equal(offsetof(struct ac_task, tgid), 4);
	assert_int_equal(offsetof(struct ac_task, start_time), 8);
	assert_int_equal(offsetof(struct ac_task, cgroup_id), 16);
	assert_int_equal(offsetof(struct ac_task, uid), 24);
	assert_int_equal(offsetof(struct ac_task, ppid), 28);
	assert_int_equal(offsetof(struct ac_task, comm), 32);
	assert_int_equal(offsetof(struct ac_task, scope), 48);
}

static void test_ac_file(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ac_file), 4248);
	assert_int_equal(offsetof(struct ac_file, hdr), 0);
	assert_int_equal(offsetof(struct ac_file, task), 24);
	assert_int_equal(offsetof(struct ac_file, dev), 80);
	assert_int_equal(offsetof(struct ac_file, ino), 88);
	assert_int_equal(offsetof(struct ac_file, size), 96);
	assert_int_equal(offsetof(struct ac_file, mtime_ns), 104);
	assert_int_equal(offsetof(struct ac_file, ctime_ns), 112);
	assert_int_equal(offsetof(struct ac_file, i_version), 120);
	assert_int_equal(offsetof(struct ac_file, kind), 128);
	assert_int_equal(offsetof(struct ac_file, fmode), 132);
	assert_int_equal(offsetof(struct ac_file, magic), 136);
	assert_int_equal(offsetof(struct ac_file, fd), 140);
	assert_int_equal(offsetof(struct ac_file, path_len), 144);
	assert_int_equal(offsetof(struct ac_file, i_generation), 148);
	assert_int_equal(offsetof(struct ac_file, path), 152);
}

static void test_ac_rename(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ac_rename), 4456);
	assert_int_equal(offsetof(struct ac_rename, hdr), 0);
	assert_int_equal(offsetof(struct ac_rename, task), 24);
	assert_int_equal(offsetof(struct ac_rename, dev), 80);
	assert_int_equal(offsetof(struct ac_rename, ino), 88);
	assert_int_equal(offsetof(struct ac_rename, name_len), 96);
	assert_int_equal(offsetof(struct ac_rename, path_len), 100);
	assert_int_equal(offsetof(struct ac_rename, name), 104);
	assert_int_equal(offsetof(struct ac_rename, path), 360);
}

static void test_ac_proc(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ac_proc), 96);
	assert_int_equal(offsetof(struct ac_proc, hdr), 0);
	assert_int_equal(offsetof(struct ac_proc, task), 24);
	assert_int_equal(offsetof(struct ac_proc, child_tgid), 80);
	assert_int_equal(offsetof(struct ac_proc, exit_code), 84);
	assert_int_equal(offsetof(struct ac_proc, child_start_time), 88);
}

static void test_ac_dedup_key(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ac_dedup_key), 40);
	assert_int_equal(offsetof(struct ac_dedup_key, scope), 0);
	assert_int_equal(offsetof(struct ac_dedup_key, dev), 8);
	assert_int_equal(offsetof(struct ac_dedup_key, ino), 16);
	assert_int_equal(offsetof(struct ac_dedup_key, kind), 24);
	assert_int_equal(offsetof(struct ac_dedup_key, _pad), 28);
	assert_int_equal(offsetof(struct ac_dedup_key, name), 32);
}

static void test_ac_dedup_val(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ac_dedup_val), 40);
	assert_int_equal(offsetof(struct ac_dedup_val, size), 0);
	assert_int_equal(offsetof(struct ac_dedup_val, mtime_ns), 8);
	assert_int_equal(offsetof(struct ac_dedup_val, ctime_ns), 16);
	assert_int_equal(offsetof(struct ac_dedup_val, i_version), 24);
	assert_int_equal(offsetof(struct ac_dedup_val, i_generation), 32);
	assert_int_equal(offsetof(struct ac_dedup_val, _pad), 36);
}

static void test_numbers(void **state)
{
	(void)state;
	assert_int_equal(AC_PATH_MAX, 4096);
	assert_int_equal(AC_NAME_MAX, 256);
	assert_int_equal(AC_COMM_LEN, 16);
	assert_int_equal(AC_REC_FILE, 1);
	assert_int_equal(AC_REC_RENAME, 2);
	assert_int_equal(AC_REC_EXEC, 3);
	assert_int_equal(AC_REC_FORK, 4);
	assert_int_equal(AC_REC_EXIT, 5);
	assert_int_equal(AC_KIND_READ, 1);
	assert_int_equal(AC_KIND_WRITE, 2);
	assert_int_equal(AC_KIND_EXEC, 3);
	assert_int_equal(AC_KIND_MMAP, 4);
	assert_int_equal(AC_F_PATH_TRUNC, 1);
	assert_int_equal(AC_F_PATH_REL, 2);
	assert_int_equal(AC_F_UNLINKED, 4);
	assert_int_equal(AC_F_CREATED, 8);
	assert_int_equal(AC_F_TRUNCATED, 16);
	assert_int_equal(AC_F_LINK, 32);
	assert_int_equal(AC_F_RECEIVED, 64);
	assert_int_equal(AC_BACKEND_LSM, 1);
	assert_int_equal(AC_BACKEND_TRACEPOINT, 2);
	assert_int_equal(AC_STAT_EVENTS, 0);
	assert_int_equal(AC_STAT_RB_DROPS, 1);
	assert_int_equal(AC_STAT_PATH_TRUNC, 2);
	assert_int_equal(AC_STAT_DEDUP_HITS, 3);
	assert_int_equal(AC_STAT_ERRORS, 4);
	assert_int_equal(AC_STAT_SCRATCH_BUSY, 5);
	assert_int_equal(AC_STAT_MAX, 8);
}

/* Records travel 8-aligned in the ring buffer and are copied into 8-aligned buffers. */
static void test_alignment(void **state)
{
	(void)state;
	assert_int_equal(_Alignof(struct ac_file), 8);
	assert_int_equal(_Alignof(struct ac_rename), 8);
	assert_int_equal(_Alignof(struct ac_proc), 8);
	assert_int_equal(sizeof(struct ac_file) % 8, 0);
	assert_int_equal(sizeof(struct ac_rename) % 8, 0);
	assert_int_equal(sizeof(struct ac_proc) % 8, 0);
	/* the variable part is last: a short path costs a short record */
	assert_int_equal(offsetof(struct ac_file, path) + AC_PATH_MAX, sizeof(struct ac_file));
	assert_int_equal(offsetof(struct ac_rename, path) + AC_PATH_MAX, sizeof(struct ac_rename));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ac_hdr),	 cmocka_unit_test(test_ac_task),
	    cmocka_unit_test(test_ac_file),	 cmocka_unit_test(test_ac_rename),
	    cmocka_unit_test(test_ac_proc),	 cmocka_unit_test(test_ac_dedup_key),
	    cmocka_unit_test(test_ac_dedup_val), cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_alignment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
