/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The handshake driver: WireGuard's handshake and cookie messages in and out, over wg/, on the
 * control thread. Workers never run a handshake; they punt the messages here and read the
 * keypairs this file installs.
 *
 * Outgoing frames (handshakes, cookie replies, keepalives and staged data sealed here) leave on
 * the mesh port's control TX queue. A frame whose next hop has no neighbour entry yet waits up
 * to MG_CTL_PENDING_NS for ARP/ND while the control loop polls mg_hs_pending_poll.
 */
#ifndef MESHGATE_CONTROL_HANDSHAKE_H
#define MESHGATE_CONTROL_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "messages.h"

struct rte_mbuf;

/* A MG_PUNT_HANDSHAKE frame from the punt ring; always consumes m. */
void mg_hs_input(struct mg_control *ctl, struct rte_mbuf *m, uint64_t now_ns);
/* One handshake or cookie message from src (the relay path's pseudo address, relay_ring.h). */
void mg_hs_input_msg(struct mg_control *ctl, const void *msg, size_t len,
                     const struct mg_sockaddr *src, uint64_t now_ns);

/* The UDP payload of a punted handshake frame (m's punt metadata), copied to out (cap bytes);
 * -1 when the framing is not IP/UDP or it does not fit. */
int mg_hs_extract(struct rte_mbuf *m, void *out, size_t cap, size_t *len);
/* After a handshake lcore answered an initiation from src (rx_len bytes) with resp: the peer's
 * endpoint, counters and timers, then resp on the wire. */
void mg_hs_response_built(struct mg_control *ctl, struct mg_peer *peer,
                          const struct wg_msg_response *resp, size_t rx_len,
                          const struct mg_sockaddr *src, uint64_t now_ns);
/* After a response from src (rx_len bytes) to our initiation was consumed and the session
 * begun: counters, timers, then our first data message (staged packets or a keepalive). */
void mg_hs_initiator_done(struct mg_control *ctl, struct mg_peer *peer, size_t rx_len,
                          const struct mg_sockaddr *src, uint64_t now_ns);
/* The peer whose handshake or keypair owns index, with its hs_lock held, checked again under
 * the lock (an index moves only under it); NULL when none. Any thread. */
struct mg_peer *mg_hs_lock_index_owner(struct mg_control *ctl, uint32_t idx);
/* Sends a cookie reply to src. */
void mg_hs_cookie_built(struct mg_control *ctl, const struct wg_msg_cookie *reply,
                        const struct mg_sockaddr *src, uint64_t now_ns);

/* A current keypair that may still send (valid, young enough, counter left). */
bool mg_hs_has_usable_keypair(struct mg_peer *peer, uint64_t now_ns);

/* Builds and sends an initiation to the peer's endpoint and arms the retransmit timer. */
void mg_hs_send_initiation(struct mg_control *ctl, struct mg_peer *peer, uint64_t now_ns);
/* Starts a handshake unless one went out less than REKEY_TIMEOUT ago. */
void mg_hs_maybe_initiate(struct mg_control *ctl, struct mg_peer *peer, uint64_t now_ns);
/* An empty data message under the current keypair; with none, starts a handshake instead. */
void mg_hs_send_keepalive(struct mg_control *ctl, struct mg_peer *peer, uint64_t now_ns);
/*
 * Seals and sends the peer's staged packets under its current keypair. Without a usable one,
 * keeps them and starts a handshake. Returns how many were sent.
 */
unsigned mg_hs_flush_staged(struct mg_control *ctl, struct mg_peer *peer, uint64_t now_ns);
/*
 * Seals one IP packet (ip, len bytes) under the peer's current keypair and sends it. -ENOKEY
 * without a usable keypair, -EMSGSIZE over the MTU or not IP, or a send error.
 */
int mg_hs_send_data(struct mg_control *ctl, struct mg_peer *peer, const uint8_t *ip, size_t len,
                    uint64_t now_ns);
/* Queues a LAN packet (m starts at its IP header) for the peer, dropping the oldest when
 * full. */
void mg_hs_stage(struct mg_control *ctl, struct mg_peer *peer, struct rte_mbuf *m);

/* Sends the frames whose neighbour got resolved, drops the ones that waited too long. */
unsigned mg_hs_pending_poll(struct mg_control *ctl, uint64_t now_ns);
/* Frees every waiting frame (shutdown). */
void mg_hs_pending_clear(struct mg_control *ctl);

/*
 * Sends a UDP datagram from the mesh port's address and listen port to dst, the payload already
 * in place at the end of m (built with mg_hs_frame_alloc). Counts the bytes against peer_slot
 * (MG_PUNT_NO_PEER: none). Consumes m. Returns 0, -EAGAIN when the frame waits for ARP/ND, or
 * a negative errno when it was dropped.
 */
int mg_hs_frame_send(struct mg_control *ctl, struct rte_mbuf *m, const struct mg_sockaddr *dst,
                     uint16_t payload_len, uint8_t tclass, uint32_t peer_slot, uint64_t now_ns);
/* An mbuf from the mesh pool with room for the headers to family and payload_len bytes; the
 * payload pointer is returned in *payload. NULL when no mbuf is free. */
struct rte_mbuf *mg_hs_frame_alloc(struct mg_control *ctl, uint8_t family, uint16_t payload_len,
                                   uint8_t **payload);

#endif
