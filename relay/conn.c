// SPDX-License-Identifier: GPL-2.0-only
/*
 * One client connection, from TLS accept to close: the HTTP upgrade, the challenge and proof,
 * then frames. A node's packets move from the sender's input buffer to the receiver's output
 * buffer (evbuffer chains, no copy of the payload when libevent can avoid it), and only while the
 * receiver's queue is under its bound: a slow reader loses frames, counted, and never makes the
 * relay buffer more or stop reading from anyone else.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <sodium.h>

#include "admit.h"
#include "auth.h"
#include "frame.h"
#include "keys.h"
#include "log.h"
#include "relay.h"
#include "upgrade.h"

/* How long a connection we refused may take to read our reason. */
#define CLOSE_GRACE_MS 2000

/* CS_ADMIT: the key is proven and the coordinator is being asked about it. */
enum conn_state { CS_UPGRADE, CS_PROOF, CS_ADMIT, CS_NODE, CS_MESH_IN, CS_CLOSING };

struct relay_conn {
	struct relay_server *s;
	struct bufferevent *bev;
	struct relay_conn *prev, *next;   /* s->conns */
	struct relay_conn *mprev, *mnext; /* s->mesh_in */
	uint64_t deadline; /* handshake deadline, or when a closing connection is dropped */
	uint64_t last_rx, last_ping;
	size_t out_room; /* free bytes after the output's last chain, as out_append left it */
	enum conn_state state;
	bool in_local;  /* s->local maps key to this connection */
	bool counted;   /* its close reason is counted */
	uint8_t ip[32]; /* family, address: the per-IP table's key */
	uint8_t key[32];
	uint8_t challenge[RELAY_CHALLENGE_LEN];
	char name[RELAY_MESH_NAME_MAX + 1]; /* a peer relay's name */
	struct relay_admit_req *admit;      /* the question in flight in CS_ADMIT */
};

static void conn_free(struct relay_conn *c, enum relay_close why);

