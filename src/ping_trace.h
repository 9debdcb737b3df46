/* Diagnostics: where a ping waits on its way through the tunnel. Off unless built with
 * make CFLAGS="-O2 -g -DMYVPN_PING_TRACE".
 *
 * ping (iputils) writes its send time (a struct timeval, CLOCK_REALTIME) at the start of each
 * ICMP echo payload, and the reply carries it back. Traced at two points in each daemon, the
 * age of that time tells how long the ping took to get there: read from the TUN (after
 * waiting in the sending TUN's ring) and decapsulated (after waiting in our socket's receive
 * queue, whose share is the datagram's sojourn). Each traced packet writes one line to stderr:
 *
 *   ping-trace tunread|decap ICMP_TYPE SEQ AGE_US SOJOURN_US
 *
 * bench/ping-stages turns two daemons' logs into the stages of the round trip. IPv4 only. */
#ifndef MYVPN_PING_TRACE_H
#define MYVPN_PING_TRACE_H

#include <stddef.h>
#include <stdint.h>

void ping_trace(const char *point, const uint8_t *pkt, size_t len, uint64_t sojourn_ns);

#ifdef MYVPN_PING_TRACE
#define PING_TRACE_ON 1
#define PING_TRACE(point, pkt, len, sojourn_ns) ping_trace(point, pkt, len, sojourn_ns)
#else
#define PING_TRACE_ON 0
#define PING_TRACE(point, pkt, len, sojourn_ns) ((void)0)
#endif

#endif
