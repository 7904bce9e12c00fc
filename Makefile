# probe: BPF programs, skeletons, the userspace binary and its tests.
#
#   make              build ./probe
#   make test-unit    build and run the unit tests
#   make SAN=1 ...    the same with AddressSanitizer + UBSan, in build-san/
#   make V=1          show full commands
#   make clean
#
# Generated files (vmlinux.h, .bpf.o, .skel.h, objects) live under $(OUT)
# and are never committed.

CC	?= cc
CLANG	?= clang
BPFTOOL	?= bpftool
LLVM_STRIP ?= llvm-strip
PKG_CONFIG ?= pkg-config

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')

ifeq ($(SAN),1)
OUT	?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
OUT	?= build
SANFLAGS :=
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARN	:= -Wall -Wextra -Werror
CFLAGS	?= -O2 -g
CFLAGS	+= $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(OUT) $(SANFLAGS) -MMD -MP
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Wno-unused-function -Wno-unused-parameter \
	-D__BPF__ -Iinclude -I$(OUT) -Ibpf -MMD -MP
LIBS	:= -lbpf -lelf -lz -lcjson -laudit -ldw -lm -lpthread -lmicrohttpd -lcurl
LDFLAGS	+= $(SANFLAGS)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUT)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
USER_SRCS := $(shell find user -name '*.c' | sort)
USER_OBJS := $(patsubst %.c,$(OUT)/%.o,$(USER_SRCS))
CORE_OBJS := $(filter-out $(OUT)/user/main.o,$(USER_OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
FIXTURE_SRCS := $(wildcard tests/fixtures/*.c)
FIXTURE_BINS := $(patsubst tests/fixtures/%.c,$(OUT)/fixtures/%,$(FIXTURE_SRCS))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean test-unit unit fixtures bench fuzz

all: probe

ifeq ($(SAN),1)
probe: $(OUT)/probe
else
probe: $(OUT)/probe
	$(Q)cp $< $@
endif

# vmlinux.h comes from the repository (include/vmlinux/<arch>/, dumped once
# from a recent kernel's BTF), not from the build host: a Debian 12 host's
# 6.1 BTF lacks types the programs name, and CO-RE resolves every field
# against the running kernel at load time anyway (older layouts are
# flavours in bpf/lib/core_fixes.bpf.h). An architecture with no vendored
# header falls back to the build host's BTF. `make vmlinux-update` re-dumps
# the vendored one from VMLINUX_BTF.
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
VMLINUX_VENDORED := $(wildcard include/vmlinux/$(ARCH)/vmlinux.h)

ifneq ($(VMLINUX_VENDORED),)
$(OUT)/vmlinux.h: $(VMLINUX_VENDORED)
	$(call msg,CP,$@)
	$(Q)mkdir -p $(@D)
	$(Q)cp $< $@
else
$(OUT)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@
endif

.PHONY: vmlinux-update
vmlinux-update:
	$(call msg,GEN,include/vmlinux/$(ARCH)/vmlinux.h)
	$(Q)mkdir -p include/vmlinux/$(ARCH)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > include/vmlinux/$(ARCH)/vmlinux.h

$(OUT)/bpf/%.bpf.o: bpf/%.bpf.c $(OUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The skeleton embeds its object without DWARF (about 4 of the binary's 6 MB);
# .BTF and .BTF.ext, which CO-RE and the loader need, are not debug sections
# and stay.
$(OUT)/%.skel.h: $(OUT)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(LLVM_STRIP) -g $< -o $(OUT)/bpf/$*.stripped.o
	$(Q)$(BPFTOOL) gen skeleton $(OUT)/bpf/$*.stripped.o name $(subst -,_,$*)_bpf > $@

# Userspace objects may include any skeleton; after the first build the
# generated .d files give the exact dependencies.
$(OUT)/user/%.o: user/%.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/probe: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(OUT)/libprobe.a: $(CORE_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/tests/%: tests/unit/%.c $(OUT)/libprobe.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(OUT)/libprobe.a $(LDFLAGS) $(LIBS) -lcmocka

# OpenSSL linked into the executable (libssl-dev's libssl.a and libcrypto.a).
$(OUT)/fixtures/tls_static_client: tests/fixtures/tls_static_client.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g $(WARN) -o $@ $< -Wl,-Bstatic -lssl -lcrypto -Wl,-Bdynamic -lpthread

# Fixtures are built twice: with and without frame pointers.
$(OUT)/fixtures/%: tests/fixtures/%.c $(wildcard tests/fixtures/*.h)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -fno-omit-frame-pointer $(WARN) -o $@ $< -lpthread
	$(Q)$(CC) -O1 -g -fomit-frame-pointer $(WARN) -o $@-nofp $< -lpthread

fixtures: $(FIXTURE_BINS)

BENCH_BPF  := $(wildcard tests/bench/*.bpf.c)
BENCH_SRCS := $(filter-out $(BENCH_BPF),$(wildcard tests/bench/*.c))
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(BENCH_SRCS))

$(OUT)/bench/%: tests/bench/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g $(WARN) -o $@ $<

# The hook-cost floor for bench-syscalls: a BPF object of its own.
$(OUT)/bench/%.bpf.o: tests/bench/%.bpf.c $(OUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/bench/%.skel.h: $(OUT)/bench/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(OUT)/bench/hook_floor: tests/bench/hook_floor.c $(OUT)/bench/hook_floor.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g $(WARN) -I$(OUT)/bench -o $@ $< -lbpf -lelf -lz

# The floor under the http signal, for bench-http.
$(OUT)/bench/http_floor: tests/bench/http_floor.c $(OUT)/bench/http_floor.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g $(WARN) -I$(OUT)/bench -o $@ $< -lbpf -lelf -lz

# The least an HTTP timer there does, for bench-http.
$(OUT)/bench/http_least: tests/bench/http_least.c $(OUT)/bench/http_least.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g $(WARN) -I$(OUT)/bench -o $@ $< -lbpf -lelf -lz

# The alert evaluation benchmark links the probe's own code.
$(OUT)/bench/alert_eval: tests/bench/alert_eval.c $(OUT)/libprobe.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(OUT)/libprobe.a $(LDFLAGS) $(LIBS)

bench: $(BENCH_BINS)

# Fuzzers (libFuzzer with ASan and UBSan): the socket capture's shared
# handler and parsers compiled for the host through tests/fuzz/shim/, one
# binary per protocol (classify: all of them behind classification), route
# normalization, and DNS answers. scripts/fuzz.sh runs them.
FUZZ_SOCK   := http pgsql redis mysql classify
FUZZ_BINS   := $(patsubst %,$(OUT)/fuzz/fuzz_%,$(FUZZ_SOCK) route dns)
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer $(WARN) -Wno-unused-function -Wno-unused-parameter -std=gnu11 \
	-D_GNU_SOURCE -Itests/fuzz/shim -Ibpf -Iinclude -Iuser -MMD -MP
FUZZ_PROTO_http     := PROBE_PROTO_HTTP
FUZZ_PROTO_pgsql    := PROBE_PROTO_PGSQL
FUZZ_PROTO_redis    := PROBE_PROTO_REDIS
FUZZ_PROTO_mysql    := PROBE_PROTO_MYSQL
FUZZ_PROTO_classify := PROBE_PROTO_UNKNOWN

$(OUT)/fuzz/fuzz_route: tests/fuzz/fuzz_route.c user/core/route.c
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $^

$(OUT)/fuzz/fuzz_dns: tests/fuzz/fuzz_dns.c user/proc/dns_msg.c user/proc/peer_names.c
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $^

$(OUT)/fuzz/fuzz_%: tests/fuzz/fuzz_sockets.c
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -DFUZZ_PROTO=$(FUZZ_PROTO_$*) -o $@ $<

fuzz: $(FUZZ_BINS)

# The socket handler's unit tests compile the BPF parsers for the host.
$(OUT)/tests/test_sockets: CFLAGS += -Itests/fuzz/shim -Ibpf -Wno-unused-function \
	-Wno-unused-parameter -Wno-unknown-pragmas

unit: $(UNIT_BINS)

# Runs every unit test binary; cmocka prints each suite's summary, and the
# last line totals them so an empty run is visible.
test-unit: $(UNIT_BINS)
	$(Q)pass=0; fail=0; for t in $(UNIT_BINS); do \
		if $$t; then pass=$$((pass+1)); else fail=$$((fail+1)); fi; \
	done; echo "unit-binaries: $$pass passed, $$fail failed"; [ $$fail -eq 0 ] && [ $$pass -gt 0 ]

# Install for a systemd host: make install [PREFIX=/usr/local] [DESTDIR=staging]
# The unit's paths follow PREFIX and SYSCONFDIR; an existing config is kept.
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR	?= $(PREFIX)/lib/systemd/system
DOCDIR	?= $(PREFIX)/share/doc/probe

.PHONY: install uninstall
install: probe
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 probe $(DESTDIR)$(BINDIR)/probe
	$(Q)install -d $(DESTDIR)$(UNITDIR)
	$(Q)sed -e 's|/usr/local/bin/|$(BINDIR)/|' -e 's|/usr/local/share/doc/probe/|$(DOCDIR)/|' \
		-e 's|/etc/probe/|$(SYSCONFDIR)/probe/|' deploy/systemd/probe.service \
		> $(DESTDIR)$(UNITDIR)/probe.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/probe.service
	$(Q)[ -e $(DESTDIR)$(SYSCONFDIR)/probe/config.json ] || \
		install -D -m 0644 deploy/config.json $(DESTDIR)$(SYSCONFDIR)/probe/config.json
	$(Q)install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

# The config is left in place: it may hold local changes.
uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(BINDIR)/probe $(DESTDIR)$(UNITDIR)/probe.service
	$(Q)rm -rf $(DESTDIR)$(DOCDIR)

clean:
	$(call msg,CLEAN,build build-san probe)
	$(Q)rm -rf build build-san probe

-include $(wildcard $(OUT)/bpf/*.d $(OUT)/bench/*.d $(OUT)/fuzz/*.d) $(shell find $(OUT)/user $(OUT)/tests -name '*.d' 2>/dev/null)