static void ip_format(const uint8_t ip[32], char *buf, size_t len)
{
	if (!inet_ntop(ip[0] == 4 ? AF_INET : AF_INET6, ip + 1, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static void log_conn(enum mg_log_level lvl, struct relay_conn *c, const char *msg, const char *k,
                     const char *v)
{
	struct mg_log_line l;
	char ip[64], b64[WG_KEY_B64_SIZE];

	if (!mg_log_enabled(lvl))
		return;
	ip_format(c->ip, ip, sizeof(ip));
	mg_log_begin(&l, lvl, msg);
	mg_log_str(&l, "from", ip);
	if (c->state == CS_NODE || c->in_local) {
		wg_key_to_base64(b64, c->key);
		mg_log_str(&l, "node", b64);
	}
	if (c->name[0])
		mg_log_str(&l, "relay", c->name);
	if (k)
		mg_log_str(&l, k, v);
	mg_log_end(&l);
}

static void put_frame(struct relay_conn *c, uint8_t type, const void *body, uint32_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint8_t hdr[RELAY_HDR_LEN];

	relay_frame_put(hdr, type, len);
	evbuffer_add(out, hdr, sizeof(hdr));
	if (len)
		evbuffer_add(out, body, len);
}

static size_t out_len(struct relay_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

static void closing_writecb(struct bufferevent *bev, void *arg)
{
	struct relay_conn *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c, RELAY_CLOSE_COUNT);
}

static void eventcb(struct bufferevent *bev, short events, void *arg);

/* Counts why the connection ends and takes it out of the key tables, once. */
static void conn_unregister(struct relay_conn *c, enum relay_close why)
{
	if (!c->counted && why < RELAY_CLOSE_COUNT)
		c->s->m.closes[why]++;
	c->counted = true;
	relay_admit_forget(c->admit);
	c->admit = NULL;
	if (c->in_local) {
		keytab_del(&c->s->local, c->key);
		c->in_local = false;
		c->s->m.clients--;
		relay_conns_announce(c->s, RELAY_F_MESH_ABSENT, c->key);
	}
	if (c->state == CS_MESH_IN) {
		if (c->mprev)
			c->mprev->mnext = c->mnext;
		else
			c->s->mesh_in = c->mnext;
		if (c->mnext)
			c->mnext->mprev = c->mprev;
		c->s->m.mesh_in--;
	}
}

/* Stops reading, lets what is queued (the reason) go out, then closes. */
static void conn_drain_close(struct relay_conn *c, enum relay_close why)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (c->state == CS_CLOSING)
		return;
	conn_unregister(c, why);
	c->state = CS_CLOSING;
	c->deadline = relay_now_ms() + CLOSE_GRACE_MS;
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_setcb(c->bev, NULL, closing_writecb, eventcb, c);
	if (out_len(c) == 0)
		bufferevent_trigger(c->bev, EV_WRITE,
		                    BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
}

/* Sends an ERROR frame with a reason the client can show, then closes. */
static void conn_fail(struct relay_conn *c, int code, const char *why, enum relay_close reason)
{
	uint8_t body[1 + RELAY_ERROR_TEXT_MAX];
	size_t n = strlen(why);

	if (c->state == CS_CLOSING)
		return;
	log_conn(MG_LOG_INFO, c, "connection refused", "reason",
	         why); /* the caller's text is fixed, never peer bytes */
	if (n > RELAY_ERROR_TEXT_MAX)
		n = RELAY_ERROR_TEXT_MAX;
	body[0] = (uint8_t)code;
	memcpy(body + 1, why, n);
	put_frame(c, RELAY_F_ERROR, body, (uint32_t)(1 + n));
	conn_drain_close(c, reason);
}

static void http_fail(struct relay_conn *c, int status, const char *why)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const char *text = status == 404   ? "Not Found"
	                   : status == 405 ? "Method Not Allowed"
	                   : status == 426 ? "Upgrade Required"
	                   : status == 431 ? "Request Header Fields Too Large"
	                                   : "Bad Request";

	log_conn(MG_LOG_INFO, c, "upgrade refused", "reason", why);
	evbuffer_add_printf(out,
	                    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nConnection: close\r\n"
	                    "Content-Length: %zu\r\n\r\n%s\n",
	                    status, text, strlen(why) + 1, why);
	conn_drain_close(c, RELAY_CLOSE_BAD_UPGRADE);
}

int relay_tls_exporter(SSL *ssl, uint8_t out[32])
{
	if (!ssl || SSL_export_keying_material(ssl, out, 32, RELAY_EXPORTER_LABEL,
	                                       strlen(RELAY_EXPORTER_LABEL), NULL, 0, 0) != 1)
		return -1;
	return 0;
}

/* Returns 1 when the request was accepted (continue with frames), 0 when more is needed, -1
 * when the connection is closing. */
static int handle_upgrade(struct relay_conn *c, struct evbuffer *in)
{
	struct relay_upgrade_result res;
	size_t avail = evbuffer_get_length(in);
	size_t len = avail < RELAY_UPGRADE_MAX ? avail : RELAY_UPGRADE_MAX;
	const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	uint8_t body[RELAY_CHALLENGE_BODY_LEN];
	int rc = relay_upgrade_parse_request(p, len, &res);

	if (rc == 0)
		return 0;
	if (rc < 0) {
		http_fail(c, res.status, res.why);
		return -1;
	}
	if (avail > res.consumed) {
		http_fail(c, 400, "data after the upgrade request: wait for the challenge");
		return -1;
	}
	evbuffer_drain(in, res.consumed);
	evbuffer_add(bufferevent_get_output(c->bev), RELAY_UPGRADE_RESPONSE,
	             sizeof(RELAY_UPGRADE_RESPONSE) - 1);
	randombytes_buf(c->challenge, sizeof(c->challenge));
	body[0] = RELAY_PROTO_VERSION;
	body[1] = 0;
	memcpy(body + 2, c->s->relay_pk, 32);
	memcpy(body + 2 + 32, c->challenge, RELAY_CHALLENGE_LEN);
	put_frame(c, RELAY_F_CHALLENGE, body, sizeof(body));
	c->state = CS_PROOF;
	return 1;
}

static void login(struct relay_conn *c);
static void bulk_reads(struct relay_conn *c);

static void send_welcome(struct relay_conn *c)
{
	const struct relay_config *cfg = c->s->cfg;
	uint8_t w[RELAY_WELCOME_BODY_LEN];
	uint32_t v[3] = {cfg->keepalive_s, RELAY_MAX_PACKET, cfg->queue_bytes};

	for (int i = 0; i < 3; i++) {
		w[4 * i] = (uint8_t)(v[i] >> 24);
		w[4 * i + 1] = (uint8_t)(v[i] >> 16);
		w[4 * i + 2] = (uint8_t)(v[i] >> 8);
		w[4 * i + 3] = (uint8_t)v[i];
	}
	put_frame(c, RELAY_F_WELCOME, w, sizeof(w));
	/* Authenticated: now a full frame may be buffered (never before). */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 2 * (RELAY_HDR_LEN + RELAY_MAX_BODY));
	c->last_rx = c->last_ping = relay_now_ms();
}

static void handle_proof(struct relay_conn *c, const uint8_t *body, uint32_t len)
{
	struct relay_server *s = c->s;
	uint8_t exporter[32];
	struct relay_auth_input in = {s->relay_sk, c->challenge, exporter};
	const char *why;

	if (relay_tls_exporter(bufferevent_openssl_get_ssl(c->bev), exporter) != 0) {
		conn_fail(c, RELAY_E_BAD_PROOF, "TLS exporter unavailable", RELAY_CLOSE_TLS);
		return;
	}
	if (relay_proof_verify(&in, body, len, c->key, &why) != 0) {
		conn_fail(c, RELAY_E_BAD_PROOF, why, RELAY_CLOSE_BAD_PROOF);
		return;
	}
	sodium_memzero(c->challenge, sizeof(c->challenge));
	switch (relay_admit_check(s, c->key, c, &c->admit, &why)) {
	case 0:
		conn_fail(c, RELAY_E_NOT_ADMITTED, why, RELAY_CLOSE_NOT_ADMITTED);
		return;
	case 2:
		/* Frames that arrive meanwhile wait in the input buffer, bounded by the
		 * pre-auth read watermark. */
		c->state = CS_ADMIT;
		return;
	default:
		break;
	}
	login(c);
}

void relay_conn_admitted(struct relay_conn *c, bool ok, const char *why)
{
	c->admit = NULL;
	if (c->state != CS_ADMIT)
		return;
	if (!ok) {
		conn_fail(c, RELAY_E_NOT_ADMITTED, why, RELAY_CLOSE_NOT_ADMITTED);
		return;
	}
	login(c);
	if (c->state == CS_NODE)
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

/* The proven (and admitted) key becomes reachable here. */
static void login(struct relay_conn *c)
{
	struct relay_server *s = c->s;
	struct relay_conn *old;
	int err;

	old = keytab_put(&s->local, c->key, c, &err);
	if (err) {
		conn_fail(c, RELAY_E_SERVER_FULL, "out of memory", RELAY_CLOSE_MEMORY);
		return;
	}
	c->state = CS_NODE;
	c->in_local = true;
	bulk_reads(c);
	s->m.clients++;
	s->m.auth_ok_total++;
	if (old) {
		/* The newest connection of a key wins: the old one is likely dead already. */
		old->in_local = false;
		s->m.clients--;
		conn_fail(old, RELAY_E_REPLACED, "the same node key connected again",
		          RELAY_CLOSE_REPLACED);
	} else {
		relay_conns_announce(s, RELAY_F_MESH_PRESENT, c->key);
	}
	send_welcome(c);
	log_conn(MG_LOG_DEBUG, c, "node connected", NULL, NULL);
}

struct present_batch {
	struct relay_conn *c;
	uint8_t keys[RELAY_MESH_KEYS_MAX * 32];
	size_t n;
};

static int batch_key(const uint8_t key[32], void *val, void *ctx)
{
	struct present_batch *b = ctx;

	(void)val;
	memcpy(b->keys + 32 * b->n++, key, 32);
	if (b->n == RELAY_MESH_KEYS_MAX) {
		put_frame(b->c, RELAY_F_MESH_PRESENT, b->keys, (uint32_t)(32 * b->n));
		b->n = 0;
	}
	return 0;
}

static void handle_mesh_proof(struct relay_conn *c, const uint8_t *body, uint32_t len)
{
	struct relay_server *s = c->s;
	uint8_t exporter[32];
	struct relay_auth_input in = {NULL, c->challenge, exporter};
	struct present_batch *b;
	const char *why;

	if (!s->cfg->mesh) {
		conn_fail(c, RELAY_E_BAD_MESH_PROOF, "this relay is not part of a mesh",
		          RELAY_CLOSE_BAD_MESH_PROOF);
		return;
	}
	if (relay_tls_exporter(bufferevent_openssl_get_ssl(c->bev), exporter) != 0 ||
	    relay_mesh_proof_verify(s->cfg->mesh_key, &in, body, len, c->name, &why) != 0) {
		conn_fail(c, RELAY_E_BAD_MESH_PROOF, "the mesh proof does not verify",
		          RELAY_CLOSE_BAD_MESH_PROOF);
		return;
	}
	b = malloc(sizeof(*b));
	if (!b) {
		conn_fail(c, RELAY_E_SERVER_FULL, "out of memory", RELAY_CLOSE_MEMORY);
		return;
	}
	c->state = CS_MESH_IN;
	bulk_reads(c);
	c->mnext = s->mesh_in;
	if (s->mesh_in)
		s->mesh_in->mprev = c;
	s->mesh_in = c;
	s->m.mesh_in++;
	s->m.mesh_auth_ok_total++;
	send_welcome(c);
	b->c = c;
	b->n = 0;
	keytab_sweep(&s->local, batch_key, b);
	if (b->n)
		put_frame(c, RELAY_F_MESH_PRESENT, b->keys, (uint32_t)(32 * b->n));
	free(b);
	log_conn(MG_LOG_NOTICE, c, "peer relay connected", NULL, NULL);
}

/*
 * The OpenSSL bufferevent makes one TLS record, and one write(2), per output chain. Frames are
 * therefore written into chains of OUT_CHAIN bytes (about one full record) instead of libevent's
 * default 4 KiB ones: a busy receiver gets ~11 frames of 1420 bytes per record and syscall, not
 * ~3. Idle connections hold no chain (libevent frees drained ones).
 */
#define OUT_CHAIN (16384 - 64) /* the chain header keeps the allocation at 16 KiB */

static int out_append(struct relay_conn *c, const uint8_t hdr[RELAY_HDR_LEN + 32],
                      struct evbuffer *src_buf, uint32_t plen)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t need = RELAY_HDR_LEN + 32 + (size_t)plen;
	struct evbuffer_iovec v;

	/* out_room is a hint (other frames may have used the tail since): when it is wrong,
	 * reserve_space just allocates a chain of the frame's size and the hint is reset. */
	if (c->out_room < need && evbuffer_expand(out, OUT_CHAIN > need ? OUT_CHAIN : need) != 0)
		return -1;
	if (evbuffer_reserve_space(out, (ev_ssize_t)need, &v, 1) != 1 || v.iov_len < need)
		return -1;
	memcpy(v.iov_base, hdr, RELAY_HDR_LEN + 32);
	if (evbuffer_remove(src_buf, (uint8_t *)v.iov_base + RELAY_HDR_LEN + 32, plen) != (int)plen)
		return -1;
	c->out_room = v.iov_len - need;
	v.iov_len = need;
	return evbuffer_commit_space(out, &v, 1);
}

bool relay_conn_deliver(struct relay_server *s, struct relay_conn *to, const uint8_t src[32],
                        struct evbuffer *src_buf, uint32_t plen)
{
	struct evbuffer *out = bufferevent_get_output(to->bev);
	uint8_t hdr[RELAY_HDR_LEN + 32];

	if (evbuffer_get_length(out) + sizeof(hdr) + plen > s->cfg->queue_bytes) {
		s->m.drops[RELAY_DROP_QUEUE_FULL]++;
		s->m.drop_bytes[RELAY_DROP_QUEUE_FULL] += plen;
		evbuffer_drain(src_buf, plen);
		return false;
	}
	if (s->tap)
		relay_tap(s, src, to->key, src_buf, plen);
	relay_frame_put(hdr, RELAY_F_RECV, 32 + plen);
	memcpy(hdr + RELAY_HDR_LEN, src, 32);
	if (out_append(to, hdr, src_buf, plen) != 0) {
		s->m.drops[RELAY_DROP_QUEUE_FULL]++;
		s->m.drop_bytes[RELAY_DROP_QUEUE_FULL] += plen;
		evbuffer_drain(src_buf, plen);
		return false;
	}
	return true;
}

static void handle_send(struct relay_conn *c, struct evbuffer *in, uint32_t len)
{
	struct relay_server *s = c->s;
	uint8_t dst[32];
	uint32_t plen = len - 32;
	struct relay_conn *to;
	struct relay_mesh_link *l;

	evbuffer_remove(in, dst, 32);
	if ((to = keytab_get(&s->local, dst))) {
		if (relay_conn_deliver(s, to, c->key, in, plen)) {
			s->m.frames[RELAY_PATH_LOCAL]++;
			s->m.bytes[RELAY_PATH_LOCAL] += plen;
		}
		return;
	}
	if ((l = keytab_get(&s->remote, dst))) {
		if (relay_mesh_forward(s, l, c->key, dst, in, plen)) {
			s->m.frames[RELAY_PATH_MESH_OUT]++;
			s->m.bytes[RELAY_PATH_MESH_OUT] += plen;
		}
		return;
	}
	s->m.drops[RELAY_DROP_UNKNOWN_DST]++;
	s->m.drop_bytes[RELAY_DROP_UNKNOWN_DST] += plen;
	evbuffer_drain(in, plen);
	/* Tell the sender, unless it is not reading either. */
	if (out_len(c) + RELAY_HDR_LEN + 33 <= s->cfg->queue_bytes) {
		uint8_t gone[33];
		memcpy(gone, dst, 32);
		gone[32] = RELAY_GONE_NOT_HERE;
		put_frame(c, RELAY_F_PEER_GONE, gone, sizeof(gone));
		s->m.peer_gone_sent++;
	}
}

static void handle_forward(struct relay_conn *c, struct evbuffer *in, uint32_t len)
{
	struct relay_server *s = c->s;
	uint8_t keys[64];
	uint32_t plen = len - 64;
	struct relay_conn *to;

	evbuffer_remove(in, keys, 64);
	/* Delivered here or nowhere: forwarding again could loop between relays. */
	if ((to = keytab_get(&s->local, keys + 32))) {
		if (relay_conn_deliver(s, to, keys, in, plen)) {
			s->m.frames[RELAY_PATH_MESH_IN]++;
			s->m.bytes[RELAY_PATH_MESH_IN] += plen;
		}
		return;
	}
	s->m.drops[RELAY_DROP_MESH_UNKNOWN_DST]++;
	s->m.drop_bytes[RELAY_DROP_MESH_UNKNOWN_DST] += plen;
	evbuffer_drain(in, plen);
}

/* One complete frame whose header is consumed. */
static void handle_frame(struct relay_conn *c, struct evbuffer *in, const struct relay_frame_hdr *h)
{
	uint8_t small[RELAY_PROOF_BODY_LEN + 64];

	switch (h->type) {
	case RELAY_F_SEND:
		handle_send(c, in, h->len);
		return;
	case RELAY_F_MESH_FORWARD:
		handle_forward(c, in, h->len);
		return;
	default:
		break;
	}
	/* Every other frame is small (frame.c bounds it). */
	if (h->len > sizeof(small)) {
		conn_fail(c, RELAY_E_BAD_FRAME, "frame too long", RELAY_CLOSE_BAD_FRAME);
		return;
	}
	evbuffer_remove(in, small, h->len);
	switch (h->type) {
	case RELAY_F_PROOF:
		handle_proof(c, small, h->len);
		break;
	case RELAY_F_MESH_PROOF:
		handle_mesh_proof(c, small, h->len);
		break;
	case RELAY_F_PING:
		if (out_len(c) + RELAY_HDR_LEN + 8 <= c->s->cfg->queue_bytes)
			put_frame(c, RELAY_F_PONG, small, 8);
		break;
	case RELAY_F_PONG:
		break;
	default:
		conn_fail(c, RELAY_E_UNEXPECTED, "frame type not handled", RELAY_CLOSE_BAD_FRAME);
		break;
	}
}

static enum relay_role role_of(enum conn_state st)
{
	switch (st) {
	case CS_NODE:
		return RELAY_ROLE_NODE;
	case CS_MESH_IN:
		return RELAY_ROLE_MESH_IN;
	default:
		return RELAY_ROLE_PREAUTH;
	}
}

static void read_frames(struct relay_conn *c, struct evbuffer *in);

/*
 * A busy sender's records are read several per read(2), not header and body apart
 * (kick_read_ahead resumes reading when records wait in OpenSSL's buffer). Only a proven
 * client gets the 4-record buffer: before that, a silent or trickling connection would hold
 * ~66 KiB of it from its first byte, and 1,500 of them 100 MiB (relay_hostile). With
 * SSL_MODE_RELEASE_BUFFERS the next buffer OpenSSL allocates has the new size.
 */
static void bulk_reads(struct relay_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	if (ssl) {
		SSL_set_default_read_buffer_len(ssl, RELAY_TLS_READ_BUF);
		SSL_set_read_ahead(ssl, 1);
	}
}

/*
 * With read-ahead (server.c), OpenSSL may hold whole records that it has read from the socket
 * but not yet decrypted. libevent 2.1's OpenSSL bufferevent stops reading when SSL_pending()
 * is 0, which does not count them, and the socket will not wake it for bytes already read:
 * so whenever frames were taken and records still wait inside OpenSSL, its read handler is
 * run again in this loop iteration. (A partial record also counts; then that one extra pass
 * finds the socket empty and stops, and the rest of the record wakes the socket as usual.)
 */
static void kick_read_ahead(struct relay_conn *c, struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (c->state != CS_CLOSING && ssl && SSL_has_pending(ssl))
		event_active(&bev->ev_read, EV_READ, 1);
}

static void readcb(struct bufferevent *bev, void *arg)
{
	struct relay_conn *c = arg;

	c->last_rx = relay_now_ms();
	read_frames(c, bufferevent_get_input(bev));
	kick_read_ahead(c, bev);
}

static void read_frames(struct relay_conn *c, struct evbuffer *in)
{
	while (c->state != CS_CLOSING) {
		uint8_t hdr[RELAY_HDR_LEN];
		struct relay_frame_hdr h;
		const char *why;
		int rc;

		if (c->state == CS_UPGRADE) {
			if (handle_upgrade(c, in) <= 0)
				return;
			continue;
		}
		if (c->state == CS_ADMIT)
			return;
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ev_ssize_t)sizeof(hdr))
			return;
		rc = relay_frame_check(hdr, role_of(c->state), &h, &why);
		if (rc != 0) {
			conn_fail(c, rc, why, RELAY_CLOSE_BAD_FRAME);
			return;
		}
		if (evbuffer_get_length(in) < RELAY_HDR_LEN + (size_t)h.len)
			return;
		evbuffer_drain(in, RELAY_HDR_LEN);
		handle_frame(c, in, &h);
	}
}

