/* 16550A UART: output to a file descriptor, input pushed by the event loop. */
#ifndef VMM_SERIAL_H
#define VMM_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct serial;

typedef void (*serial_irq_fn)(void *ctx, int level);
/* Called (from a vCPU thread) after the guest drained the receive buffer so
 * the event loop can resume reading input. */
typedef void (*serial_notify_fn)(void *ctx);
/* Called once on the first byte the guest transmits, and once after the
 * first newline: a log line written then cannot split the guest's line. */
typedef void (*serial_first_tx_fn)(void *ctx);
/* Called with every byte the guest transmits (not those looped back), in
 * order, whether or not there is an output fd: from the transmitting vCPU
 * thread, the port's lock held, so it must not block. */
typedef void (*serial_output_fn)(void *ctx, uint8_t c);

struct serial_ops {
	serial_irq_fn set_irq;
	serial_notify_fn rx_space;
	serial_first_tx_fn first_tx;
	serial_first_tx_fn first_line;
	serial_output_fn output;
	void *ctx;
};

/* out_fd < 0 discards output. */
struct serial *serial_new(int out_fd, const struct serial_ops *ops);
void serial_free(struct serial *s);
/* Caps the output file at `limit` bytes (0: no cap) when it holds `size`
 * now: once full it is truncated and starts over with a line that says so.
 * For a regular file opened O_APPEND ([console] mode = "file"). */
void serial_set_out_limit(struct serial *s, uint64_t limit, uint64_t size);

/* The bus handler; offset 0..7. */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
	       bool is_write);

/* Queues guest input; returns how many bytes were accepted (the rest must
 * be offered again after rx_space fires). */
size_t serial_push_input(struct serial *s, const uint8_t *buf, size_t len);
size_t serial_input_space(struct serial *s);

#endif
