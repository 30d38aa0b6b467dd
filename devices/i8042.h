/* i8042 keyboard controller with a PS/2 keyboard behind it: enough for
 * Linux's i8042 and atkbd drivers to probe, for `reboot=k` (pulse reset
 * line) and for the VMM to type Ctrl-Alt-Del into the guest. No AUX port. */
#ifndef VMM_I8042_H
#define VMM_I8042_H

#include <stdbool.h>
#include <stdint.h>

struct i8042;

struct i8042_ops {
	void (*set_irq)(void *ctx, int level);	/* IRQ 1 */
	void (*reset)(void *ctx);		/* CPU reset requested */
	void *ctx;
};

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64

struct i8042 *i8042_new(const struct i8042_ops *ops);
void i8042_free(struct i8042 *k);

/* Bus handlers: port 0x60 and port 0x64 (offset is ignored). */
void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write);
void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write);

/* Types Ctrl-Alt-Del (press and release). Returns 0, or -EAGAIN when the
 * guest has the keyboard disabled or the buffer is full. */
int i8042_send_ctrl_alt_del(struct i8042 *k);

#endif