static void eventcb(struct bufferevent *bev, short events, void *arg)
{
	struct relay_conn *c = arg;
	enum relay_close why = RELAY_CLOSE_PEER;
	unsigned long e;

	if (events & BEV_EVENT_CONNECTED) {
		/* The client's first records may have been read ahead with its Finished. */
		kick_read_ahead(c, bev);
		return;
	}
	if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	while ((e = bufferevent_get_openssl_error(c->bev)))
		why = RELAY_CLOSE_TLS; /* drained so it is not reported against another one */
	if (c->state == CS_UPGRADE && (events & BEV_EVENT_ERROR))
		why = RELAY_CLOSE_TLS;
	conn_free(c, why);
}

static void conn_free(struct relay_conn *c, enum relay_close why)
{
	struct relay_server *s = c->s;
	uintptr_t n;
	int err;

	if (c->state != CS_CLOSING)
		conn_unregister(c, why);
	else if (!c->counted && why < RELAY_CLOSE_COUNT)
		s->m.closes[why]++;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	n = (uintptr_t)keytab_get(&s->per_ip, c->ip);
	if (n <= 1)
		keytab_del(&s->per_ip, c->ip);
	else
		keytab_put(&s->per_ip, c->ip, (void *)(n - 1), &err);
	bufferevent_free(c->bev);
	s->m.conns--;
	sodium_memzero(c, sizeof(*c));
	free(c);
}

