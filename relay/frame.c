// SPDX-License-Identifier: GPL-2.0-only
#include "frame.h"

#include <stdbool.h>

struct frame_rule {
	uint8_t type;
	const char *name;
	uint32_t min, max;
	bool multiple_of_key; /* the body is a list of keys */
	uint8_t roles;        /* bit per enum relay_role that may receive it */
};

#define R(role) (1u << (role))

static const struct frame_rule rules[] = {
    {RELAY_F_CHALLENGE, "CHALLENGE", RELAY_CHALLENGE_BODY_LEN, RELAY_CHALLENGE_BODY_LEN, false,
     R(RELAY_ROLE_CLIENT) | R(RELAY_ROLE_MESH_OUT)},
    {RELAY_F_PROOF, "PROOF", RELAY_PROOF_BODY_LEN, RELAY_PROOF_BODY_LEN, false,
     R(RELAY_ROLE_PREAUTH)},
    {RELAY_F_MESH_PROOF, "MESH_PROOF", 32 + 1, 32 + RELAY_MESH_NAME_MAX, false,
     R(RELAY_ROLE_PREAUTH)},
    {RELAY_F_WELCOME, "WELCOME", RELAY_WELCOME_BODY_LEN, RELAY_WELCOME_BODY_LEN, false,
     R(RELAY_ROLE_CLIENT) | R(RELAY_ROLE_MESH_OUT)},
    {RELAY_F_SEND, "SEND", RELAY_KEY_LEN + 1, RELAY_KEY_LEN + RELAY_MAX_PACKET, false,
     R(RELAY_ROLE_NODE)},
    {RELAY_F_RECV, "RECV", RELAY_KEY_LEN + 1, RELAY_KEY_LEN + RELAY_MAX_PACKET, false,
     R(RELAY_ROLE_CLIENT)},
    {RELAY_F_PEER_GONE, "PEER_GONE", RELAY_KEY_LEN + 1, RELAY_KEY_LEN + 1, false,
     R(RELAY_ROLE_CLIENT)},
    {RELAY_F_PING, "PING", 8, 8, false,
     R(RELAY_ROLE_NODE) | R(RELAY_ROLE_MESH_IN) | R(RELAY_ROLE_MESH_OUT) | R(RELAY_ROLE_CLIENT)},
    {RELAY_F_PONG, "PONG", 8, 8, false,
     R(RELAY_ROLE_NODE) | R(RELAY_ROLE_MESH_IN) | R(RELAY_ROLE_MESH_OUT) | R(RELAY_ROLE_CLIENT)},
    {RELAY_F_ERROR, "ERROR", 1, 1 + RELAY_ERROR_TEXT_MAX, false,
     R(RELAY_ROLE_CLIENT) | R(RELAY_ROLE_MESH_OUT)},
    {RELAY_F_MESH_PRESENT, "MESH_PRESENT", RELAY_KEY_LEN, RELAY_KEY_LEN *RELAY_MESH_KEYS_MAX, true,
     R(RELAY_ROLE_MESH_OUT)},
    {RELAY_F_MESH_ABSENT, "MESH_ABSENT", RELAY_KEY_LEN, RELAY_KEY_LEN *RELAY_MESH_KEYS_MAX, true,
     R(RELAY_ROLE_MESH_OUT)},
    {RELAY_F_MESH_FORWARD, "MESH_FORWARD", 2 * RELAY_KEY_LEN + 1,
     2 * RELAY_KEY_LEN + RELAY_MAX_PACKET, false, R(RELAY_ROLE_MESH_IN)},
};

static const struct frame_rule *rule_for(uint8_t type)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].type == type)
			return &rules[i];
	return NULL;
}

const char *relay_frame_name(uint8_t type)
{
	const struct frame_rule *r = rule_for(type);

	return r ? r->name : "?";
}

int relay_frame_check(const uint8_t hdr[RELAY_HDR_LEN], enum relay_role role,
                      struct relay_frame_hdr *out, const char **why)
{
	const struct frame_rule *r;

	out->type = hdr[0];
	out->len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
	r = rule_for(out->type);
	if (!r) {
		*why = "unknown frame type";
		return RELAY_E_BAD_FRAME;
	}
	if ((unsigned)role >= RELAY_ROLE_COUNT || !(r->roles & R(role))) {
		*why = role == RELAY_ROLE_PREAUTH ? "the first frame must be PROOF or MESH_PROOF"
		                                  : "frame type not allowed in this state";
		return RELAY_E_UNEXPECTED;
	}
	if (out->len > r->max) {
		*why = out->len > RELAY_MAX_BODY ? "frame longer than the protocol maximum"
		                                 : "frame longer than its type allows";
		return RELAY_E_TOO_LARGE;
	}
	if (out->len < r->min) {
		*why = "frame shorter than its type requires";
		return RELAY_E_BAD_FRAME;
	}
	if (r->multiple_of_key && out->len % RELAY_KEY_LEN != 0) {
		*why = "key list length is not a multiple of 32";
		return RELAY_E_BAD_FRAME;
	}
	return 0;
}

void relay_frame_put(uint8_t hdr[RELAY_HDR_LEN], uint8_t type, uint32_t len)
{
	hdr[0] = type;
	hdr[1] = (uint8_t)(len >> 24);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 8);
	hdr[4] = (uint8_t)len;
}

const char *relay_error_name(unsigned code)
{
	static const char *const names[] = {
	    [RELAY_E_BAD_FRAME] = "bad_frame",
	    [RELAY_E_TOO_LARGE] = "too_large",
	    [RELAY_E_BAD_PROOF] = "bad_proof",
	    [RELAY_E_HANDSHAKE_TIMEOUT] = "handshake_timeout",
	    [RELAY_E_IDLE_TIMEOUT] = "idle_timeout",
	    [RELAY_E_REPLACED] = "replaced",
	    [RELAY_E_SHUTTING_DOWN] = "shutting_down",
	    [RELAY_E_NOT_ADMITTED] = "not_admitted",
	    [RELAY_E_BAD_MESH_PROOF] = "bad_mesh_proof",
	    [RELAY_E_UNEXPECTED] = "unexpected_frame",
	    [RELAY_E_SERVER_FULL] = "server_full",
	};

	if (code < sizeof(names) / sizeof(names[0]) && names[code])
		return names[code];
	return "unknown";
}
