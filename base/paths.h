/* SPDX-License-Identifier: GPL-2.0-only */
/* Default places of the local sockets, shared by the programs that create and read them. */
#ifndef MESHGATE_BASE_PATHS_H
#define MESHGATE_BASE_PATHS_H

/* The WireGuard UAPI directory, as wg(8) and wireguard-go use it: <dir>/<ifname>.sock. */
#define MG_UAPI_DEFAULT_DIR "/var/run/wireguard"
/* The gateway's health and status socket: <dir>/<ifname>.health, which meshctl reads. */
#define MG_HEALTH_DEFAULT_DIR "/var/run/meshgate"

#endif
