/* Unit tests for devices/i8042.c: the controller and keyboard commands
 * Linux's i8042/atkbd probe sends, the reset paths, Ctrl-Alt-Del in both
 * scan-code sets, and one interrupt edge per output byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "i8042.h"

#define STS_OBF		0x01
#define STS_SYS		0x04
#define STS_CMD		0x08
#define CTR_KBDINT	0x01
#define CTR_KBDDIS	0x10
#define CTR_XLATE	0x40

struct ctx {
	struct i8042 *k;
	int levels[128];
	unsigned nlevels;
	unsigned resets;
};

static void set_irq(void *p, int level)
{
	struct ctx *c = p;

	assert_true(c->nlevels < 128);
	c->levels[c->nlevels++] = level;
}

static void reset(void *p)
{
	((struct ctx *)p)->resets++;
}

static int setup(void **state)
{
	static struct ctx c;
	struct i8042_ops ops = { set_irq, reset, &c };

	memset(&c, 0, sizeof(c));
	c.k = i8042_new(&ops);
	if (!c.k)
		return -1;
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	i8042_free(((struct ctx *)*state)->k);
	return 0;
}

static void cmd(struct ctx *c, uint8_t v)
{
	i8042_cmd_io(c->k, 0, &v, 1, true);
}

static void data_w(struct ctx *c, uint8_t v)
{
	i8042_data_io(c->k, 0, &v, 1, true);
}

static uint8_t status(struct ctx *c)
{
	uint8_t v = 0xa5;

	i8042_cmd_io(c->k, 0, &v, 1, false);
	return v;
}

static uint8_t data_r(struct ctx *c)
{
	uint8_t v = 0xa5;

	i8042_data_io(c->k, 0, &v, 1, false);
	return v;
}

/* Reads `n` bytes, each announced by OBF, and checks OBF clears after. */
static void expect_bytes(struct ctx *c, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(status(c) & STS_OBF);
		uint8_t got = data_r(c);

		if (got != want[i])
			print_error("byte %zu: %#x, want %#x\n", i, got, want[i]);
		assert_int_equal(got, want[i]);
	}
	assert_false(status(c) & STS_OBF);
}

#define EXPECT(c, ...) do { \
	static const uint8_t w_[] = { __VA_ARGS__ }; \
	expect_bytes(c, w_, sizeof(w_)); \
} while (0)

static void test_self_test(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(status(c) & STS_OBF, 0);
	assert_true(status(c) & STS_SYS);
	cmd(c, 0xaa);
	assert_true(status(c) & STS_CMD);
	EXPECT(c, 0x55);
	cmd(c, 0xab);		/* keyboard interface test */
	EXPECT(c, 0x00);
	/* AUX interface test: nonzero = no AUX port. */
	cmd(c, 0xa9);
	assert_true(status(c) & STS_OBF);
	assert_int_not_equal(data_r(c), 0);
	assert_false(status(c) & STS_OBF);
	/* An empty buffer reads as 0 and stays empty. */
	assert_int_equal(data_r(c), 0);
	assert_false(status(c) & STS_OBF);
}

static void test_command_byte(void **state)
{
	struct ctx *c = *state;
	uint8_t ctr;

	cmd(c, 0x20);
	assert_true(status(c) & STS_OBF);
	ctr = data_r(c);
	assert_true(ctr & CTR_KBDINT);
	assert_true(ctr & CTR_XLATE);
	assert_false(ctr & CTR_KBDDIS);

	cmd(c, 0x60);
	assert_true(status(c) & STS_CMD);
	data_w(c, 0x47);
	assert_false(status(c) & STS_CMD);
	/* The byte went to the command byte, not to the keyboard (which
	 * would have answered 0xfa). */
	assert_false(status(c) & STS_OBF);
	cmd(c, 0x20);
	EXPECT(c, 0x47);

	/* 0xad / 0xae toggle the keyboard-disable bit. */
	cmd(c, 0xad);
	cmd(c, 0x20);
	EXPECT(c, 0x47 | CTR_KBDDIS);
	cmd(c, 0xae);
	cmd(c, 0x20);
	EXPECT(c, 0x47);
	/* 0xa7 disables AUX; 0xa8 cannot enable what is not there. */
	cmd(c, 0xa8);
	cmd(c, 0xa7);
	cmd(c, 0x20);
	EXPECT(c, 0x67);
}

static void test_keyboard_commands(void **state)
{
	struct ctx *c = *state;

	data_w(c, 0xf2);	/* identify */
	EXPECT(c, 0xfa, 0xab, 0x83);
	data_w(c, 0xff);	/* reset */
	EXPECT(c, 0xfa, 0xaa);
	data_w(c, 0xed);	/* LEDs, then the parameter */
	EXPECT(c, 0xfa);
	data_w(c, 0x07);
	EXPECT(c, 0xfa);
	data_w(c, 0xf0);	/* scan-code set query */
	data_w(c, 0x00);
	EXPECT(c, 0xfa, 0xfa, 0x02);
	data_w(c, 0xf3);	/* typematic, parameter 0xff is not a command */
	data_w(c, 0xff);
	EXPECT(c, 0xfa, 0xfa);
	data_w(c, 0xee);	/* echo */
	EXPECT(c, 0xee);
	data_w(c, 0xf5);
	data_w(c, 0xf4);
	EXPECT(c, 0xfa, 0xfa);
	/* 0xd2: the next data byte appears as keyboard output. */
	cmd(c, 0xd2);
	data_w(c, 0x1c);
	EXPECT(c, 0x1c);
}

