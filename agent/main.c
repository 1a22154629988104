// SPDX-License-Identifier: GPL-2.0-only
/* meshgate-agent: the agent on its own, for hosts without DPDK (same as `meshgate agent`). */
#include "agent.h"

int main(int argc, char **argv)
{
	return mg_agent_main(argc, argv);
}
