// SPDX-License-Identifier: GPL-2.0-only
#include "counters.h"

#include <stddef.h>

static const char *const drop_names[MG_DROP_REASON_COUNT] = {
    [MG_DROP_MALFORMED] = "malformed",
    [MG_DROP_NOT_FOR_US] = "not_for_us",
    [MG_DROP_UNSUPPORTED] = "unsupported",
    [MG_DROP_NO_ROUTE] = "no_route",
    [MG_DROP_NO_ENDPOINT] = "no_endpoint",
    [MG_DROP_TOO_BIG] = "too_big",
    [MG_DROP_STAGED_FULL] = "staged_full",
    [MG_DROP_NO_NEIGHBOUR] = "no_neighbour",
    [MG_DROP_WG_INVALID] = "wg_invalid",
    [MG_DROP_UNKNOWN_INDEX] = "unknown_index",
    [MG_DROP_KEY_EXPIRED] = "key_expired",
    [MG_DROP_AUTH] = "auth",
    [MG_DROP_REPLAY] = "replay",
    [MG_DROP_ALLOWED_IPS] = "allowed_ips",
    [MG_DROP_INNER_INVALID] = "inner_invalid",
    [MG_DROP_PUNT_FULL] = "punt_full",
    [MG_DROP_FANOUT_FULL] = "fanout_full",
    [MG_DROP_TX_FULL] = "tx_full",
    [MG_DROP_TTL] = "ttl",
    [MG_DROP_NOMEM] = "nomem",
    [MG_DROP_CRYPTO] = "crypto",
    [MG_DROP_NAT_NO_PORT] = "nat_no_port",
    [MG_DROP_NAT_TABLE_FULL] = "nat_table_full",
    [MG_DROP_NAT_UNSUPPORTED] = "nat_unsupported",
    [MG_DROP_POLICY] = "policy",
    [MG_DROP_RELAY_FULL] = "relay_full",
    [MG_DROP_WGPORT_FULL] = "wgport_full",
};

const char *mg_drop_reason_name(enum mg_drop_reason r)
{
	if ((unsigned)r >= MG_DROP_REASON_COUNT || !drop_names[r])
		return "unknown";
	return drop_names[r];
}
