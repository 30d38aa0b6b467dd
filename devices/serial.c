/* 16550A UART as Linux's 8250 driver uses it: divisor latch, FIFO flags,
 * THRE/RDA/RLS interrupts with the interrupt-identification priority
 * scheme. The line models a level that the VMM turns into edges for the
 * ISA interrupt controller. */
#include "serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UART_RX		0	/* in:  receive buffer (DLAB=0) */
#define UART_TX		0	/* out: transmit buffer (DLAB=0) */
#define UART_DLL	0	/* divisor latch low (DLAB=1) */
#define UART_IER	1
#define UART_DLM	1
#define UART_IIR	2	/* in */
#define UART_FCR	2	/* out */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7

#define IER_RDI		0x01
#define IER_THRI	0x02
#define IER_RLSI	0x04
#define IER_MSI		0x08

#define IIR_NO_INT	0x01
#define IIR_MSI		0x00
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_RLSI	0x06
#define IIR_FIFO_BITS	0xc0

#define LCR_DLAB	0x80
#define MCR_LOOP	0x10
#define MCR_OUT2	0x08

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_DCD		0x80
#define MSR_DSR		0x20
#define MSR_CTS		0x10

#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02

#define RX_BUF		1024

struct serial {
	pthread_mutex_t lock;
	struct serial_ops ops;
	int out_fd;
	uint64_t out_limit;	/* bytes the output file may hold; 0: no limit */
	uint64_t out_size;	/* bytes in it now, as far as we know */
	bool sent_first;
	bool sent_first_line;

	uint8_t ier, iir_fifo, lcr, mcr, lsr, msr, scr, dll, dlm;
	bool thr_ipending;	/* THR-empty interrupt pending until IIR read */
	int irq_level;

	uint8_t rx[RX_BUF];
	size_t rx_head, rx_len;
};

struct serial *serial_new(int out_fd, const struct serial_ops *ops)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->ops = *ops;
	s->out_fd = out_fd;
	s->lsr = LSR_TEMT | LSR_THRE;
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	s->dll = 0x0c;	/* 9600 baud, as firmware leaves it */
	return s;
}

void serial_set_out_limit(struct serial *s, uint64_t limit, uint64_t size)
{
	pthread_mutex_lock(&s->lock);
	s->out_limit = limit;
	s->out_size = size;
	pthread_mutex_unlock(&s->lock);
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static uint8_t serial_iir(const struct serial *s)
{
	if ((s->ier & IER_RLSI) && (s->lsr & LSR_OE))
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_len)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thr_ipending)
		return IIR_THRI;
	return IIR_NO_INT;
}

/* Called with the lock held; returns the new level for the caller to apply
 * after unlocking. */
static int serial_update(struct serial *s, bool *changed)
{
	/* OUT2 gates the interrupt line to the PIC on PC hardware. */
	int level = serial_iir(s) != IIR_NO_INT && (s->mcr & MCR_OUT2);

	*changed = level != s->irq_level;
	s->irq_level = level;
	return level;
}

/* The output file is full: a guest must not fill the host's disk. Start it
 * over (O_APPEND writes then go to offset 0) with a line saying so. */
static void wrap_output(struct serial *s)
{
	char note[96];
	int n;

	if (ftruncate(s->out_fd, 0) < 0) {
		s->out_limit = 0;	/* not a file we can cut: write on */
		return;
	}
	n = snprintf(note, sizeof(note),
		     "[vmm: the console file reached %llu bytes; earlier output was cut]\n",
		     (unsigned long long)s->out_limit);
	s->out_size = 0;
	if (n > 0 && write(s->out_fd, note, (size_t)n) == n)
		s->out_size = (uint64_t)n;
}

