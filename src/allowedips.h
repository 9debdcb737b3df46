/* Cryptokey routing table: longest-prefix match from IPv4/IPv6 prefixes to an owner. */
#ifndef MYVPN_ALLOWEDIPS_H
#define MYVPN_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

struct allowedips_node;
struct allowedips_owner;

/*
 * Two path-compressed binary tries, one per family, plus a hash map from
 * each owner to the list of its prefixes, so that removing or listing one
 * owner costs O(its prefixes), not O(the table). Owners are opaque (a peer)
 * and never dereferenced or freed here; a NULL owner means "no entry".
 * Addresses are raw network-order bytes (4 or 16). Not thread-safe: the
 * caller serialises writers against readers. Lookups and walks write
 * nothing, so readers may share a read lock.
 */
struct allowedips {
	struct allowedips_node *root4;
	struct allowedips_node *root6;
	struct allowedips_owner *owners; /* open addressing; NULL owner = free slot */
	size_t owners_cap, owners_used;  /* cap is 0 or a power of two */
};

void allowedips_init(struct allowedips *t);

/* Frees every node; the table is empty (and reusable) afterwards. */
void allowedips_free(struct allowedips *t);

/*
 * Maps addr/cidr to owner, masking host bits. A prefix that is already
 * present changes owner, as `wg set ... allowed-ips` moves it between peers.
 * Returns 0, -EINVAL (bad family, cidr or NULL owner) or -ENOMEM (table
 * unchanged).
 */
int allowedips_insert(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, void *owner);

/* The owner of the longest prefix containing addr, or NULL. */
void *allowedips_lookup(const struct allowedips *t, int family,
			const void *addr);

/* Removes exactly addr/cidr (host bits masked): 0, -ENOENT or -EINVAL. */
int allowedips_remove(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr);

/* Removes every prefix of owner, in both families; returns how many.
 * O(owner's prefixes x trie depth). */
size_t allowedips_remove_by_owner(struct allowedips *t, const void *owner);

/*
 * Calls fn for each prefix of owner (every prefix if owner is NULL): IPv4
 * first, each family in address order, shorter prefix first. addr holds the
 * masked prefix, 4 or 16 bytes, valid during the call only. fn must not
 * modify the table; a non-zero return stops the walk and is passed back.
 * O(k log k) for an owner with k prefixes; O(table) for NULL.
 */
int allowedips_walk_by_owner(const struct allowedips *t, const void *owner,
			     int (*fn)(void *ctx, int family, const void *addr,
				       uint8_t cidr),
			     void *ctx);

/*
 * Lookups from a raw IP packet, by destination (choosing the peer for a
 * packet read from the TUN) or by source (checking that a decrypted packet
 * came from a peer allowed to use that address). NULL if the version is
 * neither 4 nor 6, the packet is shorter than its fixed header, or nothing
 * matches.
 */
void *allowedips_lookup_packet_dst(const struct allowedips *t,
				   const uint8_t *pkt, size_t len);
void *allowedips_lookup_packet_src(const struct allowedips *t,
				   const uint8_t *pkt, size_t len);

/* An owner's prefixes in the order they were given to it, IPv4 and IPv6 interleaved, as
 * wireguard-go lists them (so `wg show` prints the same). A prefix moved to the owner
 * counts as given at the move. O(k), no allocation. 0, or fn's non-zero result. */
int allowedips_walk_by_owner_in_order(const struct allowedips *t, const void *owner,
				      int (*fn)(void *ctx, int family, const void *addr,
						uint8_t cidr),
				      void *ctx);

#endif
