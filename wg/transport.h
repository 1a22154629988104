/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The reference transport path (type-4 data messages) over OpenSSL: used by the unit tests, the
 * netns interop tool and as the oracle for the DPDK batch path. One packet at a time; safe on any
 * thread inside the RCU read-side section that keeps the keypair alive.
 */
#ifndef MESHGATE_WG_TRANSPORT_H
#define MESHGATE_WG_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "messages.h"
#include "noise.h"
#include "result.h"
#include "timers.h"

/*
 * The type of a received datagram, after checking that the 32-bit type field (type byte plus
 * three zero bytes) is known and the length fits it: exactly 148, 92 or 64 bytes for the
 * handshake and cookie messages, at least WG_DATA_MIN_LEN for data. WG_MSG_INVALID otherwise.
 */
enum wg_message_type wg_transport_classify(const uint8_t *msg, size_t len);

/* Bytes a sealed message of a len-byte plaintext takes (header, padded ciphertext, tag). */
size_t wg_transport_sealed_len(size_t len, size_t mtu);

/*
 * Seals plain (len bytes; 0 is a keepalive) into a complete data message at out: header,
 * receiver index kp->remote_index, the next counter, the plaintext zero-padded with
 * wg_padded_len(len, mtu) (mtu 0: no cap), tag. plain may overlap out. *out_len is set on
 * success. Whether kp may seal is wg_keypair_may_seal's answer for durations d (the peer's
 * timers'; NULL: the protocol's): WG_OK; WG_OK_REKEY (sent, and a new handshake is due);
 * WG_ERR_EXPIRED (nothing sent, and kp stays invalidated). Also WG_ERR_NO_KEYPAIR (kp NULL),
 * WG_ERR_INVALID (out_cap too small), WG_ERR_CRYPTO. now: monotonic ns.
 */
enum wg_result wg_transport_seal(struct wg_noise_keypair *kp, const uint8_t *plain, size_t len,
                                 size_t mtu, uint8_t *out, size_t out_cap, size_t *out_len,
                                 const struct wg_timer_durations *d, uint64_t now);

/*
 * Opens a data message. plain_out holds len - WG_DATA_OVERHEAD bytes and may be msg + 16 (in
 * place). Checks in order: length and type (WG_ERR_INVALID), receiver index to a keypair in
 * local's index table (WG_ERR_UNKNOWN_PEER), wg_keypair_may_open for durations d (NULL: the
 * protocol's; WG_ERR_EXPIRED), the tag (WG_ERR_AUTH), then the counter against the replay
 * window (WG_ERR_REPLAY). On success *plain_len includes the padding (see
 * wg_transport_inner_len) and *kp_out is the keypair: the caller then calls
 * wg_noise_received_with_keypair (through the control thread if
 * wg_noise_keypair_awaits_confirmation) and feeds the timers. Returns WG_OK, or WG_OK_REKEY when
 * may_open said a new handshake should start now: both mean the packet is good.
 */
enum wg_result wg_transport_open(struct wg_noise_local *local, const uint8_t *msg, size_t len,
                                 uint8_t *plain_out, size_t *plain_len,
                                 struct wg_noise_keypair **kp_out,
                                 const struct wg_timer_durations *d, uint64_t now);

/*
 * The real length of a decrypted, padded payload: 0 for a keepalive (len 0), else the IPv4 total
 * length or 40 + the IPv6 payload length. WG_ERR_INVALID when the bytes are not an IPv4/IPv6
 * header or claim more than len.
 */
enum wg_result wg_transport_inner_len(const uint8_t *plain, size_t len, size_t *inner_len);

#endif
