/* Unit tests for arch/aarch64/pl061.c, the PL061 GPIO behind the arm64 power
 * button: registers as Linux's gpio-pl061 driver uses them (byte accesses),
 * edge and level interrupts, and the button press that lasts until the
 * guest has read it. Plain C: runs on every host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include <cmocka.h>

#include "aarch64/pl061.h"

#define DIR	0x400
#define IS	0x404
#define IBE	0x408
#define IEV	0x40c
#define IE	0x410
#define RIS	0x414
#define MIS	0x418
#define IC	0x41c

static int line, line_changes;

static void set_irq(void *ctx, int level)
{
	assert_ptr_equal(ctx, &line);
	line = level;
	line_changes++;
}

static uint32_t rd(struct pl061 *g, uint64_t off, uint32_t len)
{
	uint8_t d[4] = { 0xaa, 0xaa, 0xaa, 0xaa };
	uint32_t v = 0;

	pl061_io(g, off, d, len, false);
	for (uint32_t i = 0; i < len; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void wr(struct pl061 *g, uint64_t off, uint8_t v)
{
	pl061_io(g, off, &v, 1, true);
}

/* DATA at offset (mask << 2) reads and writes only the masked pins. */
static uint32_t data(struct pl061 *g, uint8_t mask)
{
	return rd(g, (uint64_t)mask << 2, 1);
}

static struct pl061 *make(void)
{
	struct pl061 *g = pl061_new(set_irq, &line);

	assert_non_null(g);
	line = 0;
	line_changes = 0;
	return g;
}

static void test_ids_and_widths(void **state)
{
	static const uint8_t id[8] = { 0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };
	struct pl061 *g = make();

	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rd(g, 0xfe0 + 4 * i, 4), id[i]);
	/* Not at a register's start: 0, writes dropped. */
	assert_int_equal(rd(g, DIR + 1, 1), 0);
	wr(g, DIR + 1, 0xff);
	assert_int_equal(rd(g, DIR, 4), 0);
	assert_int_equal(rd(g, 0x800, 4), 0);
	pl061_free(g);
}

static void test_data_mask_and_direction(void **state)
{
	struct pl061 *g = make();

	/* Outputs take writes through the address mask; inputs ignore them. */
	wr(g, DIR, 0x0f);
	assert_int_equal(rd(g, DIR, 1), 0x0f);
	wr(g, 0xff << 2, 0xff);
	assert_int_equal(data(g, 0xff), 0x0f);
	wr(g, 0x01 << 2, 0x00);			/* only pin 0 */
	assert_int_equal(data(g, 0xff), 0x0e);
	assert_int_equal(data(g, 0x02), 0x02);
	assert_int_equal(data(g, 0x01), 0x00);
	/* Inputs show what drives them. */
	pl061_set_input(g, 7, 1);
	assert_int_equal(data(g, 0x80), 0x80);
	assert_int_equal(data(g, 0x7f), 0x0e);
	pl061_set_input(g, 7, 0);
	assert_int_equal(data(g, 0x80), 0);
	assert_int_equal(line_changes, 0);	/* no interrupt enabled */
	pl061_free(g);
}

static void test_edge_interrupts(void **state)
{
	struct pl061 *g = make();

	/* Rising edge on pin 3. */
	wr(g, IEV, 0x08);
	wr(g, IE, 0x08);
	pl061_set_input(g, 3, 1);
	assert_int_equal(line, 1);
	assert_int_equal(rd(g, RIS, 1), 0x08);
	assert_int_equal(rd(g, MIS, 1), 0x08);
	/* Latched until cleared, even after the pin falls. */
	pl061_set_input(g, 3, 0);
	assert_int_equal(line, 1);
	wr(g, IC, 0x08);
	assert_int_equal(line, 0);
	assert_int_equal(rd(g, RIS, 1), 0);
	/* A falling edge does not count for a rising-edge pin... */
	pl061_set_input(g, 3, 1);
	wr(g, IC, 0x08);
	pl061_set_input(g, 3, 0);
	assert_int_equal(line, 0);
	/* ...but both edges do with IBE, and a masked pin latches silently. */
	wr(g, IBE, 0x08);
	pl061_set_input(g, 3, 1);
	assert_int_equal(line, 1);
	wr(g, IC, 0x08);
	wr(g, IE, 0x00);
	pl061_set_input(g, 3, 0);
	assert_int_equal(line, 0);
	assert_int_equal(rd(g, RIS, 1), 0x08);
	assert_int_equal(rd(g, MIS, 1), 0);
	wr(g, IE, 0x08);			/* unmasking delivers it */
	assert_int_equal(line, 1);
	pl061_free(g);
}

static void test_level_interrupts(void **state)
{
	struct pl061 *g = make();

	/* High level on pin 5: follows the pin, IC has no effect. */
	wr(g, IS, 0x20);
	wr(g, IEV, 0x20);
	wr(g, IE, 0x20);
	assert_int_equal(line, 0);
	pl061_set_input(g, 5, 1);
	assert_int_equal(line, 1);
	wr(g, IC, 0x20);
	assert_int_equal(line, 1);
	pl061_set_input(g, 5, 0);
	assert_int_equal(line, 0);
	/* Low level: asserted while low. */
	wr(g, IEV, 0x00);
	assert_int_equal(line, 1);
	pl061_free(g);
}

/* What Linux does with a gpio-keys button on both edges: the interrupt is
 * acknowledged (IC) before the handler runs, and gpio-keys reads the pin
 * later, from a work item. */
static void test_press(void **state)
{
	struct pl061 *g = make();

	wr(g, IBE, 0x08);
	wr(g, IE, 0x08);
	pl061_press(g, 3);
	assert_int_equal(line, 1);
	wr(g, IC, 0x08);
	assert_int_equal(line, 0);
	/* Reads of other pins do not release it. */
	assert_int_equal(data(g, 0x07), 0);
	assert_int_equal(line, 0);
	/* The guest sees it down; that read lets it go: a second edge. */
	assert_int_equal(data(g, 0x08), 0x08);
	assert_int_equal(line, 1);
	wr(g, IC, 0x08);
	assert_int_equal(line, 0);
	assert_int_equal(data(g, 0x08), 0);
	assert_int_equal(line, 0);
	/* A guest that never reads the pin keeps the button down. */
	pl061_press(g, 3);
	wr(g, IC, 0x08);
	assert_int_equal(data(g, 0x07), 0);
	pl061_set_input(g, 3, 1);		/* no new edge while held */
	assert_int_equal(line, 0);
	pl061_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_widths),
		cmocka_unit_test(test_data_mask_and_direction),
		cmocka_unit_test(test_edge_interrupts),
		cmocka_unit_test(test_level_interrupts),
		cmocka_unit_test(test_press),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
