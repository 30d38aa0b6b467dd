/* libnftables glue: buffered output and errors, so that failures are
 * reported through netsetup's log with the command that failed. */
#include "nft.h"

#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "log.h"

struct nft_ctx *nf_open(void)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);

	if (!nft) {
		log_err("cannot create an nftables context");
		return NULL;
	}
	if (nft_ctx_buffer_output(nft) || nft_ctx_buffer_error(nft)) {
		log_err("cannot set up nftables output buffers");
		nft_ctx_free(nft);
		return NULL;
	}
	return nft;
}

void nf_close(struct nft_ctx *nft)
{
	if (nft)
		nft_ctx_free(nft);
}

int nf_run(struct nft_ctx *nft, const char *cmds, const char *what)
{
	const char *err;
	size_t len;

	if (!nft_run_cmd_from_buffer(nft, cmds))
		return 0;
	err = nft_ctx_get_error_buffer(nft);
	len = err ? strlen(err) : 0;
	while (len && err[len - 1] == '\n')
		len--;
	log_err("%s: nftables: %.*s", what, (int)len, err ? err : "failed");
	return -1;
}

char *nf_list(struct nft_ctx *nft, const char *cmd)
{
	const char *out;

	if (nft_run_cmd_from_buffer(nft, cmd)) {
		nft_ctx_get_error_buffer(nft);	/* drop the message */
		return NULL;
	}
	out = nft_ctx_get_output_buffer(nft);
	return strdup(out ? out : "");
}

bool nf_has_table(const char *tables, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = tables; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, "table ip ", 9) && !strncmp(p + 9, name, len) &&
		    (p[9 + len] == '\n' || p[9 + len] == '\0'))
			return true;
	return false;
}
