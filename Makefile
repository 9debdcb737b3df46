# myvpn: plain Makefile in the wireguard-tools manner.
# Targets: all check unit nettest install demo bench bench-crypto fuzz clean.  V=1 for verbose,
# DEBUG=yes adds -O0 -g to CFLAGS. CFLAGS and LDFLAGS are the user's (make CFLAGS=-O1 replaces
# only the default -O2 -g); what the code needs to build at all is in MYVPN_CFLAGS, first.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
DESTDIR ?=

CC ?= cc
PKGS := libcrypto libsodium libmnl libsystemd libnftables libcap-ng libseccomp miniupnpc
CFLAGS ?= -O2 -g
ifeq ($(DEBUG),yes)
override CFLAGS += -O0 -g
endif
MYVPN_CFLAGS := -pthread -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -MMD -MP -Isrc
MYVPN_CFLAGS += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(MYVPN_CFLAGS) $(CFLAGS)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcrypto -lsodium -lmnl -lsystemd -lnftables -lcap-ng -lseccomp -lminiupnpc) -lnatpmp -pthread

ifneq ($(V),1)
Q = @
qecho = @echo "  $(1)	$(2)";
endif

SRCS := $(sort $(wildcard src/*.c))
OBJS := $(SRCS:src/%.c=build/%.o)
LIB_OBJS := $(filter-out build/main.o,$(OBJS))

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_OBJS := $(SRCS:src/%.c=build/san/%.o)
SAN_LIB_OBJS := $(filter-out build/san/main.o,$(SAN_OBJS))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/unit/%)

all: myvpn myvpn_nat build/myvpn@.service

# The unit runs the installed binary.
build/myvpn@.service: systemd/myvpn@.service.in | build
	$(Q)sed 's|@BINDIR@|$(BINDIR)|g' $< >$@

myvpn: $(OBJS)
	$(call qecho,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

myvpn_nat: myvpn
	$(Q)ln -sf myvpn $@

build/%.o: src/%.c | build
	$(call qecho,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/san/%.o: src/%.c | build
	$(call qecho,CC,$@)$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c -o $@ $<

build/unit/%: tests/unit/%.c $(SAN_LIB_OBJS) | build
	$(call qecho,CC,$@)$(CC) $(ALL_CFLAGS) -O1 $(SAN) $(LDFLAGS) -o $@ $< $(SAN_LIB_OBJS) $(LDLIBS) -lcmocka

build:
	$(Q)mkdir -p build/san build/unit

# libFuzzer harnesses (clang): tests/fuzz/fuzz_NAME.c runs on tests/fuzz/corpus/NAME.
# FUZZ_SECONDS per harness; new inputs go to build/fuzz/corpus-NAME, never into the tree.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined

build/fuzz/%: tests/fuzz/%.c $(filter-out src/main.c,$(SRCS))
	$(Q)mkdir -p build/fuzz
	$(call qecho,FUZZ,$@)clang $(FUZZ_CFLAGS) -o $@ $^ $(LDLIBS)

fuzz: $(FUZZ_BINS)
	$(Q)for bin in $(FUZZ_BINS); do \
		name=$${bin##*/fuzz_}; mkdir -p build/fuzz/corpus-$$name; \
		$$bin -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 build/fuzz/corpus-$$name tests/fuzz/corpus/$$name 2>&1 | tail -1 || exit 1; \
	done

unit: $(UNIT_BINS)
	$(Q)tests/run-all --no-net $(UNIT_BINS)

nettest: all
	$(Q)tests/run-all

# The one test command: installs what is missing, builds, runs the unit tests under ASan+UBSan
# and the netns suite, and ends with "N passed, N failed".
check: deps
	$(Q)$(MAKE) --no-print-directory test

# A short libFuzzer pass over every harness is part of the suite (CHECK_FUZZ_SECONDS each).
CHECK_FUZZ_SECONDS ?= 10
# The main netns scenarios run again with one worker thread, t_workers under TSan,
WORKERS1_TESTS ?= p2p_seed nat_seed roaming uapi wg_interop wg_quick
# and these against the ASan+UBSan daemon (all of them: make check-sanitized).
SANITIZED_CHECK_TESTS ?= wg_interop wg_security uapi roaming keepalive gateway endpoint_name
test: all $(UNIT_BINS) $(FUZZ_BINS) build/tsan/myvpn build/asan/myvpn
	$(Q)FUZZ_BINS="$(FUZZ_BINS)" FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) WORKERS1_TESTS="$(WORKERS1_TESTS)" \
		TSAN=1 SANITIZED="$(SANITIZED_CHECK_TESTS)" tests/run-all $(UNIT_BINS)