static void serial_tx(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		if (s->rx_len < RX_BUF) {
			s->rx[(s->rx_head + s->rx_len) % RX_BUF] = c;
			s->rx_len++;
		}
		return;
	}
	if (s->ops.output)
		s->ops.output(s->ops.ctx, c);
	if (s->out_fd >= 0) {
		ssize_t r;

		if (s->out_limit && s->out_size >= s->out_limit)
			wrap_output(s);
		do {
			r = write(s->out_fd, &c, 1);
		} while (r < 0 && errno == EINTR);
		/* A full or closed console must not stop the guest: drop. */
		if (r == 1)
			s->out_size++;
	}
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
	       bool is_write)
{
	struct serial *s = opaque;
	bool changed, first_tx = false, first_line = false, drained = false;
	int level;

	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (is_write) {
		uint8_t v = data[0];

		switch (offset) {
		case UART_TX:
			if (s->lcr & LCR_DLAB) {
				s->dll = v;
				break;
			}
			serial_tx(s, v);
			if (!s->sent_first) {
				s->sent_first = true;
				first_tx = true;
			}
			if (v == '\n' && !s->sent_first_line) {
				s->sent_first_line = true;
				first_line = true;
			}
			/* Transmission is instant: THR is empty again. */
			s->thr_ipending = true;
			s->lsr |= LSR_THRE | LSR_TEMT;
			break;
		case UART_IER:
			if (s->lcr & LCR_DLAB) {
				s->dlm = v;
				break;
			}
			/* Enabling THRI with an empty THR raises it at once. */
			if (!(s->ier & IER_THRI) && (v & IER_THRI))
				s->thr_ipending = true;
			s->ier = v & 0x0f;
			break;
		case UART_FCR:
			s->iir_fifo = (v & FCR_ENABLE) ? IIR_FIFO_BITS : 0;
			if (v & FCR_CLEAR_RX) {
				s->rx_len = 0;
				s->lsr &= ~LSR_DR;
				drained = true;
			}
			break;
		case UART_LCR:
			s->lcr = v;
			break;
		case UART_MCR:
			s->mcr = v & 0x1f;
			break;
		case UART_SCR:
			s->scr = v;
			break;
		default:
			break;	/* LSR and MSR are read-only */
		}
	} else {
		uint8_t v = 0;

		switch (offset) {
		case UART_RX:
			if (s->lcr & LCR_DLAB) {
				v = s->dll;
				break;
			}
			if (s->rx_len) {
				v = s->rx[s->rx_head];
				s->rx_head = (s->rx_head + 1) % RX_BUF;
				s->rx_len--;
				if (s->rx_len == 0)
					drained = true;
			}
			break;
		case UART_IER:
			v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
			break;
		case UART_IIR:
			v = serial_iir(s) | s->iir_fifo;
			/* Reading IIR acknowledges a THRE interrupt. */
			if ((v & 0x0f) == IIR_THRI)
				s->thr_ipending = false;
			break;
		case UART_LCR:
			v = s->lcr;
			break;
		case UART_MCR:
			v = s->mcr;
			break;
		case UART_LSR:
			v = s->lsr | (s->rx_len ? LSR_DR : 0);
			s->lsr &= ~LSR_OE;
			break;
		case UART_MSR:
			if (s->mcr & MCR_LOOP)
				v = (uint8_t)((s->mcr & 0x0c) << 4 |
					      (s->mcr & 0x02) << 3 |
					      (s->mcr & 0x01) << 5);
			else
				v = s->msr;
			break;
		case UART_SCR:
			v = s->scr;
			break;
		}
		data[0] = v;
	}
	/* The line is driven under the lock so two threads cannot apply
	 * levels out of order. */
	level = serial_update(s, &changed);
	if (changed && s->ops.set_irq)
		s->ops.set_irq(s->ops.ctx, level);
	pthread_mutex_unlock(&s->lock);

	if (first_tx && s->ops.first_tx)
		s->ops.first_tx(s->ops.ctx);
	if (first_line && s->ops.first_line)
		s->ops.first_line(s->ops.ctx);
	if (drained && s->ops.rx_space)
		s->ops.rx_space(s->ops.ctx);
}

size_t serial_input_space(struct serial *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = RX_BUF - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_push_input(struct serial *s, const uint8_t *buf, size_t len)
{
	bool changed;
	size_t n = 0;
	int level;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_len < RX_BUF) {
		s->rx[(s->rx_head + s->rx_len) % RX_BUF] = buf[n++];
		s->rx_len++;
	}
	level = serial_update(s, &changed);
	if (changed && s->ops.set_irq)
		s->ops.set_irq(s->ops.ctx, level);
	pthread_mutex_unlock(&s->lock);
	return n;
}
