/* Unit tests for devices/serial.c driven through its register interface the
 * way Linux's 8250 driver does, with a pipe standing in for the console and
 * the interrupt line recorded level by level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "serial.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3,
       MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI		0x01
#define IER_THRI	0x02
#define IIR_NONE	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

struct ctx {
	int pipe[2];
	struct serial *s;
	int levels[64];
	unsigned nlevels;
	unsigned rx_space;
	unsigned first_tx;
	unsigned first_line;
	char seen[16];		/* what the output hook got */
	unsigned nseen;
};

static void set_irq(void *p, int level)
{
	struct ctx *c = p;

	assert_true(c->nlevels < 64);
	c->levels[c->nlevels++] = level;
}

static void rx_space(void *p)
{
	((struct ctx *)p)->rx_space++;
}

static void first_tx(void *p)
{
	((struct ctx *)p)->first_tx++;
}

static void first_line(void *p)
{
	((struct ctx *)p)->first_line++;
}

static void output(void *p, uint8_t ch)
{
	struct ctx *c = p;

	if (c->nseen < sizeof(c->seen))
		c->seen[c->nseen++] = (char)ch;
}

static int setup(void **state)
{
	static struct ctx c;
	struct serial_ops ops = { .set_irq = set_irq, .rx_space = rx_space,
				  .first_tx = first_tx, .first_line = first_line,
				  .output = output, .ctx = &c };

	memset(&c, 0, sizeof(c));
	if (pipe2(c.pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	c.s = serial_new(c.pipe[1], &ops);
	if (!c.s)
		return -1;
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	serial_free(c->s);
	close(c->pipe[0]);
	close(c->pipe[1]);
	return 0;
}

static void wr(struct ctx *c, unsigned reg, uint8_t v)
{
	serial_io(c->s, reg, &v, 1, true);
}

static uint8_t rd(struct ctx *c, unsigned reg)
{
	uint8_t v = 0xa5;

	serial_io(c->s, reg, &v, 1, false);
	return v;
}

/* Bytes the UART has written to the console so far. */
static ssize_t out(struct ctx *c, char *buf, size_t len)
{
	ssize_t n = read(c->pipe[0], buf, len);

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	return n;
}

static void test_reset_state(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(rd(c, IIR), IIR_NONE);
	assert_int_equal(rd(c, IER), 0);
	assert_int_equal(rd(c, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(rd(c, MSR) & 0xb0, 0xb0);	/* DCD DSR CTS */
	assert_int_equal(rd(c, RBR), 0);
	assert_int_equal(c->nlevels, 0);
	wr(c, SCR, 0x5a);
	assert_int_equal(rd(c, SCR), 0x5a);
	wr(c, LCR, 0x03);
	assert_int_equal(rd(c, LCR), 0x03);
}

static void test_transmit(void **state)
{
	struct ctx *c = *state;
	char buf[16];

	wr(c, THR, 'h');
	assert_int_equal(c->first_tx, 1);
	wr(c, THR, 'i');
	/* The end-of-first-line callback waits for the newline, so a log
	 * line written from it cannot split the guest's first line. */
	assert_int_equal(c->first_line, 0);
	wr(c, THR, '\n');
	assert_int_equal(c->first_line, 1);
	wr(c, THR, '\n');
	assert_int_equal(out(c, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "hi\n\n", 4);
	assert_int_equal(c->first_tx, 1);
	assert_int_equal(c->first_line, 1);
	assert_int_equal(rd(c, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	/* Interrupts off: the line never moved. */
	assert_int_equal(c->nlevels, 0);
}

static void test_dlab(void **state)
{
	struct ctx *c = *state;
	char buf[4];

	wr(c, LCR, 0x80 | 0x03);
	assert_int_equal(rd(c, DLL), 0x0c);	/* 9600 baud */
	assert_int_equal(rd(c, DLM), 0x00);
	wr(c, DLL, 0x01);	/* 115200 */
	wr(c, DLM, 0x00);
	assert_int_equal(rd(c, DLL), 0x01);
	assert_int_equal(rd(c, DLM), 0x00);
	/* Divisor writes are not data, and did not touch IER. */
	assert_int_equal(out(c, buf, sizeof(buf)), 0);
	wr(c, DLM, 0x02);
	wr(c, LCR, 0x03);
	assert_int_equal(rd(c, IER), 0);
	wr(c, IER, 0x05);
	assert_int_equal(rd(c, IER), 0x05);
	wr(c, LCR, 0x83);
	assert_int_equal(rd(c, DLM), 0x02);
	assert_int_equal(rd(c, DLL), 0x01);
	wr(c, LCR, 0x03);
	/* With DLAB clear, offset 0 is data again. */
	wr(c, THR, 'x');
	assert_int_equal(out(c, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(c->first_tx, 1);
}

static void test_thri(void **state)
{
	struct ctx *c = *state;

	wr(c, MCR, MCR_OUT2);
	assert_int_equal(c->nlevels, 0);
	/* Enabling THRI with THR empty raises it at once. */
	wr(c, IER, IER_THRI);
	assert_int_equal(c->nlevels, 1);
	assert_int_equal(c->levels[0], 1);
	/* Reading IIR reports and acknowledges it. */
	assert_int_equal(rd(c, IIR) & 0x0f, IIR_THRI);
	assert_int_equal(c->nlevels, 2);
	assert_int_equal(c->levels[1], 0);
	assert_int_equal(rd(c, IIR) & 0x0f, IIR_NONE);
	assert_int_equal(c->nlevels, 2);
	/* Each transmitted byte empties THR again: a new THRI. */
	wr(c, THR, 'a');
	assert_int_equal(c->nlevels, 3);
	assert_int_equal(c->levels[2], 1);
	assert_int_equal(rd(c, IIR) & 0x0f, IIR_THRI);
	assert_int_equal(c->levels[3], 0);
	/* Disabling THRI drops a pending one. */
	wr(c, THR, 'b');
	assert_int_equal(c->levels[4], 1);
	wr(c, IER, 0);
	assert_int_equal(c->nlevels, 6);
	assert_int_equal(c->levels[5], 0);
	assert_int_equal(rd(c, IIR) & 0x0f, IIR_NONE);
}

static void test_fifo_bits(void **state)
{
	struct ctx *c = *state;

	wr(c, FCR, 0x01);
	assert_int_equal(rd(c, IIR), 0xc0 | IIR_NONE);
	wr(c, FCR, 0x00);
	assert_int_equal(rd(c, IIR), IIR_NONE);
}

static void test_rdi_priority(void **state)
{
	struct ctx *c = *state;

	wr(c, MCR, MCR_OUT2);
	wr(c, IER, IER_RDI | IER_THRI);		/* THRI now pending */
	assert_int_equal(serial_push_input(c->s, (const uint8_t *)"q", 1), 1);
	assert_int_equal(rd(c, LSR) & LSR_DR, LSR_DR);
	/* Received data outranks THR empty, and reading IIR for it does not
	 * acknowledge the THRI still behind it. */
	assert_int_equal(rd(c, IIR) & 0x0f, IIR_RDI);
	assert_int_equal(rd(c, IIR) & 0x0f, IIR_RDI);
	assert_int_equal(rd(c, RBR), 'q');
	assert_int_equal(rd(c, LSR) & LSR_DR, 0);
	assert_int_equal(rd(c, IIR) & 0x0f, IIR_THRI);
	assert_int_equal(rd(c, IIR) & 0x0f, IIR_NONE);
	/* The line went up once and down once. */
	assert_int_equal(c->nlevels, 2);
	assert_int_equal(c->levels[0], 1);
	assert_int_equal(c->levels[1], 0);
}

static void test_out2_gates_irq(void **state)
{
	struct ctx *c = *state;

	wr(c, IER, IER_RDI);
	assert_int_equal(serial_push_input(c->s, (const uint8_t *)"ab", 2), 2);
	/* Interrupt pending inside the UART, but OUT2 keeps the line low. */
	assert_int_equal(rd(c, IIR) & 0x0f, IIR_RDI);
	assert_int_equal(c->nlevels, 0);
	wr(c, MCR, MCR_OUT2);
	assert_int_equal(c->nlevels, 1);
	assert_int_equal(c->levels[0], 1);
	assert_int_equal(rd(c, RBR), 'a');
	assert_int_equal(c->nlevels, 1);	/* still data: still high */
	assert_int_equal(rd(c, RBR), 'b');
	assert_int_equal(c->nlevels, 2);
	assert_int_equal(c->levels[1], 0);
	/* Dropping OUT2 with data pending lowers the line too. */
	serial_push_input(c->s, (const uint8_t *)"c", 1);
	assert_int_equal(c->levels[2], 1);
	wr(c, MCR, 0);
	assert_int_equal(c->nlevels, 4);
	assert_int_equal(c->levels[3], 0);
}

static void test_backpressure(void **state)
{
	struct ctx *c = *state;
	static uint8_t in[1500];
	size_t cap, n;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 31 + 7);
	cap = serial_input_space(c->s);
	assert_true(cap > 0);
	assert_true(cap < sizeof(in));
	n = serial_push_input(c->s, in, sizeof(in));
	assert_int_equal(n, cap);
	assert_int_equal(serial_input_space(c->s), 0);
	assert_int_equal(serial_push_input(c->s, in + n, 10), 0);

	/* Drain in order; rx_space fires once the buffer is empty. */
	for (size_t i = 0; i < cap; i++) {
		if (rd(c, RBR) != in[i])
			print_error("byte %zu\n", i);
		assert_int_equal(c->rx_space, i + 1 == cap ? 1 : 0);
	}
	assert_int_equal(c->rx_space, 1);
	assert_int_equal(serial_input_space(c->s), cap);
	assert_int_equal(rd(c, LSR) & LSR_DR, 0);
	/* Reading an empty RBR does not fire it again. */
	rd(c, RBR);
	assert_int_equal(c->rx_space, 1);
	/* The rest is accepted now, across the ring's wrap point. */
	assert_int_equal(serial_push_input(c->s, in + n, sizeof(in) - n), sizeof(in) - n);
	for (size_t i = n; i < sizeof(in); i++)
		assert_int_equal(rd(c, RBR), in[i]);
}

static void test_fcr_clear(void **state)
{
	struct ctx *c = *state;
	size_t cap = serial_input_space(c->s);

	assert_int_equal(serial_push_input(c->s, (const uint8_t *)"xyz", 3), 3);
	assert_int_equal(serial_input_space(c->s), cap - 3);
	assert_int_equal(rd(c, LSR) & LSR_DR, LSR_DR);
	wr(c, FCR, 0x01 | 0x02);	/* enable, clear RX */
	assert_int_equal(rd(c, LSR) & LSR_DR, 0);
	assert_int_equal(c->rx_space, 1);
	assert_int_equal(serial_input_space(c->s), cap);
	assert_int_equal(rd(c, RBR), 0);
}

static void test_loopback(void **state)
{
	struct ctx *c = *state;
	char buf[4];

	/* What the 8250 probe checks: in loopback, RTS reads back as CTS and
	 * OUT2 as DCD. */
	wr(c, MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
	assert_int_equal(rd(c, MSR) & 0xf0, 0x90);
	wr(c, MCR, MCR_LOOP | MCR_DTR | 0x04);
	assert_int_equal(rd(c, MSR) & 0xf0, 0x60);
	wr(c, MCR, MCR_LOOP);
	assert_int_equal(rd(c, MSR) & 0xf0, 0);

	/* Transmitted bytes come back as received ones, not to the console. */
	wr(c, THR, 'Z');
	wr(c, THR, '9');
	assert_int_equal(out(c, buf, sizeof(buf)), 0);
	assert_int_equal(rd(c, LSR) & LSR_DR, LSR_DR);
	assert_int_equal(rd(c, RBR), 'Z');
	assert_int_equal(rd(c, RBR), '9');
	assert_int_equal(rd(c, LSR) & LSR_DR, 0);
	assert_int_equal(c->nseen, 0);	/* nor to the console's ring */

	/* Out of loopback: the console again, modem lines as before. */
	wr(c, MCR, 0);
	wr(c, THR, 'k');
	assert_int_equal(out(c, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'k');
	assert_int_equal(c->nseen, 1);
	assert_int_equal(c->seen[0], 'k');
	assert_int_equal(rd(c, MSR) & 0xb0, 0xb0);
}

static void test_wide_access(void **state)
{
	struct ctx *c = *state;
	uint8_t v[2] = { 'A', 'B' };
	char buf[4];

	serial_io(c->s, THR, v, 2, true);
	assert_int_equal(out(c, buf, sizeof(buf)), 0);
	v[0] = v[1] = 0;
	serial_io(c->s, LSR, v, 2, false);
	assert_int_equal(v[0], 0xff);
	assert_int_equal(v[1], 0xff);
}

/* [console] mode = "off": no output fd, but the output hook (the ring that
 * `vmm ctl NAME console` replays) still gets every byte. */
static void test_discard_output(void **state)
{
	struct ctx c = { 0 };
	struct serial_ops ops = { .set_irq = set_irq, .rx_space = rx_space,
				  .first_tx = first_tx, .first_line = first_line,
				  .output = output, .ctx = &c };
	struct serial *s = serial_new(-1, &ops);
	uint8_t v = 'x';

	assert_non_null(s);
	serial_io(s, THR, &v, 1, true);
	v = 'y';
	serial_io(s, THR, &v, 1, true);
	assert_int_equal(c.first_tx, 1);
	assert_int_equal(c.nseen, 2);
	assert_memory_equal(c.seen, "xy", 2);
	v = 0;
	serial_io(s, LSR, &v, 1, false);
	assert_int_equal(v & LSR_THRE, LSR_THRE);
	serial_free(s);
}

/* [console] max_size_mib: a guest writing without end to a console file
 * that already holds data never grows it past the cap; the file starts over
 * with a line saying so, and the newest output is kept. */
static void test_output_cap(void **state)
{
	static const char note[] =
		"[vmm: the console file reached 200 bytes; earlier output was cut]\n";
	char path[] = "/tmp/vmm-test-console-XXXXXX", buf[512];
	struct ctx c = { 0 };
	struct serial_ops ops = { .set_irq = set_irq, .rx_space = rx_space,
				  .first_tx = first_tx, .first_line = first_line, .ctx = &c };
	int fd = mkstemp(path);
	struct serial *s;
	ssize_t n;

	assert_true(fd >= 0);
	close(fd);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "from the last run\n", 18), 18);
	s = serial_new(fd, &ops);
	assert_non_null(s);
	serial_set_out_limit(s, 200, 18);
	for (int i = 0; i < 1000; i++) {
		uint8_t v = (uint8_t)('a' + i % 26);

		serial_io(s, THR, &v, 1, true);
		assert_true(lseek(fd, 0, SEEK_END) <= 200);
	}
	serial_free(s);
	close(fd);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	assert_true(n > (ssize_t)sizeof(note) - 1);
	buf[n] = '\0';
	assert_memory_equal(buf, note, sizeof(note) - 1);
	/* The last byte the guest wrote is the file's last byte: (999 % 26) -> 'l'. */
	assert_int_equal(buf[n - 1], 'a' + 999 % 26);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reset_state),
		T(test_transmit),
		T(test_dlab),
		T(test_thri),
		T(test_fifo_bits),
		T(test_rdi_priority),
		T(test_out2_gates_irq),
		T(test_backpressure),
		T(test_fcr_clear),
		T(test_loopback),
		T(test_wide_access),
		cmocka_unit_test(test_discard_output),
		cmocka_unit_test(test_output_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
