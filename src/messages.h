/* messages.h: WireGuard wire formats and protocol constants. */
#ifndef MESSAGES_H
#define MESSAGES_H

#include <stddef.h>
#include <stdint.h>

/*
 * All header integers are little-endian on the wire; the structs hold them as the wire
 * bytes (use htole32/le32toh and friends). Every field sits at its natural alignment, so
 * the structs have no padding and their sizes equal the wire sizes (checked below).
 */

enum noise_lengths {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_TIMESTAMP_LEN = 12,	/* TAI64N: 8 bytes seconds, 4 bytes nanoseconds, BE */
	NOISE_AUTHTAG_LEN = 16,
	NOISE_HASH_LEN = 32,
};

#define noise_encrypted_len(plain_len) ((plain_len) + NOISE_AUTHTAG_LEN)

enum cookie_values {
	COOKIE_SECRET_MAX_AGE = 120,	/* seconds between cookie secret rotations */
	COOKIE_SECRET_LATENCY = 5,	/* a held cookie is used for MAX_AGE - LATENCY s */
	COOKIE_NONCE_LEN = 24,
	COOKIE_LEN = 16,
};

enum counter_values {
	COUNTER_BITS_TOTAL = 8192,
	COUNTER_REDUNDANT_BITS = 64,
	COUNTER_WINDOW_SIZE = COUNTER_BITS_TOTAL - COUNTER_REDUNDANT_BITS,
};

/* Times in seconds unless the name says otherwise. */
enum limits {
	REKEY_TIMEOUT = 5,
	REKEY_TIMEOUT_JITTER_MAX_MS = 333,
	REKEY_AFTER_TIME = 120,
	REJECT_AFTER_TIME = 180,
	REKEY_ATTEMPT_TIME = 90,
	KEEPALIVE_TIMEOUT = 10,
	COOKIE_REFRESH_TIME = 120,
	INITIATIONS_PER_SECOND = 50,	/* so 20 ms between initiations consumed from one peer */
	MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT,
	MAX_STAGED_PACKETS = 128,
	/* the receiver of a keypair we initiated rekeys once it is this old */
	REKEY_AFTER_TIME_RECV = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT,
	KEY_ZEROING_TIME = REJECT_AFTER_TIME * 3,
};

/* 64-bit limits cannot be enumerators in C11, whose enum constants are ints. */
#define REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - (UINT64_C(1) << 13))	/* 2^64 - 2^13 - 1 */

enum message_type {
	MESSAGE_INVALID = 0,
	MESSAGE_HANDSHAKE_INITIATION = 1,
	MESSAGE_HANDSHAKE_RESPONSE = 2,
	MESSAGE_HANDSHAKE_COOKIE = 3,
	MESSAGE_DATA = 4,
	/* myvpn's relay envelope (rendezvous.h), bytes f1 'r' 'l' 'y': stock WireGuard takes the
	 * first four bytes as the type and drops any other than 1-4 without an answer (Linux:
	 * "unallowed type"; wireguard-go: "unknown type"), and the non-zero reserved bytes keep
	 * clear of any small type number WireGuard may add. Only rendezvous peers send it. */
	MESSAGE_RELAY = 0x796c72f1,
};

/* The type byte plus three reserved zero bytes, read as one LE u32. */
struct message_header {
	uint32_t type;
};

struct message_macs {
	uint8_t mac1[COOKIE_LEN];
	uint8_t mac2[COOKIE_LEN];
};

struct message_handshake_initiation {
	struct message_header header;
	uint32_t sender_index;
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_static[noise_encrypted_len(NOISE_PUBLIC_KEY_LEN)];
	uint8_t encrypted_timestamp[noise_encrypted_len(NOISE_TIMESTAMP_LEN)];
	struct message_macs macs;
};

struct message_handshake_response {
	struct message_header header;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_nothing[noise_encrypted_len(0)];
	struct message_macs macs;
};

struct message_handshake_cookie {
	struct message_header header;
	uint32_t receiver_index;
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[noise_encrypted_len(COOKIE_LEN)];
};

/* Followed by the AEAD of the zero-padded inner packet. */
struct message_data {
	struct message_header header;
	uint32_t receiver_index;
	uint64_t counter;
	uint8_t encrypted_data[];
};

enum message_sizes {
	MESSAGE_INITIATION_LEN = 148,
	MESSAGE_RESPONSE_LEN = 92,
	MESSAGE_COOKIE_LEN = 64,
	MESSAGE_DATA_HEADER_LEN = 16,
	MESSAGE_DATA_MIN_LEN = MESSAGE_DATA_HEADER_LEN + NOISE_AUTHTAG_LEN,	/* a keepalive */
	MESSAGE_PADDING_MULTIPLE = 16,
};

_Static_assert(sizeof(struct message_handshake_initiation) == MESSAGE_INITIATION_LEN,
	       "initiation wire size");
_Static_assert(offsetof(struct message_handshake_initiation, macs) == 116, "initiation mac1");
_Static_assert(sizeof(struct message_handshake_response) == MESSAGE_RESPONSE_LEN,
	       "response wire size");
_Static_assert(offsetof(struct message_handshake_response, macs) == 60, "response mac1");
_Static_assert(sizeof(struct message_handshake_cookie) == MESSAGE_COOKIE_LEN, "cookie wire size");
_Static_assert(sizeof(struct message_data) == MESSAGE_DATA_HEADER_LEN, "data header size");

#endif
