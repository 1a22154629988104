/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ICMP and ICMPv6 echo for the gateway's own addresses: the reply to a request punted to the
 * control thread (MG_PUNT_LOCAL), recognising the replies to its own probes, and building the
 * request meshctl ping sends through a tunnel. Packets are IP packets on contiguous bytes; the
 * caller frames and sends them.
 */
#ifndef MESHGATE_DATAPLANE_ECHO_H
#define MESHGATE_DATAPLANE_ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mg_gateway;

/* IP header room the largest request needs in front of its ICMP message. */
#define MG_ECHO_IP_HLEN_MAX 40
#define MG_ECHO_TTL         64

/* addr is one of the gateway's addresses, or (IPv6) port's link-local address. */
bool mg_echo_is_own_addr(const struct mg_gateway *gw, uint8_t port, uint8_t family,
                         const uint8_t *addr);
/*
 * Turns the echo request at ip (avail bytes) into its reply in place: addresses swapped, fresh
 * TTL, type changed, checksums updated incrementally (the swap leaves both sums unchanged).
 * *ip_len gets the reply's length. False, ip untouched, when it is not an echo request to one of
 * the gateway's addresses on port.
 */
bool mg_echo_reply_in_place(const struct mg_gateway *gw, uint8_t port, uint8_t *ip, uint32_t avail,
                            uint32_t *ip_len);
/* True when ip is an echo reply to one of the gateway's addresses on port. */
bool mg_echo_is_reply_to_us(const struct mg_gateway *gw, uint8_t port, const uint8_t *ip,
                            uint32_t avail);
/*
 * Writes an ICMP (family 4, DF set) or ICMPv6 echo request from src to dst carrying
 * payload_len bytes at payload into out, which holds MG_ECHO_IP_HLEN_MAX + 8 + payload_len
 * bytes. Returns the packet's length.
 */
size_t mg_echo_request_build(uint8_t *out, uint8_t family, const uint8_t *src, const uint8_t *dst,
                             uint16_t id, uint16_t seq, const void *payload, size_t payload_len);

#endif
