/* A tiny 64-bit guest for smoke tests on any /dev/kvm, including hosts
 * whose KVM emulates kernel-mode code slowly. vmm loads it as an ELF
 * "vmlinux" and enters it in long mode with boot_params in RSI, exactly
 * as it enters Linux. It prints the command line it was given, then acts
 * on the command line's first character:
 *   p  power off through the ACPI sleep control register
 *   a  reset through the ACPI reset register
 *   k  reset through the i8042 (as Linux's reboot=k)
 *   t  triple fault
 *   x  report a panic through pvpanic
 *   w  wait for Ctrl-Alt-Del on the i8042, then power off
 *   h  hang with interrupts off (for the forced-stop timeout)
 *   l  run forever, printing a '.' every 2^24 TSC cycles (a few ms), so
 *      that a pause shows as output that stops and a resume as output
 *      that goes on
 *   r  write the boot timer's magic (as a Linux guest's init does:
 *      "userspace ready"), then as l
 */
	.code64
	.section .text
	.globl _start
_start:
	mov	%rsi, %r15		/* boot_params */
	lea	banner(%rip), %rsi
	call	puts
	mov	0x228(%r15), %esi	/* hdr.cmd_line_ptr */
	mov	%rsi, %r14
	call	puts
	lea	newline(%rip), %rsi
	call	puts
	/* e820 entry count, as one digit: proves the zero page was built. */
	movzbl	0x1e8(%r15), %eax
	add	$'0', %al
	mov	$0x3f8, %dx
	lea	e820msg(%rip), %rsi
	call	puts
	mov	$0x3f8, %dx
	movzbl	0x1e8(%r15), %eax
	add	$'0', %al
	out	%al, %dx
	lea	newline(%rip), %rsi
	call	puts

	movzbl	(%r14), %eax
	cmp	$'p', %al
	je	poweroff
	cmp	$'a', %al
	je	acpi_reset
	cmp	$'k', %al
	je	kbd_reset
	cmp	$'t', %al
	je	triple
	cmp	$'x', %al
	je	panic
	cmp	$'w', %al
	je	wait_cad
	cmp	$'l', %al
	je	tick
	cmp	$'r', %al
	je	ready_tick
	jmp	hang

poweroff:
	mov	$0x600, %dx
	mov	$0x34, %al		/* SLP_TYP=5 << 2 | SLP_EN */
	out	%al, %dx
	jmp	hang
acpi_reset:
	mov	$0x602, %dx
	mov	$0x0f, %al
	out	%al, %dx
	jmp	hang
kbd_reset:
	mov	$0x64, %dx
	mov	$0xfe, %al
	out	%al, %dx
	jmp	hang
triple:
	lidt	null_idt(%rip)
	ud2
	jmp	hang
panic:
	mov	$0x505, %dx
	mov	$1, %al
	out	%al, %dx
	jmp	hang
wait_cad:
	lea	waiting(%rip), %rsi
	call	puts
1:	in	$0x64, %al
	test	$1, %al
	jz	1b
	in	$0x60, %al
	cmp	$0x53, %al		/* Delete make code, scan-code set 1 */
	jne	1b
	lea	gotcad(%rip), %rsi
	call	puts
	jmp	poweroff
ready_tick:
	mov	$0xfea00000, %ebx	/* the boot timer (docs/lifecycle.md); zero-extended */
	movb	$123, (%rbx)
	lea	readymsg(%rip), %rsi
	call	puts
tick:
	lea	ticking(%rip), %rsi
	call	puts
1:	rdtsc
	shl	$32, %rdx
	or	%rax, %rdx
	mov	%rdx, %rbx
2:	rdtsc
	shl	$32, %rdx
	or	%rax, %rdx
	sub	%rbx, %rdx
	cmp	$0x1000000, %rdx
	jb	2b
	mov	$0x3f8, %dx
	mov	$'.', %al
	out	%al, %dx
	jmp	1b
hang:
	cli
	hlt
	jmp	hang

/* Writes the NUL-terminated string at RSI to COM1. */
puts:
	mov	$0x3f8, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	out	%al, %dx
	jmp	1b
2:	ret

	.section .rodata
banner:	.asciz	"SMOKE-START cmdline="
newline: .asciz	"\n"
e820msg: .asciz	"SMOKE-E820="
waiting: .asciz	"SMOKE-WAITING\n"
gotcad:	.asciz	"SMOKE-CTRLALTDEL\n"
ticking: .asciz	"SMOKE-TICKING\n"
readymsg: .asciz	"SMOKE-READY-MARK\n"
	.balign 8
null_idt:
	.word	0
	.quad	0
