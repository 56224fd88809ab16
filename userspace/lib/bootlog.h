/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bootlog.h - the firmware's TCG PC Client event log (the kernel's
 * /sys/kernel/security/tpm0/binary_bios_measurements, a bundle's boot.bin): parse the
 * crypto-agile format, replay it into PCRs 0-23 per bank, render it as tpm2_eventlog's YAML, and
 * read off the facts an auditor asks about (Secure Boot, PK/KEK/db/dbx, boot applications, the
 * kernel command line and initrd, EFI actions, separators).
 *
 * Format: TCG PC Client Platform Firmware Profile (PFP) 1.05, section 10: a first event in the
 * SHA1 format (TCG_PCClientPCREvent) holding TCG_EfiSpecIDEvent ("Spec ID Event03"), which names
 * the banks and their digest sizes, then TCG_PCR_EVENT2 records. All integers little-endian.
 */
#ifndef AICERT_BOOTLOG_H
#define AICERT_BOOTLOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BOOTLOG_MAX_LOG (16u << 20) /* largest log accepted (real ones are 5-100 KiB) */
#define BOOTLOG_MAX_EVENTS 65536    /* most events accepted */
#define BOOTLOG_MAX_EVENT (1u << 20) /* largest event data accepted */
#define BOOTLOG_MAX_BANKS 8
#define BOOTLOG_PCRS 24
#define BOOTLOG_MAX_DIGEST 64

/* Event types (PFP 10.4.1) this code names or decodes. */
enum {
	EV_PREBOOT_CERT = 0x0,
	EV_POST_CODE = 0x1,
	EV_NO_ACTION = 0x3,
	EV_SEPARATOR = 0x4,
	EV_ACTION = 0x5,
	EV_EVENT_TAG = 0x6,
	EV_S_CRTM_CONTENTS = 0x7,
	EV_S_CRTM_VERSION = 0x8,
	EV_CPU_MICROCODE = 0x9,
	EV_PLATFORM_CONFIG_FLAGS = 0xa,
	EV_TABLE_OF_DEVICES = 0xb,
	EV_COMPACT_HASH = 0xc,
	EV_IPL = 0xd,
	EV_IPL_PARTITION_DATA = 0xe,
	EV_NONHOST_CODE = 0xf,
	EV_NONHOST_CONFIG = 0x10,
	EV_NONHOST_INFO = 0x11,
	EV_OMIT_BOOT_DEVICE_EVENTS = 0x12,
	EV_EFI_VARIABLE_DRIVER_CONFIG = 0x80000001,
	EV_EFI_VARIABLE_BOOT = 0x80000002,
	EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003,
	EV_EFI_BOOT_SERVICES_DRIVER = 0x80000004,
	EV_EFI_RUNTIME_SERVICES_DRIVER = 0x80000005,
	EV_EFI_GPT_EVENT = 0x80000006,
	EV_EFI_ACTION = 0x80000007,
	EV_EFI_PLATFORM_FIRMWARE_BLOB = 0x80000008,
	EV_EFI_HANDOFF_TABLES = 0x80000009,
	EV_EFI_PLATFORM_FIRMWARE_BLOB2 = 0x8000000a,
	EV_EFI_HANDOFF_TABLES2 = 0x8000000b,
	EV_EFI_VARIABLE_BOOT2 = 0x8000000c,
	EV_EFI_HCRTM_EVENT = 0x80000010,
	EV_EFI_VARIABLE_AUTHORITY = 0x800000e0,
	EV_EFI_SPDM_FIRMWARE_BLOB = 0x800000e1,
	EV_EFI_SPDM_FIRMWARE_CONFIG = 0x800000e2,
};

struct bootlog_bank {
	uint16_t alg;  /* TPM_ALG_ID */
	uint16_t size; /* digest size the Spec ID event gives it */
};

struct bootlog_event {
	size_t offset; /* of the event in the log */
	uint32_t num;  /* 0 for the Spec ID event, as tpm2_eventlog numbers them */
	uint32_t pcr;
	uint32_t type;
	unsigned ndigests;		     /* 0 for the Spec ID event (SHA1 format, digest zero) */
	uint16_t alg[BOOTLOG_MAX_BANKS];     /* in the event's order */
	const uint8_t *digest[BOOTLOG_MAX_BANKS]; /* into the log; size from the bank */
	const uint8_t *data;
	uint32_t size;
};

