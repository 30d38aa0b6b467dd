/* i8042 controller and PS/2 keyboard model; see i8042.h. The command set is
 * what Linux's i8042.c and atkbd.c send during probe and operation. */
#include "i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STS_OBF		0x01	/* output buffer full */
#define STS_SYS		0x04	/* system flag: self-test passed */
#define STS_CMD		0x08	/* last write was to the command port */
#define STS_UNLOCKED	0x10	/* keyboard not inhibited */

#define CTR_KBDINT	0x01
#define CTR_SYS		0x04
#define CTR_KBDDIS	0x10
#define CTR_AUXDIS	0x20
#define CTR_XLATE	0x40

#define OUTQ		16

enum pending {
	PEND_NONE,
	PEND_CTR,	/* 0x60: next data byte is the command byte */
	PEND_OUTPORT,	/* 0xd1: next data byte goes to the output port */
	PEND_KBD_OUT,	/* 0xd2: next data byte appears as keyboard input */
	PEND_AUX,	/* 0xd4: next data byte would go to the AUX device */
	PEND_KBD_PARAM,	/* keyboard command waiting for its parameter */
};

struct i8042 {
	pthread_mutex_t lock;
	struct i8042_ops ops;
	uint8_t ctr;
	uint8_t status;
	enum pending pending;
	uint8_t kbd_cmd;	/* command awaiting a parameter */
	bool kbd_enabled;	/* scanning enabled (0xf4/0xf5) */
	uint8_t outq[OUTQ];
	unsigned out_head, out_len;
	int irq_level;
};

struct i8042 *i8042_new(const struct i8042_ops *ops)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	pthread_mutex_init(&k->lock, NULL);
	k->ops = *ops;
	k->ctr = CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE;
	k->status = STS_SYS | STS_UNLOCKED;
	k->kbd_enabled = true;
	return k;
}

void i8042_free(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

static bool push(struct i8042 *k, uint8_t b)
{
	if (k->out_len == OUTQ)
		return false;
	k->outq[(k->out_head + k->out_len) % OUTQ] = b;
	k->out_len++;
	return true;
}

/* Interrupts are edges on the ISA line: drop the line when the buffer
 * empties, raise it when a byte becomes readable and interrupts are on. */
static void update_irq(struct i8042 *k)
{
	int level = k->out_len && (k->ctr & CTR_KBDINT);

	if (level != k->irq_level) {
		k->irq_level = level;
		if (k->ops.set_irq)
			k->ops.set_irq(k->ops.ctx, level);
	}
}

static void kbd_command(struct i8042 *k, uint8_t v)
{
	if (k->pending == PEND_KBD_PARAM) {
		k->pending = PEND_NONE;
		push(k, 0xfa);
		/* Scan-code set query (0xf0 0x00): we speak set 2. */
		if (k->kbd_cmd == 0xf0 && v == 0)
			push(k, 0x02);
		return;
	}
	switch (v) {
	case 0xed:	/* set LEDs */
	case 0xf3:	/* set typematic rate */
	case 0xf0:	/* select scan-code set */
		k->kbd_cmd = v;
		k->pending = PEND_KBD_PARAM;
		push(k, 0xfa);
		break;
	case 0xee:	/* echo */
		push(k, 0xee);
		break;
	case 0xf2:	/* identify: MF2 keyboard */
		push(k, 0xfa);
		push(k, 0xab);
		push(k, 0x83);
		break;
	case 0xf4:
		k->kbd_enabled = true;
		push(k, 0xfa);
		break;
	case 0xf5:
		k->kbd_enabled = false;
		push(k, 0xfa);
		break;
	case 0xff:	/* reset and self-test */
		k->kbd_enabled = true;
		push(k, 0xfa);
		push(k, 0xaa);
		break;
	default:	/* 0xf6 defaults, 0xf7..0xfd typematic modes, ... */
		push(k, 0xfa);
		break;
	}
}

void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct i8042 *k = opaque;
	bool reset = false;

	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		if (k->out_len) {
			data[0] = k->outq[k->out_head];
			k->out_head = (k->out_head + 1) % OUTQ;
			k->out_len--;
			/* One byte per interrupt: the next byte needs a
			 * fresh edge. */
			if (k->irq_level) {
				k->irq_level = 0;
				if (k->ops.set_irq)
					k->ops.set_irq(k->ops.ctx, 0);
			}
		} else {
			data[0] = 0;
		}
	} else {
		uint8_t v = data[0];
		enum pending p = k->pending;

		k->status &= (uint8_t)~STS_CMD;
		if (p != PEND_KBD_PARAM)
			k->pending = PEND_NONE;
		switch (p) {
		case PEND_CTR:
			k->ctr = v;
			break;
		case PEND_OUTPORT:
			/* Bit 0 low holds the CPU in reset. */
			if (!(v & 1))
				reset = true;
			break;
		case PEND_KBD_OUT:
			push(k, v);
			break;
		case PEND_AUX:
			break;	/* no AUX device: the byte goes nowhere */
		default:
			kbd_command(k, v);
			break;
		}
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->ops.reset)
		k->ops.reset(k->ops.ctx);
}

void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write)
{
	struct i8042 *k = opaque;
	bool reset = false;

	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		data[0] = k->status | (k->out_len ? STS_OBF : 0);
		pthread_mutex_unlock(&k->lock);
		return;
	}
	k->status |= STS_CMD;
	k->pending = PEND_NONE;
	switch (data[0]) {
	case 0x20:	/* read command byte */
		push(k, k->ctr);
		break;
	case 0x60:	/* write command byte */
		k->pending = PEND_CTR;
		break;
	case 0xa7:	/* disable AUX */
		k->ctr |= CTR_AUXDIS;
		break;
	case 0xa8:	/* enable AUX: there is none, keep it disabled */
		break;
	case 0xa9:	/* AUX interface test: "clock line stuck low" = absent */
		push(k, 0x01);
		break;
	case 0xaa:	/* controller self-test */
		push(k, 0x55);
		k->status |= STS_SYS;
		break;
	case 0xab:	/* keyboard interface test: ok */
		push(k, 0x00);
		break;
	case 0xad:
		k->ctr |= CTR_KBDDIS;
		break;
	case 0xae:
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	case 0xd1:
		k->pending = PEND_OUTPORT;
		break;
	case 0xd2:
		k->pending = PEND_KBD_OUT;
		break;
	case 0xd3:	/* AUX loopback: answered without the AUX flag, which
			 * Linux reads as "no AUX port" without waiting. */
		k->pending = PEND_KBD_OUT;
		break;
	case 0xd4:
		k->pending = PEND_AUX;
		break;
	case 0xfe:	/* pulse the reset line */
		reset = true;
		break;
	default:	/* 0xf0..0xff pulse other lines; unknown: ignore */
		break;
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->ops.reset)
		k->ops.reset(k->ops.ctx);
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	/* Set 1 codes when the controller translates (Linux leaves XLATE on),
	 * set 2 otherwise. Presses, then releases in reverse order. */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53,
					0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71,
					0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };
	const uint8_t *seq;
	size_t n;
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	if (k->ctr & CTR_XLATE) {
		seq = set1;
		n = sizeof(set1);
	} else {
		seq = set2;
		n = sizeof(set2);
	}
	if (!k->kbd_enabled || (k->ctr & CTR_KBDDIS) || OUTQ - k->out_len < n) {
		ret = -EAGAIN;
	} else {
		for (size_t i = 0; i < n; i++)
			push(k, seq[i]);
		update_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}
