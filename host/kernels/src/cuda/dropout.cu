// LoRA dropout masks drawn on the GPU, equal bit for bit to the CPU's
// (`LoraAdapter::dropout_mask` in lora.rs): there, chunk c of `chunk_len` elements is drawn
// from ChaCha8 with the mask's key and stream c, one 32-bit word per element, from block 0
// of the stream. ChaCha's keystream is random access, so here one thread computes one
// 64-byte block (16 words, 16 elements): element e is word e % 16 of block
// (e % chunk_len) / 16 of stream e / chunk_len, and is `keep` when that word is at least
// `threshold`, else 0.

#include <stdint.h>

namespace {

__device__ __forceinline__ uint32_t rotl(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

__device__ __forceinline__ void quarter(uint32_t (&x)[16], int a, int b, int c, int d) {
    x[a] += x[b]; x[d] = rotl(x[d] ^ x[a], 16);
    x[c] += x[d]; x[b] = rotl(x[b] ^ x[c], 12);
    x[a] += x[b]; x[d] = rotl(x[d] ^ x[a], 8);
    x[c] += x[d]; x[b] = rotl(x[b] ^ x[c], 7);
}

}  // namespace

extern "C" __global__ void lora_dropout_mask_f32(
    uint32_t k0, uint32_t k1, uint32_t k2, uint32_t k3,
    uint32_t k4, uint32_t k5, uint32_t k6, uint32_t k7,
    unsigned long long blocks_per_stream,
    uint32_t threshold,
    float keep,
    float* __restrict__ out,
    unsigned long long n
) {
    const unsigned long long block = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
    const unsigned long long first = block * 16;
    if (first >= n) {
        return;
    }
    const unsigned long long counter = block % blocks_per_stream;
    const unsigned long long stream = block / blocks_per_stream;
    const uint32_t init[16] = {
        0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u,
        k0, k1, k2, k3, k4, k5, k6, k7,
        (uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)stream, (uint32_t)(stream >> 32),
    };
    uint32_t x[16];
#pragma unroll
    for (int i = 0; i < 16; ++i) {
        x[i] = init[i];
    }
#pragma unroll
    for (int round = 0; round < 4; ++round) {
        quarter(x, 0, 4, 8, 12);
        quarter(x, 1, 5, 9, 13);
        quarter(x, 2, 6, 10, 14);
        quarter(x, 3, 7, 11, 15);
        quarter(x, 0, 5, 10, 15);
        quarter(x, 1, 6, 11, 12);
        quarter(x, 2, 7, 8, 13);
        quarter(x, 3, 4, 9, 14);
    }
    float v[16];
#pragma unroll
    for (int i = 0; i < 16; ++i) {
        v[i] = (x[i] + init[i] >= threshold) ? keep : 0.0f;
    }
    if (first + 16 <= n) {
        float4* dst = reinterpret_cast<float4*>(out + first);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            dst[i] = make_float4(v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]);
        }
    } else {
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            if (first + i < n) {
                out[first + i] = v[i];
            }
        }
    }
}
