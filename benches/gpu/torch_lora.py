"""`rapha-gpu bench`'s configuration in PyTorch + PEFT, for the comparison in compare.sh.

The same synthetic Llama shape (published config, random weights: transformers'
initializer, no download), batch, sequence length and LoRA (rank r, alpha 2r, dropout, all
seven projections), the same token ids (one prompt token per row, the rest scored), AdamW at
1e-4 with the gradient norm clipped to 1, as the engine's `TrainConfig` defaults. Two bases:

- `bf16`: the model in bf16, LoRA in PEFT's default (adapters kept in f32);
- `nf4`: bitsandbytes NF4 with double quantization and bf16 compute, prepared as QLoRA does
  (`prepare_model_for_kbit_training`). Needs `import bitsandbytes` to work.

A third, `fp32` (the model in f32), is what the CPU runs (`--device cpu`, for testing this
script; bf16 matrix products are emulated on most CPUs).

Prints one JSON object with the keys `rapha-gpu bench` prints: tokens/s over the timed steps
(after one warm-up), peak memory (CUDA: `torch.cuda.max_memory_allocated` and
`max_memory_reserved` over the timed steps; CPU: peak RSS of the process), and MFU: the step's
FLOPs, counted as `host/gpu/src/flops.rs` counts them, over torch's own measured GEMM rate in
the compute dtype (bf16, or f32 for `fp32`).

Usage: python benches/gpu/torch_lora.py [--shape S] [--seq N] [--batch N] [--steps N]
       [--rank N] [--lora-dropout P] [--device cuda|cpu] [--quantization bf16|nf4|fp32]
       [--gradient-checkpointing] [--gemm-size N]
"""

import argparse
import json
import resource
import sys
import tempfile
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

# The shapes of host/engine/src/config.rs (`SyntheticShape`), from the same config.json
# files; compare.sh checks that both sides count the same FLOPs, which these fix.
SHAPES = {
    "tiny": dict(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, rope_theta=500000.0,
        rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0,
                          high_freq_factor=4.0, original_max_position_embeddings=64),
        max_position_embeddings=2048, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
    ),
    "llama-3.2-1b": dict(
        vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
        num_attention_heads=32, num_key_value_heads=8, head_dim=64, rope_theta=500000.0,
        rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0,
                          high_freq_factor=4.0, original_max_position_embeddings=8192),
        max_position_embeddings=131072, tie_word_embeddings=True, bos_token_id=128000,
        eos_token_id=128001,
    ),
    "llama-3.1-8b": dict(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, rope_theta=500000.0,
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                          high_freq_factor=4.0, original_max_position_embeddings=8192),
        max_position_embeddings=131072, tie_word_embeddings=False, bos_token_id=128000,
        eos_token_id=128001,
    ),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def log(message):
    print(f"torch_lora: {message}", file=sys.stderr, flush=True)


def token_ids(row, length, salt, vocab):
    """The ids `rapha-gpu bench` trains on: in [3, vocab), spread over the vocabulary."""
    return [(row * 7919 + j * 104_729 + salt) % (vocab - 3) + 3 for j in range(length)]


