// Reset entry of the qemu-m4 board: enable the FPU before any code runs.
//
// The compiler may use FPU registers anywhere once -mfloat-abi=hard is on
// (even for memcpy-like loops), and an FPU access while CP10/CP11 are
// disabled is a UsageFault. So the vector table below, placed first by
// ../qemu-common/ram.ld, points reset here; this grants full access to CP10/CP11 in
// CPACR and only then jumps to the port's usual Reset_Handler.

#include <stdint.h>

extern uint32_t _estack;
extern void Reset_Handler(void);
extern void NMI_Handler(void);
extern void HardFault_Handler(void);
extern void MemManage_Handler(void);
extern void BusFault_Handler(void);
extern void UsageFault_Handler(void);
extern void SVC_Handler(void);
extern void DebugMon_Handler(void);
extern void PendSV_Handler(void);
extern void SysTick_Handler(void);

__attribute__((naked, noreturn)) void mpyml_fpu_reset_handler(void) {
    __asm volatile (
        "ldr r0, =0xe000ed88 \n" // CPACR
        "ldr r1, [r0]        \n"
        "orr r1, r1, #0x00f00000 \n" // CP10 and CP11: full access
        "str r1, [r0]        \n"
        "dsb                 \n"
        "isb                 \n" // the next instruction sees the FPU enabled
        "b Reset_Handler     \n"
        );
}

const uint32_t mpyml_fpu_isr_vector[] __attribute__((section(".mpyml_isr_vector"), used)) = {
    (uint32_t)&_estack,
    (uint32_t)&mpyml_fpu_reset_handler,
    (uint32_t)&NMI_Handler,
    (uint32_t)&HardFault_Handler,
    (uint32_t)&MemManage_Handler,
    (uint32_t)&BusFault_Handler,
    (uint32_t)&UsageFault_Handler,
    0,
    0,
    0,
    0,
    (uint32_t)&SVC_Handler,
    (uint32_t)&DebugMon_Handler,
    0,
    (uint32_t)&PendSV_Handler,
    (uint32_t)&SysTick_Handler,
};
