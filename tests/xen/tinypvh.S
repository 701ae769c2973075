/*
 * tinypvh.S - a 4 KiB PVH guest for the real-Xen harness.
 *
 * It prints one line to the Xen debug port 0xe9, then loops forever. Each
 * pass writes the pass number into the first dword of every page from 4 MiB
 * to 12 MiB (pfns 0x400..0xbff, 2048 pages) and then bumps a 64-bit counter
 * in its own page. So between two stops the guest dirties exactly the set
 * { 0x300 } + [0x400, 0xc00): 2049 pages.
 *
 * The counter page, at guest-physical 0x300000 (pfn 0x300):
 *   +0  u32 magic 0x56505843 ("CXPV" little-endian, i.e. bytes 'C','X','P','V')
 *   +8  u64 pass counter, starting at 1 after the first pass
 * A tool in dom0 maps pfn 0x300 to read how far the guest has got.
 *
 * The same ELF also boots as an HVM guest without a disk: it carries a
 * multiboot header, so qemu-xen's direct kernel boot (xl's kernel= for an
 * HVM guest) loads it and enters _start in 32-bit protected mode, as PVH does.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define COUNTER_PA  0x300000
#define DIRTY_START 0x400000
#define DIRTY_END   0xc00000
#define MAGIC       0x56505843

        .section .note.Xen, "a", @note
        .align 4
        .long 4                      /* namesz "Xen\0" */
        .long 4                      /* descsz */
        .long XEN_ELFNOTE_PHYS32_ENTRY
        .asciz "Xen"
        .align 4
        .long _start
        .align 4

        .section .multiboot, "a"
        .align 4
        .long 0x1BADB002             /* multiboot magic */
        .long 0                      /* flags: load the ELF by its headers */
        .long -0x1BADB002            /* checksum */

        .text
        .code32
        .globl _start
_start:
        cli
        mov  $stack_top, %esp
        mov  $msg, %esi
1:      lodsb
        test %al, %al
        jz   2f
        outb %al, $0xe9
        jmp  1b
2:      movl $MAGIC, COUNTER_PA
        movl $0, COUNTER_PA + 8
        movl $0, COUNTER_PA + 12
        xor  %ecx, %ecx              /* pass number, low 32 bits */
3:      mov  $DIRTY_START, %edi
4:      mov  %ecx, (%edi)
        add  $0x1000, %edi
        cmp  $DIRTY_END, %edi
        jb   4b
        inc  %ecx
        addl $1, COUNTER_PA + 8      /* the 64-bit counter */
        adcl $0, COUNTER_PA + 12
        test $0xfff, %ecx            /* a '.' every 4096 passes */
        jnz  3b
        mov  $'.', %al
        outb %al, $0xe9
        jmp  3b

        .data
msg:    .asciz "tinypvh: alive, counter at pfn 0x300, dirtying pfns 0x400-0xbff\n"
        .bss
        .align 16
        .space 4096
stack_top:
