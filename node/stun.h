/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * STUN (RFC 8489) Binding for nodes: the codec, a small blocking client, and NAT mapping
 * detection (docs/nat-traversal.md). No DPDK and no threads: the agent runs the client on its
 * own UDP socket; the gateway's control lcore builds requests and parses the replies its workers
 * punt, with its own transmit path.
 *
 * Parsing never trusts the packet: every length is checked against the datagram before it is
 * read, and a failure says why (enum mg_stun_result) so callers can count drops by reason.
 */
#ifndef MESHGATE_NODE_STUN_H
#define MESHGATE_NODE_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "addr.h"

#define MG_STUN_HDR_LEN     20
#define MG_STUN_MAGIC       0x2112A442u
#define MG_STUN_TXID_LEN    12
#define MG_STUN_REQUEST_LEN 28 /* header + FINGERPRINT */
/* Larger datagrams are not STUN we asked for: a Binding response fits easily. */
#define MG_STUN_MAX_LEN 1280

#define MG_STUN_BINDING_REQUEST    0x0001
#define MG_STUN_BINDING_SUCCESS    0x0101
#define MG_STUN_BINDING_ERROR      0x0111
#define MG_STUN_BINDING_INDICATION 0x0011

#define MG_STUN_ATTR_MAPPED_ADDRESS     0x0001
#define MG_STUN_ATTR_CHANGE_REQUEST     0x0003
#define MG_STUN_ATTR_USERNAME           0x0006
#define MG_STUN_ATTR_MESSAGE_INTEGRITY  0x0008
#define MG_STUN_ATTR_ERROR_CODE         0x0009
#define MG_STUN_ATTR_UNKNOWN_ATTRIBUTES 0x000A
#define MG_STUN_ATTR_REALM              0x0014
#define MG_STUN_ATTR_NONCE              0x0015
#define MG_STUN_ATTR_MI_SHA256          0x001C
#define MG_STUN_ATTR_USERHASH           0x001E
#define MG_STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define MG_STUN_ATTR_SOFTWARE           0x8022
#define MG_STUN_ATTR_FINGERPRINT        0x8028
#define MG_STUN_ATTR_RESPONSE_ORIGIN    0x802B
#define MG_STUN_ATTR_OTHER_ADDRESS      0x802C
#define MG_STUN_FINGERPRINT_XOR         0x5354554Eu

enum mg_stun_result {
	MG_STUN_OK = 0,
	MG_STUN_ERR_SHORT,            /* under 20 bytes, or the length field passes the datagram */
	MG_STUN_ERR_NOT_STUN,         /* top bits or magic cookie wrong */
	MG_STUN_ERR_LENGTH,           /* length field not a multiple of 4 or bytes after it */
	MG_STUN_ERR_ATTR,             /* an attribute runs past the message or has a bad size */
	MG_STUN_ERR_FINGERPRINT,      /* FINGERPRINT wrong or not last */
	MG_STUN_ERR_TYPE,             /* not a Binding response */
	MG_STUN_ERR_TXID,             /* not the transaction we asked */
	MG_STUN_ERR_UNKNOWN_REQUIRED, /* an unknown comprehension-required attribute */
	MG_STUN_ERR_NO_ADDRESS,       /* success without a usable (XOR-)MAPPED-ADDRESS */
	MG_STUN_ERR_ERROR_RESPONSE,   /* the server answered with an error (error_code says) */
	MG_STUN_ERR_TOO_LONG,         /* over MG_STUN_MAX_LEN */
	MG_STUN_ERR_COUNT
};

const char *mg_stun_result_str(enum mg_stun_result r);

/* One parsed STUN message. Only the first of each attribute counts (RFC 8489 §14). */
struct mg_stun_msg {
	uint16_t type;
	uint16_t length; /* body length, from the header */
	uint8_t txid[MG_STUN_TXID_LEN];
	bool has_fingerprint;
	bool has_xor_mapped, has_mapped, has_origin, has_other;
	struct mg_sockaddr xor_mapped, mapped, origin, other;
	uint16_t error_code;       /* 300..699 in an error response, else 0 */
	uint16_t unknown_required; /* first unknown comprehension-required attribute, else 0 */
	bool change_request;       /* CHANGE-REQUEST present with a flag set */
	unsigned n_attrs;
};

