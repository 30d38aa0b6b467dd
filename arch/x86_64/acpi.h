/* Minimal hardware-reduced ACPI: RSDP, XSDT, FADT, DSDT, MADT. It tells
 * Linux about the CPUs and interrupt controllers, gives it a way to power
 * off and reset (sleep control / reset registers) and declares pvpanic. */
#ifndef VMM_X86_ACPI_H
#define VMM_X86_ACPI_H

#include <stdint.h>

#include "memory.h"

/* Writes the tables at X86_ACPI_START..X86_ACPI_END; returns 0 and the RSDP
 * address, or -ENOSPC. */
int acpi_build(const struct guest_mem *m, unsigned ncpus, uint64_t *rsdp);

/* The checksum rule every table obeys: all bytes sum to zero. */
uint8_t acpi_checksum(const void *p, size_t len);

/* The value Linux writes to the sleep control register to power off:
 * SLP_TYP from our _S5 package, shifted, with SLP_EN. */
#define ACPI_S5_SLP_TYP 5
#define ACPI_SLP_EN 0x20
#define ACPI_SLP_TYP_SHIFT 2

#endif
