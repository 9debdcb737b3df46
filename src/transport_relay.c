/* The relay transport: WireGuard datagrams to a peer reached through our rendezvous R, each in
 * a relay envelope (rendezvous.h) sent to R's address on the worker's own UDP socket, so R sees
 * it come from the same NAT mapping as our session with R. Receiving needs no transport of its
 * own: envelopes arrive on the UDP socket and rdv_worker_relay unwraps them. */
#include "rendezvous.h"
#include "log.h"
#include "messages.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static void header(uint8_t out[RDV_RELAY_HEADER_LEN], uint32_t dst, uint32_t src)
{
	uint32_t type = htole32(MESSAGE_RELAY);

	dst = htobe32(dst);
	src = htobe32(src);
	memcpy(out, &type, 4);
	memcpy(out + 4, &dst, 4);
	memcpy(out + 8, &src, 4);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int transport_relay_send(struct transport *udp, const struct transport_tx *tx, int count,
			 uint32_t src_id)
{
	int sent = 0;

	for (int i = 0; i < count; i++) {
		uint8_t hdr[RDV_RELAY_HEADER_LEN];
		struct iovec iov[2] = { { .iov_base = hdr, .iov_len = sizeof(hdr) },
					{ .iov_base = (void *)tx[i].data, .iov_len = tx[i].len } };
		union endpoint to = tx[i].to->remote;
		struct msghdr h = { .msg_name = &to, .msg_iov = iov, .msg_iovlen = 2 };
		char buf[64];

		header(hdr, tx[i].to->conn, src_id);
		endpoint_to_family(&to, udp->family);
		h.msg_namelen = endpoint_len(&to);
		if (sendmsg(udp->fd, &h, 0) < 0) {
			stats_drop(udp->stats, DROP_UDP_SEND, 1);
			log_ratelimited(LOGL_WARN, now_ns(), "cannot relay a datagram through %s: %s",
					endpoint_format(&to, buf, sizeof(buf)), strerror(errno));
			continue;
		}
		stats_add(&udp->stats->tx_packets, 1);
		stats_add(&udp->stats->tx_bytes, sizeof(hdr) + tx[i].len);
		sent++;
	}
	return sent;
}