void relay_conn_accept(struct relay_server *s, int fd, const struct sockaddr *sa, int salen)
{
	const struct relay_config *cfg = s->cfg;
	uint8_t ip[32] = {0};
	struct relay_conn *c;
	uintptr_t n;
	SSL *ssl;
	int err;

	(void)salen;
	if (sa->sa_family == AF_INET) {
		ip[0] = 4;
		memcpy(ip + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else {
		ip[0] = 6;
		memcpy(ip + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
	/* Refused before TLS: a flood of connections costs a close, not a handshake. */
	if (s->m.conns >= cfg->max_clients || s->stopping) {
		s->m.closes[RELAY_CLOSE_SERVER_FULL]++;
		close(fd);
		return;
	}
	n = (uintptr_t)keytab_get(&s->per_ip, ip);
	if (n >= cfg->max_clients_per_ip) {
		s->m.closes[RELAY_CLOSE_PER_IP_LIMIT]++;
		close(fd);
		return;
	}
	/* Packets are latency-sensitive and every frame is written whole: no Nagle delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	c = calloc(1, sizeof(*c));
	ssl = c ? SSL_new(s->tls) : NULL;
	if (!ssl || (keytab_put(&s->per_ip, ip, (void *)(n + 1), &err), err)) {
		s->m.closes[RELAY_CLOSE_MEMORY]++;
		SSL_free(ssl);
		free(c);
		close(fd);
		return;
	}
	c->bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                        BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		SSL_free(ssl);
		close(fd);
		keytab_put(&s->per_ip, ip, (void *)n, &err);
		if (n == 0)
			keytab_del(&s->per_ip, ip);
		free(c);
		s->m.closes[RELAY_CLOSE_MEMORY]++;
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	c->s = s;
	memcpy(c->ip, ip, sizeof(ip));
	c->state = CS_UPGRADE;
	c->deadline = relay_now_ms() + cfg->handshake_timeout_ms;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->m.conns++;
	s->m.accepted_total++;
	/* Before the proof nothing larger than the upgrade request is ever buffered. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, RELAY_UPGRADE_MAX);
	bufferevent_setcb(c->bev, readcb, NULL, eventcb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

void relay_conns_announce(struct relay_server *s, uint8_t type, const uint8_t key[32])
{
	for (struct relay_conn *c = s->mesh_in, *n; c; c = n) {
		n = c->mnext;
		/* Presence is never dropped (the peer would route wrongly); a peer relay that
		 * stops reading is disconnected and resyncs when it dials again. */
		if (out_len(c) > 2 * (size_t)s->cfg->mesh_queue_bytes) {
			conn_fail(c, RELAY_E_SERVER_FULL, "peer relay not reading",
			          RELAY_CLOSE_IDLE_TIMEOUT);
			continue;
		}
		put_frame(c, type, key, 32);
	}
}

void relay_conns_tick(struct relay_server *s, uint64_t now)
{
	const struct relay_config *cfg = s->cfg;

	for (struct relay_conn *c = s->conns, *n; c; c = n) {
		n = c->next;
		switch (c->state) {
		case CS_UPGRADE:
			/* Maybe still in the TLS handshake: nothing can be said. */
			if (now >= c->deadline)
				conn_free(c, RELAY_CLOSE_HANDSHAKE_TIMEOUT);
			break;
		case CS_PROOF:
			if (now >= c->deadline)
				conn_fail(c, RELAY_E_HANDSHAKE_TIMEOUT,
				          "no proof before the deadline",
				          RELAY_CLOSE_HANDSHAKE_TIMEOUT);
			break;
		case CS_ADMIT:
			if (now >= c->deadline)
				conn_fail(c, RELAY_E_NOT_ADMITTED,
				          "the coordinator did not answer in time",
				          RELAY_CLOSE_NOT_ADMITTED);
			break;
		case CS_CLOSING:
			if (now >= c->deadline)
				conn_free(c, RELAY_CLOSE_COUNT);
			break;
		case CS_NODE:
		case CS_MESH_IN:
			if (now - c->last_rx >= 1000ull * cfg->idle_timeout_s) {
				conn_fail(c, RELAY_E_IDLE_TIMEOUT,
				          "nothing received (not even PONG)",
				          RELAY_CLOSE_IDLE_TIMEOUT);
			} else if (now - c->last_ping >= 1000ull * cfg->keepalive_s) {
				uint8_t ping[8];
				for (int i = 0; i < 8; i++)
					ping[i] = (uint8_t)(now >> (56 - 8 * i));
				put_frame(c, RELAY_F_PING, ping, sizeof(ping));
				c->last_ping = now;
				s->m.pings_sent++;
			}
			break;
		}
	}
}

void relay_conns_close_all(struct relay_server *s)
{
	while (s->conns)
		conn_free(s->conns, RELAY_CLOSE_SHUTDOWN);
}
