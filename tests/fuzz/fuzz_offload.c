/* libFuzzer harness: untrusted TUN reads into offload_split, untrusted packet batches into
 * offload_coalesce, and the two chained. Besides not crashing or reading out of bounds, what
 * comes out must hold together: every GSO segment and every re-split super-packet checksums,
 * and a batch's packets are all written exactly once.
 *
 * Input: byte 0 picks the mode (bits 0-1) and the coalescing flags (bits 2-3); byte 1 is
 * max_segments for splitting; then a TUN read (modes 0 and 2) or packets, each a 2-byte
 * big-endian length and its bytes (mode 1). */
#include "offload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
	SLOTS = OFFLOAD_MAX_BATCH,
	SLOT = 65536,
	MODE_SPLIT = 0,
	MODE_COALESCE = 1,
	MODE_ROUNDTRIP = 2,
};

static uint8_t slots[SLOTS][SLOT];
static uint8_t gathered[SLOT + OFFLOAD_VNET_HDR_LEN];
static uint8_t resplit[SLOTS][SLOT];
static struct offload_gro gro;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static uint8_t **slot_ptrs(uint8_t (*base)[SLOT])
{
	static uint8_t *ptrs[2][SLOTS];
	uint8_t **p = ptrs[base == resplit];

	for (size_t i = 0; i < SLOTS; i++)
		p[i] = base[i];
	return p;
}

/* A GSO read's segments are complete packets: their checksums must verify. */
static int split(const uint8_t *in, size_t len, uint8_t *const out[], size_t max, size_t lens[])
{
	struct virtio_net_hdr v = { 0 };
	int segments = offload_segments(in, len), n;

	if (len >= sizeof(v))
		memcpy(&v, in, sizeof(v));
	/* Before splitting: building segment 0 in place rewrites the input's headers. */
	n = offload_split(in, len, out, max, SLOT, lens);
	check(n != 0 && n <= (int)max);
	check(n < 0 ? segments < 0 || (size_t)segments > max || n == -ENOSPC : n == segments);
	for (int i = 0; i < n; i++) {
		check(lens[i] <= SLOT);
		if (v.gso_type != VIRTIO_NET_HDR_GSO_NONE)
			check(offload_csum_valid(out[i], lens[i]));
	}
	return n;
}

/* Splits the read in separate slots, then again with the first segment built in place. */
static void fuzz_split(const uint8_t *data, size_t size, size_t max)
{
	static uint8_t copy[SLOT + OFFLOAD_VNET_HDR_LEN];
	size_t lens[SLOTS], lens2[SLOTS];
	uint8_t *out[SLOTS];
	int n, n2;

	n = split(data, size, slot_ptrs(slots), max, lens);
	if (size > sizeof(copy) || size < OFFLOAD_VNET_HDR_LEN)
		return;
	memcpy(copy, data, size);
	memcpy(out, slot_ptrs(resplit), sizeof(out));
	out[0] = copy + OFFLOAD_VNET_HDR_LEN;
	n2 = split(copy, size, out, max, lens2);
	check(n2 == n);
	for (int i = 0; i < n; i++)
		check(lens2[i] == lens[i] && !memcmp(out[i], slots[i], lens[i]));
}

/* Each packet exactly once; each merged write splits back into as many valid segments. */
static void check_writes(size_t count)
{
	size_t seen = 0, lens[SLOTS];

	for (size_t k = 0; k < gro.write_count; k++) {
		const struct offload_write *w = &gro.writes[k];
		ssize_t len = offload_gather(w, gathered, sizeof(gathered));

		check(len == (ssize_t)w->len && w->count >= 1);
		seen += w->count;
		if (w->count > 1)
			check(split(gathered, (size_t)len, slot_ptrs(resplit), SLOTS, lens) ==
			      (int)w->count);
	}
	check(seen == count);
}

static void fuzz_coalesce(const uint8_t *data, size_t size, unsigned int flags)
{
	uint8_t *pkts[SLOTS];
	size_t lens[SLOTS], count = 0;

	while (size >= 2 && count < SLOTS) {
		size_t len = (size_t)(data[0] << 8 | data[1]);

		data += 2, size -= 2;
		if (len > size)
			len = size;
		/* Exact-size copies, so that ASan sees a read past any packet's end. */
		pkts[count] = malloc(len ? len : 1);
		memcpy(pkts[count], data, len);
		lens[count++] = len;
		data += len, size -= len;
	}
	check(offload_coalesce(&gro, pkts, lens, count, flags) == (int)gro.write_count);
	check_writes(count);
	for (size_t i = 0; i < count; i++)
		free(pkts[i]);
}

/* Split a read, then coalesce its segments: valid packets, so merging gets exercised. */
static void fuzz_roundtrip(const uint8_t *data, size_t size, size_t max, unsigned int flags)
{
	size_t lens[SLOTS];
	uint8_t **out = slot_ptrs(slots);
	int n = offload_split(data, size, out, max, SLOT, lens);

	if (n <= 0)
		return;
	check(offload_coalesce(&gro, out, lens, (size_t)n, flags) == (int)gro.write_count);
	check_writes((size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int mode, flags;
	size_t max;

	if (size < 2)
		return 0;
	mode = data[0] & 3;
	flags = (data[0] >> 2) & (OFFLOAD_GRO_TCP | OFFLOAD_GRO_UDP);
	max = data[1] % SLOTS + 1;
	data += 2, size -= 2;
	if (mode == MODE_SPLIT)
		fuzz_split(data, size, max);
	else if (mode == MODE_COALESCE)
		fuzz_coalesce(data, size, flags);
	else if (mode == MODE_ROUNDTRIP)
		fuzz_roundtrip(data, size, max, flags);
	return 0;
}
