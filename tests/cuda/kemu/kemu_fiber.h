// kemu_fiber.h — the fibers kemu.cc runs a block's threads on: a context switch that saves only
// what the calling convention says a callee keeps, without the system call that glibc's
// swapcontext makes for the signal mask at every switch (which took ~80% of test_cuda_kemu's
// time). x86-64 System V in assembly (kemu_fiber.cc); elsewhere ucontext.
#ifndef KEMU_FIBER_H
#define KEMU_FIBER_H

#include <cstddef>

#if defined(__x86_64__) && defined(__linux__)
#define KEMU_FIBER_ASM 1
struct KemuFiber {
  void *sp; // the saved stack pointer: callee-saved registers, MXCSR and the x87 control word below it
};
#else
#include <ucontext.h>
struct KemuFiber {
  ucontext_t uc;
};
#endif

// Prepares f to call fn() on [stack, stack + size) when it is first switched to; fn must never
// return (it switches away for the last time instead).
void kemu_fiber_make(KemuFiber *f, char *stack, size_t size, void (*fn)());
// Saves the running context in *from and continues *to.
void kemu_fiber_switch(KemuFiber *from, KemuFiber *to);

#endif
