/* ARM PL061 GPIO controller (DDI 0190), the arm64 machine's power button:
 * pin ARM64_GPIO_POWER_PIN drives a gpio-keys KEY_POWER in the device tree.
 * Plain C with an interrupt callback, unit-tested on every host. */
#ifndef VMM_ARM64_PL061_H
#define VMM_ARM64_PL061_H

#include <stdbool.h>
#include <stdint.h>

struct pl061;

/* set_irq(ctx, level) is called, with the device's lock held, whenever the
 * combined interrupt output changes. */
struct pl061 *pl061_new(void (*set_irq)(void *ctx, int level), void *ctx);
void pl061_free(struct pl061 *g);
/* The bus handler for its 4 KiB page. */
void pl061_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Drives input `pin` (0-7) to `level`, with the edge and level interrupts
 * that follow. */
void pl061_set_input(struct pl061 *g, unsigned pin, int level);
/* A button press on input `pin`: the pin goes high and stays high until the
 * guest has read it high through GPIODATA (gpio-keys does, after the edge
 * interrupt), then goes low again, so the guest sees a press and a release
 * however slowly it runs. */
void pl061_press(struct pl061 *g, unsigned pin);

#endif
