/*
 * bootsect.S - a 512-byte HVM guest (an MBR boot sector) for the real-Xen
 * harness, run under hvmloader + SeaBIOS with the qemu-xen device model.
 *
 * It prints one line to the Xen debug port 0xe9, then loops forever: each
 * pass writes the pass number into pages 64 KiB..576 KiB (pfns 0x10..0x8f,
 * 128 pages) and bumps a 32-bit counter at guest-physical 0x90000 (pfn 0x90).
 */
        .code16
        .globl _start
_start:
        cli
        xor  %ax, %ax
        mov  %ax, %ds
        mov  %ax, %ss
        mov  $0x7c00, %sp
        mov  $0x9000, %ax            /* counter := 0 */
        mov  %ax, %es
        movl $0, %es:0
        mov  $msg, %si
1:      lodsb
        test %al, %al
        jz   2f
        outb %al, $0xe9
        jmp  1b
2:      xor  %cx, %cx
3:      mov  $0x1000, %bx
4:      mov  %bx, %es
        mov  %cx, %es:0
        add  $0x100, %bx
        cmp  $0x9000, %bx
        jb   4b
        inc  %cx
        mov  $0x9000, %ax            /* 32-bit pass counter at 0x90000 */
        mov  %ax, %es
        incl %es:0
        test $0x3fff, %cx
        jnz  3b
        mov  $'.', %al
        outb %al, $0xe9
        jmp  3b
msg:    .asciz "tinyhvm: alive, counter at pfn 0x90\n"
        .org 510
        .word 0xaa55
