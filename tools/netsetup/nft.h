/* nftables through libnftables: netsetup feeds it generated rule text and
 * reads back listings, never running the nft program. */
#ifndef NETSETUP_NFT_H
#define NETSETUP_NFT_H

#include <stdbool.h>

struct nft_ctx;

struct nft_ctx *nf_open(void);
void nf_close(struct nft_ctx *nft);

/* Runs `cmds` as one transaction; on failure logs nft's message after
 * `what` and returns -1. */
int nf_run(struct nft_ctx *nft, const char *cmds, const char *what);

/* The output of a list command, malloc'd; NULL when it fails (for a table
 * that does not exist) or on ENOMEM. */
char *nf_list(struct nft_ctx *nft, const char *cmd);

/* Whether "table ip NAME" exists, from `list tables ip` output. */
bool nf_has_table(const char *tables, const char *name);

#endif
