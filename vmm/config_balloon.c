/* [balloon]: the virtio-balloon device, its initial target, free page
 * reporting, deflate on OOM and statistics (docs/config.md,
 * docs/virtio.md). */
#include "config-internal.h"

/* Statistics more often than once a second cost the guest wake-ups for
 * nothing; once a day is as good as never. */
#define STATS_INTERVAL_MAX	86400

const char *const cfg_balloon_keys[] = { "enabled", "target_mib", "deflate_on_oom",
	"free_page_reporting", "stats_interval_s", "pci_slot", NULL };

void cfg_load_balloon(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	int64_t v;

	if (!tab)
		return;		/* no [balloon]: no device */
	cfg->balloon_enabled = true;
	cfg_check_keys(c, tab, "balloon", cfg_balloon_keys);
	cfg_get_bool(c, tab, "balloon", "enabled", &cfg->balloon_enabled);
	if (cfg_get_int(c, tab, "balloon", "target_mib", 0, 1LL << 24, &v)) {
		cfg->balloon_target_mib = (uint64_t)v;
		cfg->balloon_target_line = toml_get(tab, "target_mib")->line;
	}
	cfg_get_bool(c, tab, "balloon", "deflate_on_oom", &cfg->balloon_deflate_on_oom);
	cfg_get_bool(c, tab, "balloon", "free_page_reporting", &cfg->balloon_reporting);
	if (cfg_get_int(c, tab, "balloon", "stats_interval_s", 0, STATS_INTERVAL_MAX, &v))
		cfg->balloon_stats_interval_s = (unsigned)v;
	cfg_get_slot(c, tab, "balloon", &cfg->balloon_pci_slot);
	if (cfg->balloon_pci_slot.given && !cfg->balloon_enabled)
		cfg_err(c, cfg->balloon_pci_slot.line, "balloon", "pci_slot",
			"applies only to an enabled balloon (enabled = false removes the device)");
}

void cfg_check_balloon(struct ctx *c, const struct vm_config *cfg)
{
	if (cfg->balloon_enabled && cfg->balloon_target_mib >= cfg->memory_mib)
		cfg_err(c, cfg->balloon_target_line, "balloon", "target_mib",
			"%llu MiB is not less than the guest's memory ([vm] memory_mib = %llu)",
			(unsigned long long)cfg->balloon_target_mib,
			(unsigned long long)cfg->memory_mib);
}
