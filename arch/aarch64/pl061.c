/* ARM PL061 GPIO controller (DDI 0190): 8 pins, each an input or an output,
 * with edge (one or both) or level interrupts combined into one line. The
 * guest drives everything through registers; vmm drives the inputs (the
 * power button). Every register value comes from the guest. */
#include "pl061.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GPIODATA	0x000	/* 0x000-0x3fc: address bits 9:2 mask the access */
#define GPIODIR		0x400	/* 1: output */
#define GPIOIS		0x404	/* 1: level-sensitive, 0: edge */
#define GPIOIBE		0x408	/* 1: both edges */
#define GPIOIEV		0x40c	/* 1: rising edge / high level */
#define GPIOIE		0x410	/* 1: interrupt enabled */
#define GPIORIS		0x414	/* raw interrupt status */
#define GPIOMIS		0x418	/* masked interrupt status */
#define GPIOIC		0x41c	/* write 1: clear an edge interrupt */
#define GPIOAFSEL	0x420	/* hardware control: stored, no effect */
#define GPIO_ID		0xfe0	/* PeriphID0-3, PCellID0-3 */

/* Part 0x061, designer ARM (0x41), revision 0; the PrimeCell signature. */
static const uint8_t pl061_id[8] = { 0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

struct pl061 {
	pthread_mutex_t lock;
	void (*set_irq)(void *ctx, int level);
	void *ctx;
	uint8_t in;		/* levels driven on the pins from outside */
	uint8_t out;		/* levels the guest wrote (pins set as outputs) */
	uint8_t dir, is, ibe, iev, ie, ris, afsel;
	uint8_t pressed;	/* inputs to release once the guest read them high */
	int line;
};

struct pl061 *pl061_new(void (*set_irq)(void *ctx, int level), void *ctx)
{
	struct pl061 *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	g->set_irq = set_irq;
	g->ctx = ctx;
	return g;
}

void pl061_free(struct pl061 *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static uint8_t pins(const struct pl061 *g)
{
	return (uint8_t)((g->out & g->dir) | (g->in & ~g->dir));
}

/* Recomputes level interrupts and the output line; `old` is the pin state
 * before a change, for edge detection. */
static void update(struct pl061 *g, uint8_t old)
{
	uint8_t now = pins(g), changed = old ^ now;
	uint8_t rising = changed & now, falling = changed & old;
	int line;

	/* Edge-sensitive pins latch; level-sensitive ones follow the pin. */
	g->ris |= (uint8_t)(~g->is & changed & g->ibe);
	g->ris |= (uint8_t)(~g->is & ~g->ibe & ((rising & g->iev) | (falling & ~g->iev)));
	g->ris = (uint8_t)((g->ris & ~g->is) | (g->is & ~(now ^ g->iev)));
	line = (g->ris & g->ie) != 0;
	if (line != g->line) {
		g->line = line;
		if (g->set_irq)
			g->set_irq(g->ctx, line);
	}
}

void pl061_set_input(struct pl061 *g, unsigned pin, int level)
{
	uint8_t old, bit = (uint8_t)(1u << (pin & 7));

	pthread_mutex_lock(&g->lock);
	old = pins(g);
	g->in = level ? (uint8_t)(g->in | bit) : (uint8_t)(g->in & ~bit);
	update(g, old);
	pthread_mutex_unlock(&g->lock);
}

void pl061_press(struct pl061 *g, unsigned pin)
{
	uint8_t old, bit = (uint8_t)(1u << (pin & 7));

	pthread_mutex_lock(&g->lock);
	old = pins(g);
	g->in |= bit;
	g->pressed |= bit;
	update(g, old);
	pthread_mutex_unlock(&g->lock);
}

static uint32_t reg_read(struct pl061 *g, uint64_t off)
{
	if (off < 0x400) {
		uint8_t mask = (uint8_t)(off >> 2), v = pins(g) & mask;
		uint8_t seen = g->pressed & v & ~g->dir;

		if (seen) {	/* the guest saw the button down: let it go */
			uint8_t old = pins(g);

			g->pressed &= (uint8_t)~seen;
			g->in &= (uint8_t)~seen;
			update(g, old);
		}
		return v;
	}
	switch (off) {
	case GPIODIR: return g->dir;
	case GPIOIS: return g->is;
	case GPIOIBE: return g->ibe;
	case GPIOIEV: return g->iev;
	case GPIOIE: return g->ie;
	case GPIORIS: return g->ris;
	case GPIOMIS: return g->ris & g->ie;
	case GPIOAFSEL: return g->afsel;
	default:
		if (off >= GPIO_ID && off < GPIO_ID + 8 * 4)
			return pl061_id[(off - GPIO_ID) / 4];
		return 0;
	}
}

static void reg_write(struct pl061 *g, uint64_t off, uint8_t v)
{
	uint8_t old = pins(g);

	if (off < 0x400) {
		uint8_t mask = (uint8_t)(off >> 2) & g->dir;

		g->out = (uint8_t)((g->out & ~mask) | (v & mask));
	} else {
		switch (off) {
		case GPIODIR: g->dir = v; break;
		case GPIOIS: g->is = v; break;
		case GPIOIBE: g->ibe = v; break;
		case GPIOIEV: g->iev = v; break;
		case GPIOIE: g->ie = v; break;
		case GPIOIC: g->ris &= (uint8_t)~(v & ~g->is); break;
		case GPIOAFSEL: g->afsel = v; break;
		default: return;	/* read-only or reserved */
		}
	}
	/* Direction and sense changes move pins and levels as on the hardware. */
	update(g, old);
}

void pl061_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pl061 *g = opaque;
	uint32_t v = 0;
	uint8_t b[4];

	/* Registers are 8 bits in word-aligned slots; Linux's driver uses byte
	 * accesses, the AMBA bus word reads for the IDs. Accesses not at a
	 * slot's start read 0 and are ignored when written. */
	if ((len != 1 && len != 2 && len != 4) || offset % 4) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&g->lock);
	if (is_write) {
		reg_write(g, offset, data[0]);
	} else {
		v = reg_read(g, offset);
		for (unsigned i = 0; i < 4; i++)
			b[i] = (uint8_t)(v >> (8 * i));
		memcpy(data, b, len);
	}
	pthread_mutex_unlock(&g->lock);
}
