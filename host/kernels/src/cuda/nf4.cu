// NF4 dequantization on the GPU: packed 4-bit codes and double-quantized absmax values in,
// the weight matrix (row-major, f32 or bf16) out. The arithmetic is the CPU's
// (`nf4::dequantize_range`, `DoubleQuant::value`) operation for operation, each rounded
// once to f32 with no fused multiply-add, so the f32 output is bit for bit the CPU's and the
// bf16 output is that value rounded to nearest even.
//
// Layout (see nf4.rs and double_quant.rs): element i's code is the high nibble of byte i / 2
// when i is even, the low nibble when odd; its NF4 block is i / 64 and that block's absmax is
// dynamic_map[absmax_codes[b]] * absmax_scales[b / 256] + offset.
//
// One thread per 8 consecutive elements: 4 packed bytes read as one 32-bit word (a warp reads
// 128 contiguous bytes), 8 values written as 16 (bf16) or 32 (f32) contiguous bytes. Eight
// divides the block size, so the 8 share one absmax. A last partial group of 8 is done
// element by element.

#include <cuda_bf16.h>
#include <stdint.h>

namespace {

constexpr unsigned int NF4_BLOCK = 64;
constexpr unsigned int ABSMAX_BLOCK = 256;
constexpr unsigned int CODE_BOOK_LEVELS = 16;

__device__ __forceinline__ void store8(float* out, const float (&v)[8]) {
    float4* dst = reinterpret_cast<float4*>(out);
    dst[0] = make_float4(v[0], v[1], v[2], v[3]);
    dst[1] = make_float4(v[4], v[5], v[6], v[7]);
}

__device__ __forceinline__ void store8(__nv_bfloat16* out, const float (&v)[8]) {
    __nv_bfloat162 pairs[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        pairs[i] = __halves2bfloat162(__float2bfloat16_rn(v[2 * i]), __float2bfloat16_rn(v[2 * i + 1]));
    }
    *reinterpret_cast<uint4*>(out) = *reinterpret_cast<const uint4*>(pairs);
}

__device__ __forceinline__ void store1(float* out, float v) { *out = v; }

__device__ __forceinline__ void store1(__nv_bfloat16* out, float v) { *out = __float2bfloat16_rn(v); }

// `tables` holds the 16 NF4 levels, then the 256 levels of the dynamic map.
template <typename T>
__device__ void dequantize(
    const uint8_t* __restrict__ packed,
    const uint8_t* __restrict__ absmax_codes,
    const float* __restrict__ absmax_scales,
    float offset,
    const float* __restrict__ tables,
    T* __restrict__ out,
    unsigned long long n
) {
    __shared__ float code_book[CODE_BOOK_LEVELS];
    if (threadIdx.x < CODE_BOOK_LEVELS) {
        code_book[threadIdx.x] = tables[threadIdx.x];
    }
    __syncthreads();
    const unsigned long long first = (blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x) * 8;
    if (first >= n) {
        return;
    }
    const unsigned long long block = first / NF4_BLOCK;
    const float* dynamic_map = tables + CODE_BOOK_LEVELS;
    const float absmax =
        __fadd_rn(__fmul_rn(dynamic_map[absmax_codes[block]], absmax_scales[block / ABSMAX_BLOCK]), offset);
    if (first + 8 <= n) {
        const uint32_t word = *reinterpret_cast<const uint32_t*>(packed + first / 2);
        float v[8];
#pragma unroll
        for (int b = 0; b < 4; ++b) {
            const uint32_t byte = (word >> (8 * b)) & 0xffu;
            v[2 * b] = __fmul_rn(code_book[byte >> 4], absmax);
            v[2 * b + 1] = __fmul_rn(code_book[byte & 0x0fu], absmax);
        }
        store8(out + first, v);
    } else {
        for (unsigned long long i = first; i < n; ++i) {
            const uint8_t byte = packed[i / 2];
            const uint32_t code = (i % 2 == 0) ? (byte >> 4) : (byte & 0x0fu);
            store1(out + i, __fmul_rn(code_book[code], absmax));
        }
    }
}

}  // namespace

extern "C" __global__ void nf4_dequantize_f32(
    const uint8_t* packed,
    const uint8_t* absmax_codes,
    const float* absmax_scales,
    float offset,
    const float* tables,
    float* out,
    unsigned long long n
) {
    dequantize(packed, absmax_codes, absmax_scales, offset, tables, out, n);
}

extern "C" __global__ void nf4_dequantize_bf16(
    const uint8_t* packed,
    const uint8_t* absmax_codes,
    const float* absmax_scales,
    float offset,
    const float* tables,
    __nv_bfloat16* out,
    unsigned long long n
) {
    dequantize(packed, absmax_codes, absmax_scales, offset, tables, out, n);
}