struct bootlog {
	struct bootlog_event *events; /* events[0] is the Spec ID event */
	size_t n;
	struct bootlog_bank banks[BOOTLOG_MAX_BANKS];
	unsigned nbanks;
	uint32_t platform_class;
	uint8_t spec_minor, spec_major, spec_errata, uintn_size;
	uint8_t vendor_info_size;
	int startup_locality; /* from a StartupLocality EV_NO_ACTION event; -1 when none */
};

/*
 * Parses a whole log (the caller keeps buf alive while l is used). Every length is checked
 * against what remains before it is read; a digest of an algorithm the Spec ID event does not
 * list, a bank missing from an event, an oversized event or any byte after the last event
 * (zeros included) is an error. 0, or -1 with err set.
 */
int bootlog_parse(const uint8_t *buf, size_t len, struct bootlog *l, char *err, size_t errlen);
void bootlog_free(struct bootlog *l);

/* "EV_SEPARATOR", ...; NULL for a type this file does not name. */
const char *bootlog_type_name(uint32_t type);

/* Index of alg among the log's banks, or -1. */
int bootlog_bank(const struct bootlog *l, uint16_t alg);

/*
 * Replays every event but EV_NO_ACTION into pcrs[0..23] of bank alg (each bank's own size),
 * starting from zero (PCR 0 from the startup locality when the log has one). 0, or -1 with err
 * set (the log has no such bank, or the algorithm is unknown to OpenSSL).
 */
int bootlog_replay(const struct bootlog *l, uint16_t alg, uint8_t pcrs[BOOTLOG_PCRS][BOOTLOG_MAX_DIGEST],
		   uint32_t *used, char *err, size_t errlen);

/* Writes the log in tpm2_eventlog's YAML (version 1): events, then the replayed pcrs. */
int bootlog_render_yaml(FILE *f, const struct bootlog *l);

/* A measured UEFI variable (EV_EFI_VARIABLE_*: UEFI_VARIABLE_DATA). */
struct bootlog_var {
	uint8_t guid[16];
	char name[64];	      /* UTF-16LE name as UTF-8 ('?' for what is not BMP ASCII) */
	const uint8_t *data;  /* VariableData */
	uint64_t data_len;
};

/* Decodes a UEFI_VARIABLE_DATA event; -1 when the data is not one. */
int bootlog_var(const struct bootlog_event *e, struct bootlog_var *v);

/* What the log says about the boot, for humans and for --boot-policy. */
struct bootlog_facts {
	int secure_boot;  /* SecureBoot variable in PCR 7: 1 on, 0 off, -1 not measured */
	struct bootlog_sbvar {
		bool present;
		uint8_t sha256[32]; /* of the variable's data as measured */
		uint64_t len;
		unsigned entries;   /* EFI_SIGNATURE_DATA entries in its signature lists */
	} pk, kek, db, dbx;
	unsigned apps;	       /* EV_EFI_BOOT_SERVICES_APPLICATION events in PCR 4 */
	uint8_t app_sha256[8][32]; /* the first 8 of them: the PE (Authenticode) digest in the log */
	unsigned authorities;  /* EV_EFI_VARIABLE_AUTHORITY events (images verified by db) */
	const char *cmdline;   /* PCR 8/9/12 kernel command line as logged, NUL-terminated copy */
	bool initrd;	       /* PCR 9 "Linux initrd" tagged event (the EFI stub's LoadFile2) */
	uint8_t initrd_sha256[32];
	unsigned actions;      /* EV_EFI_ACTION events */
	bool exit_boot_services; /* "Exit Boot Services Invocation" logged */
	uint32_t separators;   /* bit n: PCR n has an EV_SEPARATOR */
	uint32_t separator_errors; /* bit n: PCR n's separator says "error" (value 1) */
	char *owned;	       /* storage behind cmdline */
};

/* Reads the facts off a parsed log (the log's sha256 bank must exist). 0, or -1 with err set. */
int bootlog_facts(const struct bootlog *l, struct bootlog_facts *f, char *err, size_t errlen);
void bootlog_facts_free(struct bootlog_facts *f);

/* The facts in plain words, one per line (aicert show --facts, aicert-verify). */
int bootlog_facts_print(FILE *out, const struct bootlog_facts *f);

#endif
