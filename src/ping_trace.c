/* Diagnostics: the age of ping's own timestamp at points of the data path (ping_trace.h). */
#include "ping_trace.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

enum { IPV4_HDR = 20, ICMP_HDR = 8, ICMP_ECHO_REPLY = 0, ICMP_ECHO = 8 };

void ping_trace(const char *point, const uint8_t *pkt, size_t len, uint64_t sojourn_ns)
{
	const uint8_t *icmp = pkt + IPV4_HDR;
	struct timeval sent;
	struct timespec now;
	int64_t age_us;

	if (len < IPV4_HDR + ICMP_HDR + sizeof(sent) || pkt[0] != 0x45 || pkt[9] != 1 ||
	    (icmp[0] != ICMP_ECHO && icmp[0] != ICMP_ECHO_REPLY))
		return;
	memcpy(&sent, icmp + ICMP_HDR, sizeof(sent));
	clock_gettime(CLOCK_REALTIME, &now);
	age_us = ((int64_t)now.tv_sec - sent.tv_sec) * 1000000 + now.tv_nsec / 1000 - sent.tv_usec;
	fprintf(stderr, "ping-trace %s %u %u %lld %llu\n", point, icmp[0],
		(unsigned int)(icmp[6] << 8 | icmp[7]), (long long)age_us,
		(unsigned long long)(sojourn_ns / 1000));
}