def step_flops(shape, batch, seq, scored, rank):
    """One training step's FLOPs, term by term as host/gpu/src/flops.rs counts them."""
    h, i, v = shape["hidden_size"], shape["intermediate_size"], shape["vocab_size"]
    layers = shape["num_hidden_layers"]
    q = shape["num_attention_heads"] * shape["head_dim"]
    kv = shape["num_key_value_heads"] * shape["head_dim"]
    tokens = batch * seq
    projections = h * q + 2 * h * kv + q * h + 3 * h * i
    sides = (h + q) + 2 * (h + kv) + (q + h) + 2 * (h + i) + (i + h)
    return {
        "linear_forward": 2 * tokens * projections * layers,
        "linear_backward": 2 * tokens * projections * layers,
        "lora": 6 * tokens * rank * sides * layers,
        "attention": 12 * batch * seq * seq * q * layers,
        "lm_head": 4 * scored * h * v,
    }


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gemm_rate(device, dtype, size):
    """`2·n³` over the mean time of 10 products of random n×n matrices, after 3 warm-ups."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    synchronize(device)
    started = time.perf_counter()
    for _ in range(10):
        a @ b
    synchronize(device)
    seconds = (time.perf_counter() - started) / 10
    del a, b
    return 2 * size**3 / seconds


def build_model(config, args, device, dtype):
    """The random-init model, quantized with bitsandbytes for `nf4`."""
    torch.manual_seed(args.seed)
    if args.quantization != "nf4":
        with torch.device(device):
            return LlamaForCausalLM(config).to(dtype)
    # bitsandbytes quantizes while loading: save the random bf16 model, load it back in NF4.
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    bnb = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    with tempfile.TemporaryDirectory() as folder:
        with torch.device(device):
            LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
        torch.cuda.empty_cache()
        model = LlamaForCausalLM.from_pretrained(
            folder, quantization_config=bnb, dtype=torch.bfloat16, device_map={"": str(device)}
        )
    return prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=args.gradient_checkpointing
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llama-3.2-1b")
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--lora-dropout", type=float, default=0.05)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--quantization", choices=["bf16", "nf4", "fp32"], default="bf16")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--gemm-size", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.device == "cpu" and args.quantization == "nf4":
        parser.error("--quantization nf4 needs --device cuda (bitsandbytes' NF4 training is CUDA-only)")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    from peft import LoraConfig, get_peft_model

    device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
    dtype = torch.float32 if args.quantization == "fp32" else torch.bfloat16
    gemm_size = args.gemm_size or (8192 if device.type == "cuda" else 1024)
    gemm = gemm_rate(device, dtype, gemm_size)

    shape = SHAPES[args.shape]
    config = LlamaConfig(**shape, rms_norm_eps=1e-5, attention_bias=False, mlp_bias=False,
                         hidden_act="silu", initializer_range=0.02)
    started = time.perf_counter()
    model = build_model(config, args, device, dtype)
    if args.gradient_checkpointing and args.quantization != "nf4":
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=args.lora_dropout,
                      target_modules=TARGETS, task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    model.config.use_cache = False
    model.train()
    synchronize(device)
    build_seconds = time.perf_counter() - started
    log(f"{args.shape} {args.quantization} built in {build_seconds:.1f} s on {device}")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    vocab = shape["vocab_size"]

    def batch(step):
        rows = [token_ids(r, 1, 1, vocab) + token_ids(r, args.seq - 1, 2, vocab)
                for r in range(step * args.batch, (step + 1) * args.batch)]
        input_ids = torch.tensor(rows, device=device)
        labels = input_ids.clone()
        labels[:, :1] = -100
        return input_ids, labels

    def train_step(step):
        input_ids, labels = batch(step)
        loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    train_step(0)
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    losses = [train_step(step) for step in range(1, args.steps + 1)]
    synchronize(device)
    seconds = time.perf_counter() - started

    scored = args.batch * (args.seq - 1)
    terms = step_flops(shape, args.batch, args.seq, scored, args.rank)
    flops = sum(terms.values())
    achieved = flops * args.steps / seconds
    if device.type == "cuda":
        memory = {
            "memory_measure": "torch.cuda.max_memory_allocated / max_memory_reserved",
            "peak_memory_bytes": torch.cuda.max_memory_allocated(device),
            "peak_memory_reserved_bytes": torch.cuda.max_memory_reserved(device),
        }
        device_name = torch.cuda.get_device_name(device)
    else:
        memory = {
            "memory_measure": "process resident set high-water mark (ru_maxrss)",
            "peak_memory_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "peak_memory_reserved_bytes": None,
        }
        device_name = "cpu"
    print(json.dumps({
        "engine": f"pytorch {torch.__version__} + peft"
                  + (" + bitsandbytes" if args.quantization == "nf4" else ""),
        "shape": args.shape,
        "device": device_name,
        "quantization": args.quantization,
        "gradient_checkpointing": args.gradient_checkpointing,
        "batch": args.batch,
        "seq": args.seq,
        "rank": args.rank,
        "lora_dropout": args.lora_dropout,
        "steps": args.steps,
        "threads": torch.get_num_threads(),
        "build_seconds": build_seconds,
        "step_seconds": seconds / args.steps,
        "train_tokens_per_second": args.batch * args.seq * args.steps / seconds,
        "losses": losses,
        "flops_per_step": flops,
        "flops_terms": terms,
        "scored_tokens_per_step": scored,
        "achieved_flops_per_second": achieved,
        "gemm": {"dtype": str(dtype).removeprefix("torch.").replace("float32", "f32")
                 .replace("bfloat16", "bf16"), "size": gemm_size, "flops_per_second": gemm},
        "mfu": achieved / gemm,
        **memory,
    }))


if __name__ == "__main__":
    sys.exit(main())
