/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Frame headers: which types each side may send in each state, and the body lengths each type
 * allows. Checked on the 5-byte header alone, before any body is buffered, so a hostile length
 * is refused before it costs memory.
 */
#ifndef MESHGATE_RELAY_FRAME_H
#define MESHGATE_RELAY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Who is reading the frame, in which state. */
enum relay_role {
	RELAY_ROLE_PREAUTH,  /* relay reading a client that has not proved anything yet */
	RELAY_ROLE_NODE,     /* relay reading an authenticated node */
	RELAY_ROLE_MESH_IN,  /* relay reading a peer relay that dialled it */
	RELAY_ROLE_MESH_OUT, /* relay reading the relay it dialled */
	RELAY_ROLE_CLIENT,   /* a node reading its relay */
	RELAY_ROLE_COUNT
};

struct relay_frame_hdr {
	uint8_t type;
	uint32_t len;
};

/*
 * Decodes and checks a header. Returns 0, or an enum relay_error_code with *why set to a fixed
 * description.
 */
int relay_frame_check(const uint8_t hdr[RELAY_HDR_LEN], enum relay_role role,
                      struct relay_frame_hdr *out, const char **why);

/* Writes a header. */
void relay_frame_put(uint8_t hdr[RELAY_HDR_LEN], uint8_t type, uint32_t len);

/* The frame type's name ("SEND"), "?" when unknown. */
const char *relay_frame_name(uint8_t type);

#endif
