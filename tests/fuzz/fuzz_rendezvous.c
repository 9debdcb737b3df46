/* libFuzzer harness: rendezvous control messages and relay envelopes. Whatever decodes must
 * encode back to the same bytes up to the decoded length (addresses of zero skipped), and
 * nothing may read out of bounds. */
#include "rendezvous.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rdv_relay_header h;
	struct rdv_msg m, again;
	uint8_t buf[RDV_MAX_MSG];
	size_t len;

	rdv_relay_parse(data, size, &h);
	if (rdv_decode(data, size, &m))
		return 0;
	len = rdv_encode(&m, buf, sizeof(buf));
	if (!len || rdv_decode(buf, len, &again) || again.type != m.type ||
	    again.addr_count != m.addr_count || memcmp(again.key, m.key, sizeof(m.key)) ||
	    again.peer_id != m.peer_id || again.your_id != m.your_id)
		abort();
	return 0;
}