/*
 * True when buf looks like a STUN message: the two top bits zero, the magic cookie at offset
 * 4, a length field that matches the datagram, and not a WireGuard first word. WireGuard messages
 * start with a type 1..4 and three zero bytes, which never carries the cookie; disco starts with
 * "MGdsc". Cheap enough for the data plane's demultiplexer.
 */
bool mg_stun_is_stun(const uint8_t *buf, size_t len);

/* Checks and walks one message. out is filled as far as parsing went. */
enum mg_stun_result mg_stun_parse(const uint8_t *buf, size_t len, struct mg_stun_msg *out);

/*
 * mg_stun_parse plus the checks a client makes on a reply: a Binding success or error
 * response, for txid (NULL: any), no unknown comprehension-required attribute, and an address.
 * On MG_STUN_OK *mapped is the XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an RFC 3489 server.
 */
enum mg_stun_result mg_stun_parse_response(const uint8_t *buf, size_t len,
                                           const uint8_t txid[MG_STUN_TXID_LEN],
                                           struct mg_stun_msg *msg, struct mg_sockaddr *mapped);

/* A Binding request with a fresh random transaction id (copied to txid) and a FINGERPRINT.
 * Returns its length (MG_STUN_REQUEST_LEN), or 0 when cap is too small. */
size_t mg_stun_build_request(uint8_t *out, size_t cap, uint8_t txid[MG_STUN_TXID_LEN]);

/* Between the socket API's addresses and ours (an IPv4-mapped IPv6 address becomes IPv4). */
socklen_t mg_sockaddr_to_ss(const struct mg_sockaddr *a, struct sockaddr_storage *ss);
void mg_sockaddr_from_ss(const struct sockaddr_storage *ss, struct mg_sockaddr *a);

/* CRC-32 of buf XOR 0x5354554E (RFC 8489 §14.7). */
uint32_t mg_stun_fingerprint(const uint8_t *buf, size_t len);

/*
 * Sends a Binding request from fd (a UDP socket of the server's family) to server and waits for
 * the answer to that transaction, retransmitting after 250 ms, 500 ms, 1 s... until timeout_ms.
 * Datagrams that are not the answer (another source, another transaction, not STUN) go to
 * other() when given, so a socket shared with WireGuard or disco loses nothing; else they are
 * dropped. Returns 0 with *mapped set, or -1 with why set (and errno-style text in err).
 */
typedef void (*mg_stun_other_fn)(void *arg, const uint8_t *buf, size_t len,
                                 const struct mg_sockaddr *from);
struct mg_stun_query {
	int timeout_ms;         /* 0: 3000 */
	mg_stun_other_fn other; /* may be NULL */
	void *other_arg;
	/* results */
	struct mg_sockaddr mapped;
	struct mg_stun_msg msg;
	enum mg_stun_result why; /* the last reason a reply was refused, if any */
	unsigned sent, refused;
	int rtt_ms;
};
int mg_stun_query(int fd, const struct mg_sockaddr *server, struct mg_stun_query *q, char *err,
                  size_t errlen);

enum mg_nat_mapping {
	MG_NAT_UNKNOWN = 0,          /* a server did not answer */
	MG_NAT_NONE,                 /* mapped endpoint is our own socket's: no NAT */
	MG_NAT_ENDPOINT_INDEPENDENT, /* same mapping to both servers ("easy") */
	MG_NAT_ENDPOINT_DEPENDENT,   /* a different mapping per destination ("hard") */
};
const char *mg_nat_mapping_str(enum mg_nat_mapping m);

struct mg_nat_report {
	struct mg_sockaddr local; /* getsockname(fd) */
	struct mg_sockaddr mapped[2];
	bool answered[2];
	int rtt_ms[2];
	enum mg_nat_mapping mapping;
	bool hard; /* mapping == MG_NAT_ENDPOINT_DEPENDENT */
};

/*
 * Queries two STUN servers (or one server's two addresses, which must differ in IP address for
 * address-dependent NATs to show) from the same socket and compares the mapped endpoints.
 * Returns 0 when both answered (verdict in mapping), -1 otherwise (report filled as far as it
 * went, err says which server failed).
 */
int mg_nat_detect(int fd, const struct mg_sockaddr servers[2], int timeout_ms,
                  struct mg_nat_report *out, char *err, size_t errlen);

#endif
