// SPDX-License-Identifier: GPL-2.0-only
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"

/* Names come from the coordinator: keep what JSON can carry unescaped. */
static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		if ((unsigned char)*s >= 0x20 && *s != '"' && *s != '\\' && *s != 0x7f)
			fputc(*s, f);
	fputc('"', f);
}

static const struct mg_uapi_client_peer *dev_peer(const struct mg_uapi_client_device *dev,
                                                  const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; dev && i < dev->n_peers; i++)
		if (memcmp(dev->peers[i].public_key, key, WG_KEY_LEN) == 0)
			return &dev->peers[i];
	return NULL;
}

int mg_agent_status_write(const char *path, const struct mg_netmap_state *st,
                          const struct mg_uapi_client_device *dev, const struct mg_relay_path *rp,
                          const char *coord_state, const struct mg_nat_probe_result *nat,
                          const struct mg_agent_disco *disco, const struct mg_agent_paths *paths,
                          const char *servers_from)
{
	char tmp[4096 + 8], b64[WG_KEY_B64_SIZE], ep[MG_SOCKADDR_STRLEN];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (!(f = fopen(tmp, "w")))
		return -errno;
	fprintf(f, "{\"time\":%lld,\"coordinator\":", (long long)time(NULL));
	put_str(f, coord_state ? coord_state : "");
	fputs(",\"relay\":", f);
	if (rp)
		mg_relay_path_status(rp, f);
	else
		fputs("null", f);
	fputs(",\"nat\":", f);
	if (nat) {
		fprintf(f, "{\"kind\":\"%s\",\"endpoints\":[", nat->nat ? nat->nat : "unknown");
		for (size_t i = 0; nat->nat && i < nat->n_mapped; i++) {
			mg_sockaddr_format(&nat->mapped[i], ep, sizeof(ep));
			fprintf(f, "%s\"%s\"", i ? "," : "", ep);
		}
		fprintf(f, "],\"rtt_ms\":[%d,%d],\"port\":%u,\"servers\":[",
		        nat->nat ? nat->rtt_ms[0] : -1, nat->nat ? nat->rtt_ms[1] : -1,
		        (unsigned)nat->local_port);
		for (size_t i = 0; nat->nat && i < nat->n_servers; i++) {
			mg_sockaddr_format(&nat->servers[i], ep, sizeof(ep));
			fprintf(f, "%s\"%s\"", i ? "," : "", ep);
		}
		fprintf(f, "],\"servers_from\":\"%s\"}", servers_from);
	} else {
		fputs("null", f);
	}
	fputs(",\"disco\":", f);
	if (disco)
		mg_agent_disco_status(disco, f);
	else
		fputs("null", f);
	fputs(",\"paths\":", f);
	if (paths)
		mg_agent_paths_stats(paths, f);
	else
		fputs("null", f);
	fputs(",\"peers\":[", f);
	for (size_t i = 0; i < st->n_peers; i++) {
		const struct mg_netmap_peer *p = &st->peers[i];
		const struct mg_uapi_client_peer *d = dev_peer(dev, p->public_key);
		const char *path_name = rp ? mg_relay_path_of(rp, p->public_key) : "direct";

		wg_key_to_base64(b64, p->public_key);
		fprintf(f, "%s{\"key\":\"%s\",\"name\":", i ? "," : "", b64);
		put_str(f, p->name);
		fprintf(f, ",\"path\":\"%s\"", path_name);
		if (strcmp(path_name, "relay") == 0) {
			fputs(",\"relay\":", f);
			const char *via = mg_relay_path_via(rp, p->public_key);

			put_str(f, via ? via : "");
		}
		/* With disco: how the path was found and what it carried. */
		fputs(",\"disco\":", f);
		if (!mg_agent_paths_status(paths, p->public_key, f))
			fputs("null", f);
		fputs(",\"home_relay\":", f);
		put_str(f, p->home_relay);
		if (d) {
			mg_sockaddr_format(&d->endpoint, ep, sizeof(ep));
			fprintf(f,
			        ",\"endpoint\":\"%s\",\"last_handshake\":%llu,\"rx_bytes\":%llu,"
			        "\"tx_bytes\":%llu",
			        d->endpoint.family ? ep : "",
			        (unsigned long long)d->last_handshake_sec,
			        (unsigned long long)d->rx_bytes, (unsigned long long)d->tx_bytes);
		}
		fputc('}', f);
	}
	fputs("]}\n", f);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}
