// Attention's softmax in one pass over the scores: probs = softmax(scale · scores + mask)
// along the last dimension, computed in f32 whatever the scores' dtype (as transformers'
// `softmax(.., dtype=float32)`), written in the scores' dtype. Unfused, candle keeps the
// scaled scores, their f32 copy, the masked copy, the shifted copy, the exponentials and the
// quotient alive for the backward pass: six [b, heads, t, t_kv] tensors per layer where this
// keeps one (its output), which is all the backward pass needs.
//
// scores: [b, heads, t, t_kv] contiguous; mask: [b or 1, 1, t, t_kv] contiguous f32, or null;
// `mask_batch_stride` is t · t_kv, or 0 when the mask is shared by the batch. One block of
// threads per row of t_kv scores.

#include <cuda_bf16.h>
#include <stdint.h>

namespace {

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

constexpr int MAX_WARPS = 32;

// The maximum (or sum) of `v` over the block, returned to every thread.
template <bool MAX>
__device__ float block_reduce(float v) {
    __shared__ float partial[MAX_WARPS];
    const unsigned int lane = threadIdx.x % 32;
    const unsigned int warp = threadIdx.x / 32;
    const unsigned int warps = (blockDim.x + 31) / 32;
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        const float other = __shfl_xor_sync(0xffffffffu, v, offset);
        v = MAX ? fmaxf(v, other) : v + other;
    }
    __syncthreads();  // `partial` may still be read by a previous call
    if (lane == 0) {
        partial[warp] = v;
    }
    __syncthreads();
    v = lane < warps ? partial[lane] : (MAX ? -INFINITY : 0.0f);
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        const float other = __shfl_xor_sync(0xffffffffu, v, offset);
        v = MAX ? fmaxf(v, other) : v + other;
    }
    return v;
}

template <typename T>
__device__ void softmax_row(
    const T* __restrict__ scores,
    const float* __restrict__ mask,
    float scale,
    T* __restrict__ out,
    unsigned int t,
    unsigned int heads,
    unsigned int t_kv,
    unsigned long long mask_batch_stride
) {
    const unsigned long long row = blockIdx.x;
    const unsigned long long query = row % t;
    const unsigned long long batch = row / ((unsigned long long)t * heads);
    const T* src = scores + row * t_kv;
    T* dst = out + row * t_kv;
    const float* bias = mask == nullptr ? nullptr : mask + batch * mask_batch_stride + query * t_kv;
    float max_v = -INFINITY;
    for (unsigned int j = threadIdx.x; j < t_kv; j += blockDim.x) {
        const float v = to_f32(src[j]) * scale + (bias == nullptr ? 0.0f : bias[j]);
        max_v = fmaxf(max_v, v);
    }
    max_v = block_reduce<true>(max_v);
    float sum = 0.0f;
    for (unsigned int j = threadIdx.x; j < t_kv; j += blockDim.x) {
        const float v = to_f32(src[j]) * scale + (bias == nullptr ? 0.0f : bias[j]);
        sum += expf(v - max_v);
    }
    sum = block_reduce<false>(sum);
    for (unsigned int j = threadIdx.x; j < t_kv; j += blockDim.x) {
        const float v = to_f32(src[j]) * scale + (bias == nullptr ? 0.0f : bias[j]);
        store(dst + j, expf(v - max_v) / sum);
    }
}

}  // namespace

extern "C" __global__ void attention_softmax_f32(
    const float* scores, const float* mask, float scale, float* out,
    unsigned int t, unsigned int heads, unsigned int t_kv, unsigned long long mask_batch_stride
) {
    softmax_row(scores, mask, scale, out, t, heads, t_kv, mask_batch_stride);
}

extern "C" __global__ void attention_softmax_bf16(
    const __nv_bfloat16* scores, const float* mask, float scale, __nv_bfloat16* out,
    unsigned int t, unsigned int heads, unsigned int t_kv, unsigned long long mask_batch_stride
) {
    softmax_row(scores, mask, scale, out, t, heads, t_kv, mask_batch_stride);
}
