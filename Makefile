# aicert - provenance for AI training runs. See README.md.
#
#   make            build everything into build/
#   make check      install test dependencies (as root), build, run every test (tests/run.sh)
#   make bench      run the benchmarks (bench/run.sh)
#   make demo       trace examples/train.py and verify the bundle
#   make install    PREFIX=/usr/local DESTDIR= (BINDIR, MANDIR, DATADIR, UNITDIR override the
#                   parts; UNITDIR, the systemd unit's, defaults to PREFIX/lib/systemd/system)
#   make uninstall  removes what make install put there (same variables)
#   make man        build/man/: the manual pages (help2man from each program's --help, plus
#                   docs/man/*.h2m for the sections --help does not hold; aicertd.8,
#                   aicert-policy.5)
#   make static     aicert-trace with libbpf/libelf/libz linked statically (for machines with no
#                   libbpf, e.g. the GPU host)
#   make asan       the same programs and tests built with ASan + UBSan into build-asan/
#   V=1             show the commands
#
# Sources are found by folder, so adding a module needs no Makefile edit:
#   userspace/lib/*.c    libaicert.a: pure formats and checks (no libbpf, no TPM access)
#   userspace/trace/*.c  libtrace.a: BPF loading, collector, hash pool, TPM writer, bundle
#   userspace/cmd/X.c    the program X
#   bpf/X.bpf.c          build/X.skel.h
#   tests/unit/test_X.c  build/tests/test_X (cmocka); tests/unit/test_X.ldflags adds link flags
#   tests/fuzz/fuzz_X.c  build/fuzz/fuzz_X (clang libFuzzer + ASan/UBSan)

VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
# systemd looks in /usr/local/lib/systemd/system and /usr/lib/systemd/system (/lib is /usr/lib
# on Debian 12), so the default follows PREFIX like every other installed file.
UNITDIR ?= $(PREFIX)/lib/systemd/system
BUILD ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
PKGS_LIB := openssl jansson yaml-0.1 tss2-mu
PKGS_TRACE := libbpf tss2-esys tss2-tctildr tss2-rc tss2-mu openssl jansson yaml-0.1
# Extra libraries of one program: aicertd alone talks to systemd (sd_notify).
PKGS_aicertd := libsystemd
pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs = $(shell pkg-config --libs $(1) 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -fno-strict-aliasing \
	-D_GNU_SOURCE -DAICERT_VERSION='"$(VERSION)"' -Iinclude -Iuserspace -I$(BUILD) \
	$(call pc_cflags,$(PKGS_TRACE) $(PKGS_aicertd)) $(EXTRA_CFLAGS)
LDFLAGS += $(EXTRA_LDFLAGS)
LIBS_LIB := $(call pc_libs,$(PKGS_LIB)) -lpthread
LIBS_TRACE := $(call pc_libs,$(PKGS_TRACE)) -lelf -lz -lpthread
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -D__BPF__ -Ivmlinux -Iinclude -Ibpf \
	-Wall -Werror -Wno-unused-function

LIB_SRCS := $(sort $(wildcard userspace/lib/*.c))
TRACE_SRCS := $(sort $(wildcard userspace/trace/*.c))
CMD_SRCS := $(sort $(wildcard userspace/cmd/*.c))
BPF_SRCS := $(sort $(wildcard bpf/*.bpf.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
TRACE_OBJS := $(TRACE_SRCS:%.c=$(BUILD)/%.o)
SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)
BPF_OBJS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
# Programs that an auditor runs link libaicert only (no libbpf, no TPM access).
VERIFY_CMDS := aicert-verify aicert
TRACE_CMDS := $(filter-out $(VERIFY_CMDS),$(CMD_SRCS:userspace/cmd/%.c=%))
CMDS := $(CMD_SRCS:userspace/cmd/%.c=$(BUILD)/%)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all check bench demo install uninstall man static unit fuzz asan deps clean format

all: $(CMDS) $(UNIT_BINS)

deps:
	$(Q)scripts/install-deps.sh

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) $(wildcard include/*.h) vmlinux/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# Every trace object may include any skeleton.
$(TRACE_OBJS): | $(SKELS)

$(BUILD)/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libaicert.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libtrace.a: $(TRACE_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(VERIFY_CMDS:%=$(BUILD)/%): $(BUILD)/%: $(BUILD)/userspace/cmd/%.o $(BUILD)/libaicert.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_LIB)

$(TRACE_CMDS:%=$(BUILD)/%): $(BUILD)/%: $(BUILD)/userspace/cmd/%.o $(BUILD)/libtrace.a $(BUILD)/libaicert.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_TRACE) $(if $(PKGS_$*),$(call pc_libs,$(PKGS_$*)))

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(BUILD)/libtrace.a $(BUILD)/libaicert.a
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(shell cat tests/unit/test_$*.ldflags 2>/dev/null) \
		$(BUILD)/libtrace.a $(BUILD)/libaicert.a $(LIBS_TRACE) -lcmocka

# libFuzzer targets compile the pure library with clang and the sanitizers.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -D_GNU_SOURCE -DAICERT_VERSION='"$(VERSION)"' -Iinclude -Iuserspace \
	$(call pc_cflags,$(PKGS_LIB))
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS) $(wildcard include/*.h userspace/lib/*.h)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(LIBS_LIB)

fuzz: $(FUZZ_BINS)

unit: $(UNIT_BINS)

# The whole suite once more with AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/).
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan EXTRA_CFLAGS="$(SAN_FLAGS)" \
		EXTRA_LDFLAGS="$(SAN_FLAGS)" all

check: deps
	$(Q)$(MAKE) --no-print-directory all fuzz asan
	$(Q)tests/run.sh

bench: all
	$(Q)bench/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

STATIC_BUILD ?= $(BUILD)-static
static:
	$(Q)$(MAKE) --no-print-directory BUILD=$(STATIC_BUILD) \
		LIBS_TRACE="-Wl,-Bstatic -lbpf -lelf -lz -Wl,-Bdynamic $(call pc_libs,tss2-esys tss2-tctildr tss2-rc tss2-mu openssl jansson yaml-0.1) -lpthread" \
		$(STATIC_BUILD)/aicert-trace

# The manual pages of the installed programs come from their own --help (help2man), so the two
# cannot drift; docs/man/PROG.h2m adds what --help does not say (exit status, files, examples).
# aicert-probe is a developer's tool for the kernel side (README "Tests"): built, not installed.
# aicertd is a system daemon: section 8. Its page exists once userspace/cmd/aicertd.c does (the
# program list comes from the sources), so a tree without it builds its other pages as before;
# its version is the Makefile's, so the page needs only aicertd --help.
INSTALL_CMDS := $(filter-out aicert-probe,$(CMD_SRCS:userspace/cmd/%.c=%))
DAEMON_CMDS := $(filter aicertd,$(INSTALL_CMDS))
MANS := $(filter-out $(DAEMON_CMDS:%=$(BUILD)/man/%.1),$(INSTALL_CMDS:%=$(BUILD)/man/%.1)) \
	$(DAEMON_CMDS:%=$(BUILD)/man/%.8) $(BUILD)/man/aicert-policy.5

man: $(MANS)

# help2man PROG SECTION [OPTIONS]
help2man = command -v help2man > /dev/null || \
		{ echo "make man: help2man is missing (apt-get install help2man)" >&2; exit 1; }; \
	help2man --no-info --no-discard-stderr --section=$(2) --source="aicert $(VERSION)" $(3) \
		--name="$$(sed -n 's/^\# name: //p' docs/man/$(1).h2m)" --include=docs/man/$(1).h2m \
		-o $@ $(BUILD)/$(1)

$(BUILD)/man/%.1: $(BUILD)/% docs/man/%.h2m
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(call help2man,$*,1)

$(BUILD)/man/%.8: $(BUILD)/% docs/man/%.h2m
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(call help2man,$*,8,--version-string="$(VERSION)")

$(BUILD)/man/aicert-policy.5: docs/man/aicert-policy.5
	$(Q)mkdir -p $(@D)
	$(Q)cp $< $@

# aicertd.service names the installed aicertd: @BINDIR@ becomes BINDIR (without DESTDIR).
install: $(INSTALL_CMDS:%=$(BUILD)/%) $(MANS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/aicert $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DATADIR)/bash-completion/completions \
		$(DESTDIR)$(UNITDIR) $(if $(DAEMON_CMDS),$(DESTDIR)$(MANDIR)/man8)
	install -m 755 $(INSTALL_CMDS:%=$(BUILD)/%) $(DESTDIR)$(BINDIR)/
	install -m 644 policy/default.yaml $(DESTDIR)$(DATADIR)/aicert/
	install -m 644 $(filter %.1,$(MANS)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(filter %.5,$(MANS)) $(DESTDIR)$(MANDIR)/man5/
	$(if $(DAEMON_CMDS),install -m 644 $(filter %.8,$(MANS)) $(DESTDIR)$(MANDIR)/man8/)
	sed 's|@BINDIR@|$(BINDIR)|g' scripts/aicertd.service > $(DESTDIR)$(UNITDIR)/aicertd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/aicertd.service
	for c in $(INSTALL_CMDS); do \
		install -m 644 scripts/aicert.bash-completion \
			$(DESTDIR)$(DATADIR)/bash-completion/completions/$$c || exit 1; done

uninstall:
	rm -f $(INSTALL_CMDS:%=$(DESTDIR)$(BINDIR)/%) $(DESTDIR)$(DATADIR)/aicert/default.yaml \
		$(INSTALL_CMDS:%=$(DESTDIR)$(MANDIR)/man1/%.1) $(DESTDIR)$(MANDIR)/man8/aicertd.8 \
		$(DESTDIR)$(MANDIR)/man5/aicert-policy.5 \
		$(INSTALL_CMDS:%=$(DESTDIR)$(DATADIR)/bash-completion/completions/%) \
		$(DESTDIR)$(UNITDIR)/aicertd.service
	-rmdir $(DESTDIR)$(DATADIR)/aicert 2> /dev/null

format:
	clang-format -i $(LIB_SRCS) $(TRACE_SRCS) $(CMD_SRCS) $(BPF_SRCS) $(wildcard include/*.h bpf/*.h userspace/*/*.h)

clean:
	rm -rf $(BUILD) $(BUILD)-static build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
