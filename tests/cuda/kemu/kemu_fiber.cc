// kemu_fiber.cc — kemu_fiber.h's context switch. On x86-64 (System V): push the six
// callee-saved registers and the floating-point control state (MXCSR, x87 control word), store
// the stack pointer, load the other one and pop the same; a new fiber's stack is laid out as if
// it had been switched away from at the entry of fn.
#include "kemu_fiber.h"

#include <cstdint>
#include <cstring>

#if KEMU_FIBER_ASM
extern "C" void kemu_fiber_swap(void **save_sp, void *load_sp);
asm(R"(
  .pushsection .text
  .globl kemu_fiber_swap
  .type kemu_fiber_swap, @function
kemu_fiber_swap:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size kemu_fiber_swap, .-kemu_fiber_swap
  .popsection
)");

void kemu_fiber_make(KemuFiber *f, char *stack, size_t size, void (*fn)()) {
  uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
  uint64_t *s = (uint64_t *)top;
  s[-1] = 0;                 // fn's return address: it never returns
  s[-2] = (uintptr_t)fn;     // popped by ret: fn starts with rsp = top - 8, as after a call
  for (int i = 3; i <= 8; i++) s[-i] = 0; // rbp, rbx, r12..r15
  uint32_t csr[2];
  asm volatile("stmxcsr %0" : "=m"(csr[0]));
  asm volatile("fnstcw %0" : "=m"(*(uint16_t *)&csr[1]));
  memcpy(&s[-9], csr, sizeof csr); // the control state fn starts with: the launcher's
  f->sp = &s[-9];
}

void kemu_fiber_switch(KemuFiber *from, KemuFiber *to) { kemu_fiber_swap(&from->sp, to->sp); }
#else
void kemu_fiber_make(KemuFiber *f, char *stack, size_t size, void (*fn)()) {
  getcontext(&f->uc);
  f->uc.uc_stack.ss_sp = stack;
  f->uc.uc_stack.ss_size = size;
  f->uc.uc_link = nullptr;
  makecontext(&f->uc, fn, 0);
}

void kemu_fiber_switch(KemuFiber *from, KemuFiber *to) { swapcontext(&from->uc, &to->uc); }
#endif
