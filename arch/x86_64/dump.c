/* `vmm --dump-acpi DIR`: the ACPI tables acpi_build writes for the guest,
 * built in a scratch guest memory (no KVM needed: they depend on the vCPU
 * count alone) and walked from the RSDP as a kernel finds them. Each goes to
 * DIR/SIGNATURE.dat, lower case, as `acpidump -b` names them, for `iasl -d`. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "acpi.h"
#include "config.h"
#include "dump.h"
#include "layout.h"
#include "log.h"
#include "memory.h"

const char *const arch_dump_option = "dump-acpi";
const char *const arch_dump_arg = "DIR";

#define ACPI_HEADER_LEN	36
#define RSDP_LEN	36	/* ACPI 2.0+ */
#define FADT_X_DSDT	140
#define TABLE_MAX	65536	/* far more than ours; bounds a corrupt length */

/* Writes the table at `gpa` (its length from its header, or `len` if not
 * 0) to DIR/name.dat. */
static int dump_table(const struct guest_mem *m, const char *dir, uint64_t gpa,
		      uint32_t len, const char *sig)
{
	char path[PATH_MAX], name[5];
	const void *p;

	if (!len && gm_read(m, gpa + 4, &len, 4) < 0)
		return -EFAULT;
	if (len < ACPI_HEADER_LEN || len > TABLE_MAX || !(p = gm_ptr(m, gpa, len))) {
		log_err("ACPI table at 0x%llx: bad length %u", (unsigned long long)gpa, len);
		return -EINVAL;
	}
	for (int i = 0; i < 4; i++) {
		char ch = sig ? sig[i] : ((const char *)p)[i];

		name[i] = isalnum((unsigned char)ch) ? (char)tolower((unsigned char)ch) : '_';
	}
	name[4] = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.dat", dir, name) >= sizeof(path)) {
		log_err("%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if (dump_write(path, p, len) < 0)
		return -EIO;
	printf("%s: %.4s, %u bytes\n", path, sig ? sig : (const char *)p, len);
	return 0;
}

static int walk(const struct guest_mem *m, const char *dir, uint64_t rsdp)
{
	uint64_t xsdt, entry, dsdt;
	uint32_t xlen;
	char sig[4];
	int ret;

	ret = dump_table(m, dir, rsdp, RSDP_LEN, "RSDP");
	if (ret == 0 && (gm_read(m, rsdp + 24, &xsdt, 8) < 0 || gm_read(m, xsdt + 4, &xlen, 4) < 0))
		ret = -EFAULT;
	if (ret == 0)
		ret = dump_table(m, dir, xsdt, 0, NULL);
	for (uint32_t off = ACPI_HEADER_LEN; ret == 0 && off + 8 <= xlen; off += 8) {
		if (gm_read(m, xsdt + off, &entry, 8) < 0 || gm_read(m, entry, sig, 4) < 0)
			return -EFAULT;
		ret = dump_table(m, dir, entry, 0, NULL);
		if (ret == 0 && !memcmp(sig, "FACP", 4)) {
			if (gm_read(m, entry + FADT_X_DSDT, &dsdt, 8) < 0)
				return -EFAULT;
			ret = dump_table(m, dir, dsdt, 0, NULL);
		}
	}
	return ret;
}

int arch_dump_firmware(const struct vm_config *cfg, const char *dir)
{
	struct guest_mem m;
	uint64_t rsdp;
	int ret;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		ret = -errno;
		log_err("%s: %s", dir, strerror(-ret));
		return ret;
	}
	ret = gm_init_kind(&m, 0, X86_ACPI_END, 0, 0, false, false);
	if (ret < 0) {
		log_err("scratch memory for the tables: %s", strerror(-ret));
		return ret;
	}
	ret = acpi_build(&m, cfg->vcpus, &rsdp);
	if (ret < 0)
		log_err("building the ACPI tables: %s", strerror(-ret));
	else
		ret = walk(&m, dir, rsdp);
	if (ret == -EFAULT)
		log_err("the ACPI tables point outside their memory");
	gm_destroy(&m);
	return ret;
}
