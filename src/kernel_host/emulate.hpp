// Lets a CUDA kernel source of kernels/ compile as host C++, for the CPU
// tests of src/kernel_host/mod.rs: CUDA's qualifiers become nothing,
// threadIdx/blockIdx are per OS thread, blockDim/gridDim are set before a
// launch, __shared__ arrays are statics (one block runs at a time) and
// __syncthreads is a barrier over the block's threads. The test harness
// runs each block's threads as OS threads, so kernels that cooperate
// through shared memory run as written.
#pragma once

#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <math.h>

struct dim3 {
    unsigned x = 0, y = 0, z = 0;
};

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<> *fno_emu_barrier = nullptr;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

inline void __syncthreads() { fno_emu_barrier->arrive_and_wait(); }

template <typename T> inline T atomicAdd(T *address, T value) {
    return std::atomic_ref<T>(*address).fetch_add(value);
}

#define FNO_EMU_EXPORT extern "C" __attribute__((visibility("default")))

// The launch's grid and block sizes.
FNO_EMU_EXPORT void fno_emu_dims(unsigned gx, unsigned gy, unsigned gz,
                                 unsigned bx, unsigned by, unsigned bz) {
    gridDim = {gx, gy, gz};
    blockDim = {bx, by, bz};
}

// Starts a block of `threads` threads (the barrier __syncthreads waits on).
FNO_EMU_EXPORT void fno_emu_begin_block(unsigned threads) {
    delete fno_emu_barrier;
    fno_emu_barrier = new std::barrier<>(threads);
}

// The calling OS thread's block and thread index.
FNO_EMU_EXPORT void fno_emu_thread(unsigned bx, unsigned by, unsigned bz,
                                   unsigned tx, unsigned ty, unsigned tz) {
    blockIdx = {bx, by, bz};
    threadIdx = {tx, ty, tz};
}