static void test_reset_lines(void **state)
{
	struct ctx *c = *state;

	cmd(c, 0xfe);
	assert_int_equal(c->resets, 1);
	/* Output port with bit 0 set (A20 on, CPU running): no reset. */
	cmd(c, 0xd1);
	data_w(c, 0xdf);
	assert_int_equal(c->resets, 1);
	assert_false(status(c) & STS_OBF);	/* not a keyboard command */
	/* Bit 0 clear holds the CPU in reset. */
	cmd(c, 0xd1);
	data_w(c, 0xfe);
	assert_int_equal(c->resets, 2);
	/* Other pulse commands are harmless. */
	cmd(c, 0xff);
	cmd(c, 0xf0);
	assert_int_equal(c->resets, 2);
	/* A data byte after the output-port write goes to the keyboard. */
	data_w(c, 0xf4);
	EXPECT(c, 0xfa);
}

static void test_cad_set1(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(i8042_send_ctrl_alt_del(c->k), 0);
	EXPECT(c, 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d);
}

static void test_cad_set2(void **state)
{
	struct ctx *c = *state;

	cmd(c, 0x60);
	data_w(c, CTR_KBDINT | 0x04);	/* translation off */
	assert_int_equal(i8042_send_ctrl_alt_del(c->k), 0);
	EXPECT(c, 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14);
}

static void test_cad_refused(void **state)
{
	struct ctx *c = *state;

	cmd(c, 0xad);
	assert_int_equal(i8042_send_ctrl_alt_del(c->k), -EAGAIN);
	assert_false(status(c) & STS_OBF);
	cmd(c, 0xae);
	assert_int_equal(i8042_send_ctrl_alt_del(c->k), 0);
	EXPECT(c, 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d);

	/* Scanning disabled at the keyboard (0xf5). */
	data_w(c, 0xf5);
	EXPECT(c, 0xfa);
	assert_int_equal(i8042_send_ctrl_alt_del(c->k), -EAGAIN);
	assert_false(status(c) & STS_OBF);
	data_w(c, 0xf4);
	EXPECT(c, 0xfa);

	/* No room for the whole sequence: nothing is queued. */
	assert_int_equal(i8042_send_ctrl_alt_del(c->k), 0);
	assert_int_equal(i8042_send_ctrl_alt_del(c->k), 0);
	assert_int_equal(i8042_send_ctrl_alt_del(c->k), -EAGAIN);
	EXPECT(c, 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d,
	       0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d);
}

static void test_irq_edges(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(i8042_send_ctrl_alt_del(c->k), 0);
	assert_int_equal(c->nlevels, 1);
	assert_int_equal(c->levels[0], 1);
	/* Each read but the last: the line drops and rises again. */
	for (unsigned i = 0; i < 7; i++) {
		data_r(c);
		assert_int_equal(c->nlevels, 3 + 2 * i);
		assert_int_equal(c->levels[1 + 2 * i], 0);
		assert_int_equal(c->levels[2 + 2 * i], 1);
	}
	data_r(c);
	assert_int_equal(c->nlevels, 16);
	assert_int_equal(c->levels[15], 0);
	/* Reading an empty buffer does nothing to the line. */
	data_r(c);
	assert_int_equal(c->nlevels, 16);

	/* Reading the status does not acknowledge anything. */
	cmd(c, 0xaa);
	assert_int_equal(c->nlevels, 17);
	assert_int_equal(c->levels[16], 1);
	status(c);
	assert_int_equal(c->nlevels, 17);
	data_r(c);
	assert_int_equal(c->levels[17], 0);
}

static void test_irq_disabled(void **state)
{
	struct ctx *c = *state;

	cmd(c, 0x60);
	data_w(c, 0x44);	/* XLATE | SYS, no KBDINT */
	assert_int_equal(i8042_send_ctrl_alt_del(c->k), 0);
	assert_true(status(c) & STS_OBF);
	assert_int_equal(c->nlevels, 0);
	EXPECT(c, 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d);
	assert_int_equal(c->nlevels, 0);
	/* Turning interrupts on with a byte waiting raises the line. */
	cmd(c, 0xaa);
	assert_int_equal(c->nlevels, 0);
	cmd(c, 0x60);
	data_w(c, 0x45);
	assert_int_equal(c->nlevels, 1);
	assert_int_equal(c->levels[0], 1);
	EXPECT(c, 0x55);
}

static void test_wide_access(void **state)
{
	struct ctx *c = *state;
	uint8_t v[2] = { 0xfe, 0xfe };

	i8042_cmd_io(c->k, 0, v, 2, true);
	assert_int_equal(c->resets, 0);
	v[0] = v[1] = 0;
	i8042_data_io(c->k, 0, v, 2, false);
	assert_int_equal(v[0], 0xff);
	assert_int_equal(v[1], 0xff);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_self_test),
		T(test_command_byte),
		T(test_keyboard_commands),
		T(test_reset_lines),
		T(test_cad_set1),
		T(test_cad_set2),
		T(test_cad_refused),
		T(test_irq_edges),
		T(test_irq_disabled),
		T(test_wide_access),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
