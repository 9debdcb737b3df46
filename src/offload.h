/* TUN offloads: split the kernel's GSO super-packets and coalesce received TCP segments (GRO).
 *
 * With IFF_VNET_HDR every read from and write to the TUN carries a struct virtio_net_hdr (10
 * bytes, fields in host byte order, the TUN default) before the IP packet. After TUNSETOFFLOAD
 * the kernel hands us TCP (and, with USO, UDP) super-packets of up to 64 KB with a gso_size,
 * and packets whose checksum it left for us to finish; and it accepts such super-packets from
 * us, finishing their checksums and segmenting them itself only if it must.
 *
 *   read side:  [vnet hdr | IP super-packet] --offload_split--> N IP packets in the caller's slots
 *   write side: IP packets --offload_coalesce--> writes, each [vnet hdr | IP (super-)packet] as
 *               an iovec list for one writev() to the TUN; packets are not copied.
 *
 * Pure code: no syscalls, no allocation, no globals. Everything from the TUN or the peer is
 * untrusted and validated here; hdr_len, csum_start and csum_offset of a GSO packet are ignored
 * in favour of the headers themselves. */
#ifndef MYVPN_OFFLOAD_H
#define MYVPN_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* USO, Linux 6.2; older headers lack it */
#endif

enum {
	OFFLOAD_VNET_HDR_LEN = 10,     /* sizeof(struct virtio_net_hdr) */
	OFFLOAD_MAX_IP_LEN = 65535,    /* an IP total length field's limit */
	OFFLOAD_MAX_SEGMENTS = 64,     /* most packets merged into one super-packet */
	OFFLOAD_MAX_BATCH = 64,        /* most packets per offload_coalesce call */
};

/* What offload_coalesce may merge: set the bits the TUN accepted in TUNSETOFFLOAD. With no bit
 * every packet is passed through with a zero header (IFF_VNET_HDR without offloads). */
enum offload_gro_flags {
	OFFLOAD_GRO_TCP = 1 << 0, /* TUN_F_TSO4 | TUN_F_TSO6 accepted */
	OFFLOAD_GRO_UDP = 1 << 1, /* TUN_F_USO4 | TUN_F_USO6 accepted (kernel >= 6.2) */
	/* The packets' checksums are as their sender made them and arrived intact (the datagram
	 * carrying each was authenticated, or its UDP checksum verified): merge without verifying
	 * each one again, as the kernel's own WireGuard trusts what it decrypts. */
	OFFLOAD_GRO_TRUSTED = 1 << 2,
};

/* ---- checksums ----
 * Sums are kept as the ones-complement sum of the data loaded in host byte order, which RFC 1071
 * shows is the byte-swapped network-order sum: fold it, store it with memcpy, and the bytes are
 * right on either endianness. */

/* Adds len bytes at data to sum (an odd tail counts as if padded with a zero byte). */
uint32_t offload_csum_add(uint32_t sum, const void *data, size_t len);
/* Folds a sum to 16 bits, not complemented: the partial checksum the kernel expects. */
uint16_t offload_csum_fold(uint32_t sum);
/* Folds and complements: the value of a checksum field (store it with memcpy). */
uint16_t offload_csum_finish(uint32_t sum);
/* RFC 1624: updates the checksum field at csum after one 16-bit word of what it covers changed
 * from old to new (both as loaded with memcpy, like the field itself). */
void offload_csum_replace(uint8_t *csum, uint16_t old, uint16_t new);
/* Pseudo-header sums for a transport segment of len bytes (header included). */
uint32_t offload_pseudo_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t len);
uint32_t offload_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			   uint32_t len);
/* True if the IPv4 header checksum and the TCP or UDP checksum of this IP packet verify (a UDP
 * checksum of zero, meaning none, does not). */
bool offload_csum_valid(const uint8_t *pkt, size_t len);

/* ---- read side ---- */

/* How many packets offload_split will make of one TUN read, or -EINVAL if it is malformed.
 * Lets the caller find enough free slots before splitting. */
int offload_segments(const uint8_t *in, size_t in_len);

/* Splits one TUN read (vnet header + packet) into IP packets, each written at out[i] (at most
 * out_capacity bytes each) with its length in out_lens[i]:
 *   - gso_type NONE: the packet is copied, and finished if it has NEEDS_CSUM;
 *   - TCPV4/TCPV6/UDP_L4: one packet per gso_size of payload, with the IP and TCP or UDP
 *     headers repeated and fixed (lengths, IPv4 ID and checksum, TCP sequence and flags,
 *     full transport checksums).
 * out[0] may be in + OFFLOAD_VNET_HDR_LEN: the first packet is then built in place, so a
 * non-GSO packet is not copied at all. No other out[i] may overlap the input or each other.
 * Returns the number of packets, -EINVAL if the input is malformed (nothing written), or
 * -ENOSPC if it makes more than max_segments packets or one larger than out_capacity. */
int offload_split(const uint8_t *in, size_t in_len, uint8_t *const out[], size_t max_segments,
		  size_t out_capacity, size_t out_lens[]);

/* Finishes a NEEDS_CSUM checksum in place: the kernel left the pseudo-header sum at
 * start + offset; the ones-complement sum from start to the end of pkt goes there.
 * Returns 0 or -EINVAL if the field is not inside pkt. */
int offload_finish_csum(uint8_t *pkt, size_t len, size_t start, size_t offset);

/* ---- write side ---- */

/* One write to the TUN: writev(fd, w->iov, w->iovcnt). iov[0] is vnet (zero for a packet passed
 * through as is), then the first packet whole, then the payload of each packet merged after it. */
struct offload_write {
	struct virtio_net_hdr vnet;
	struct iovec *iov;
	int iovcnt;
	unsigned int first;   /* index of the packet whose headers this write carries */
	unsigned int count;   /* packets in this write */
	size_t len;           /* bytes in this write, vnet header included */

	/* private: offload_coalesce's bookkeeping */
	unsigned int last, proto;
	uint32_t next_seq;
	uint16_t gso_size;
	bool open, checked, psh;
};

/* Caller-owned state for offload_coalesce (about 6 KB), reused for every batch. */
struct offload_gro {
	size_t write_count;
	struct offload_write writes[OFFLOAD_MAX_BATCH];
	struct iovec iov[2 * OFFLOAD_MAX_BATCH];

	/* private: per input packet, the index of the next packet in its write */
	uint8_t next[OFFLOAD_MAX_BATCH];
};

/* Groups count IP packets (pkts[i], lens[i] bytes; order is kept within each flow) into writes:
 * consecutive TCP segments of one flow merge into a GSO super-packet when the kernel's GRO rules
 * allow it and their checksums verify (or are trusted); anything else is passed through unchanged. The first
 * packet of a merged write has its IP and TCP headers rewritten in place, so pkts must stay put
 * until the writes are done. Returns the number of writes (gro->write_count) or -ENOSPC if
 * count > OFFLOAD_MAX_BATCH. */
int offload_coalesce(struct offload_gro *gro, uint8_t *const pkts[], const size_t lens[],
		     size_t count, unsigned int flags);

/* Copies one write's bytes into dst, for a caller that wants a single buffer and write().
 * Returns the length or -ENOSPC if cap is too small. */
ssize_t offload_gather(const struct offload_write *w, uint8_t *dst, size_t cap);

#endif
