/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The WireGuard device as a set of peers: adding, changing and removing them while the workers
 * keep forwarding. The control thread is the only writer. A peer becomes visible to workers
 * with a release store of its pointer into gw.peers[slot] and leaves with a NULL store; its
 * memory (and its slot) are reused only after an RCU grace period.
 *
 * Errors: functions returning int give 0 or a negative errno and fill err (when given) with a
 * sentence naming what was wrong.
 */
#ifndef MESHGATE_CONTROL_DEVICE_H
#define MESHGATE_CONTROL_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"

/* Creates the peer-by-key hash and the slot allocator (after the EAL is up). */
int mg_device_init(struct mg_control *ctl, char *err, size_t errlen);
/* Removes every peer and frees the device's tables (workers stopped or not). */
void mg_device_fini(struct mg_control *ctl);

struct mg_peer *mg_device_find(struct mg_control *ctl, const uint8_t pub[WG_KEY_LEN]);

/*
 * Adds a peer from pc: keys, endpoint, keepalive, allowed IPs (moved from other peers that held
 * them, as wg does). -EEXIST when the key is ours or already a peer's, -ENOSPC when max_peers
 * are in use, -EINVAL for a bad key or prefix, -ENOMEM.
 */
int mg_device_add_peer(struct mg_control *ctl, const struct mg_peer_config *pc,
                       struct mg_peer **out, char *err, size_t errlen);
/* Unpublishes the peer, drops its prefixes, keys and staged packets; frees it after a grace
 * period. */
void mg_device_remove_peer(struct mg_control *ctl, struct mg_peer *peer);
void mg_device_remove_all_peers(struct mg_control *ctl);

/* Adds prefixes to the peer (replace: drops its current ones first). Committed on return. */
int mg_device_set_allowed_ips(struct mg_control *ctl, struct mg_peer *peer,
                              const struct mg_prefix *prefixes, size_t n, bool replace, char *err,
                              size_t errlen);
/* Makes the peer's prefixes exactly prefixes: withdraws the ones not listed, adds the new
 * ones, leaves the rest in place (no gap in their routing, unlike replace). */
int mg_device_sync_allowed_ips(struct mg_control *ctl, struct mg_peer *peer,
                               const struct mg_prefix *prefixes, size_t n, char *err,
                               size_t errlen);
void mg_device_set_endpoint(struct mg_control *ctl, struct mg_peer *peer,
                            const struct mg_sockaddr *ep);
/* psk NULL or all zero: none. */
void mg_device_set_psk(struct mg_control *ctl, struct mg_peer *peer, const uint8_t *psk);
/* Turning it on sends a keepalive at once, as the kernel does. */
void mg_device_set_keepalive(struct mg_control *ctl, struct mg_peer *peer, uint16_t seconds);

/*
 * Changes (priv != NULL) or removes the interface's private key: the old sessions stop sending,
 * the cookie checker follows the new public key, and a peer whose key is the new public key is
 * removed (as wg does). -EINVAL when the key is unusable.
 */
int mg_device_set_private_key(struct mg_control *ctl, const uint8_t *priv, char *err,
                              size_t errlen);
/* Workers match UDP to the new port from their next burst. 0 picks a random ephemeral port,
 * as wireguard-go's bind to port 0 does. */
int mg_device_set_listen_port(struct mg_control *ctl, uint16_t port, char *err, size_t errlen);

/* Bytes summed over the workers' rows and the control thread's own. */
void mg_device_peer_transfer(const struct mg_control *ctl, const struct mg_peer *peer,
                             uint64_t *rx_bytes, uint64_t *tx_bytes);
/* Frees the peer's staged packets, counting them as dropped. */
void mg_device_drop_staged(struct mg_control *ctl, struct mg_peer *peer);

/*
 * The coordinator's network map applied to this device (device_netmap.c); ctx is the
 * struct mg_control. Peers from the map are ordinary peers: wg(8) shows them, and a key that
 * is already a (static) peer is refused with -EEXIST.
 */
extern const struct mg_netmap_sink mg_device_netmap_sink;

/*
 * The UAPI socket <uapi_dir>/<ifname>.sock, served with this device's get/set ops so stock
 * `wg show/showconf/set` work. Stop removes the socket file.
 */
int mg_control_uapi_start(struct mg_control *ctl, char *err, size_t errlen);
void mg_control_uapi_stop(struct mg_control *ctl);
/* Serves pending UAPI clients, sleeping up to timeout_ms for one (0: do not wait). */
unsigned mg_control_uapi_poll(struct mg_control *ctl, int timeout_ms);

#endif
