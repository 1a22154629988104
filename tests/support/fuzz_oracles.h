/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Oracles the fuzz targets share: readings of the WireGuard wire format written from the
 * protocol's description rather than from wg/, so a target can compare wg/ against them without
 * a bug in wg/ being copied into its own oracle. Pure predicates: the targets do the checking.
 */
#ifndef MESHGATE_TESTS_FUZZ_ORACLES_H
#define MESHGATE_TESTS_FUZZ_ORACLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"

/* Where mac2 starts in a handshake message of len bytes: mac1 covers everything before it. */
#define FUZZ_MAC2_AT(len) ((len)-WG_COOKIE_LEN)
/* Room for one outcome label ("prefix: result"). */
#define FUZZ_LABEL_LEN 64

/* A little-endian 32-bit field, as every WireGuard header field is. */
uint32_t fuzz_le32(const uint8_t *p);
/* What wg_transport_classify must say, from the type field and the length alone. */
enum wg_message_type fuzz_expected_type(const uint8_t *d, size_t len);
/* Every one of the len bytes at p is v (a refusal left a buffer untouched or zeroed). */
bool fuzz_all_bytes(const uint8_t *p, size_t len, uint8_t v);
/* labels[r] = "prefix: <wg_result_str(r)>" for every wg result, for fuzz_outcome. */
void fuzz_result_labels(char labels[][FUZZ_LABEL_LEN], const char *prefix);

#endif