deps:
	$(Q)scripts/install-deps

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 myvpn $(DESTDIR)$(BINDIR)/myvpn
	ln -sf myvpn $(DESTDIR)$(BINDIR)/myvpn_nat
	[ ! -f docs/myvpn.8 ] || install -m 0644 docs/myvpn.8 $(DESTDIR)$(MANDIR)/man8/myvpn.8
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0644 build/myvpn@.service $(DESTDIR)$(SYSTEMDUNITDIR)/myvpn@.service

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo

bench: deps
	$(Q)$(MAKE) --no-print-directory all build/bench/crypto
	$(Q)build/bench/crypto
	$(Q)bench/run

# ChaCha20-Poly1305 per-packet cost, each way of calling the libraries (no root, ~10 s).
build/bench/crypto: bench/crypto.c build/wgcrypto.o
	$(Q)mkdir -p build/bench
	$(call qecho,CC,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
bench-crypto: build/bench/crypto
	$(Q)build/bench/crypto

# Tools of the netns tests: the handshake flooder of t_wg_flood.sh, with myvpn's own mac1.
build/tools/hsflood: tests/net/tools/hsflood.c build/noise.o build/wgcrypto.o
	$(Q)mkdir -p build/tools
	$(call qecho,CC,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# ...and the kernel without nftables of t_gateway_errors.sh.
build/tools/no_nfnetlink: tests/net/tools/no_nfnetlink.c
	$(Q)mkdir -p build/tools
	$(call qecho,CC,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
test nettest: build/tools/hsflood build/tools/no_nfnetlink

# ThreadSanitizer: build/tsan/myvpn, and t_workers.sh run against it (tests/net/tsan-workers.sh).
TSAN_OBJS := $(SRCS:src/%.c=build/tsan/%.o)
tsan: build/tsan/myvpn
build/tsan/myvpn: $(TSAN_OBJS)
	$(call qecho,LD,$@)$(CC) $(LDFLAGS) -fsanitize=thread -o $@ $^ $(LDLIBS)
build/tsan/%.o: src/%.c
	$(Q)mkdir -p build/tsan
	$(call qecho,CC,$@)$(CC) $(ALL_CFLAGS) -O1 -g -fsanitize=thread -c -o $@ $<
check-tsan: tsan
	$(Q)tests/net/tsan-workers.sh
.PHONY: tsan check-tsan
-include $(TSAN_OBJS:.o=.d)

# At least 10 minutes of traffic with handshake, peer and key churn; fails when memory or fds
# keep growing (SOAK_SECONDS, SOAK_SAMPLE). Not part of check.
soak: all
	$(Q)tests/soak.sh

# AddressSanitizer + UndefinedBehaviorSanitizer: build/asan/myvpn (and its myvpn_nat link),
# built with SAN_CC (clang: GCC 12's UBSan leaves misaligned member stores unchecked), and the
# netns suite against it (tests/net/sanitized.sh: any sanitizer report fails the run).
# SANITIZED_TESTS="uapi wg_security" limits the tests; the default is all of them.
SAN_CC ?= clang
ASAN_OBJS := $(SRCS:src/%.c=build/asan/%.o)
asan: build/asan/myvpn
build/asan/myvpn: $(ASAN_OBJS)
	$(call qecho,LD,$@)$(SAN_CC) $(SAN) -o $@ $^ $(LDLIBS)
	$(Q)ln -sf myvpn build/asan/myvpn_nat
build/asan/%.o: src/%.c
	$(Q)mkdir -p build/asan
	$(call qecho,CC,$@)$(SAN_CC) $(MYVPN_CFLAGS) -O1 -g $(SAN) -c -o $@ $<
check-sanitized: all asan build/tools/hsflood
	$(Q)tests/net/sanitized.sh $(SANITIZED_TESTS)
.PHONY: asan check-sanitized
-include $(ASAN_OBJS:.o=.d)

clean:
	rm -rf build myvpn myvpn_nat

.PHONY: all check test deps unit nettest install demo bench bench-crypto fuzz soak clean
-include $(OBJS:.o=.d) $(SAN_OBJS:.o=.d)
.SECONDARY:
