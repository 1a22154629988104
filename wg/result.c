// SPDX-License-Identifier: GPL-2.0-only
#include "result.h"

static const char *const names[WG_RESULT_COUNT] = {
    [WG_OK] = "ok",
    [WG_OK_REKEY] = "ok, rekey due",
    [WG_ERR_INVALID] = "malformed message",
    [WG_ERR_AUTH] = "authentication failed",
    [WG_ERR_REPLAY] = "replayed or stale",
    [WG_ERR_FLOOD] = "initiation flood",
    [WG_ERR_EXPIRED] = "keypair expired",
    [WG_ERR_NO_KEYPAIR] = "no keypair",
    [WG_ERR_UNKNOWN_PEER] = "unknown peer or index",
    [WG_ERR_STATE] = "unexpected in handshake state",
    [WG_ERR_LOW_ORDER] = "low-order public key",
    [WG_ERR_COOKIE] = "cookie required",
    [WG_ERR_RATELIMIT] = "rate limited",
    [WG_ERR_NOMEM] = "out of memory",
    [WG_ERR_CRYPTO] = "crypto library error",
};

const char *wg_result_str(enum wg_result r)
{
	if ((unsigned)r >= WG_RESULT_COUNT)
		return "unknown result";
	return names[r];
}
