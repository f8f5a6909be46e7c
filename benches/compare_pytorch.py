"""The engine benchmark's configuration in PyTorch + PEFT on the CPU, for comparison.

SmolLM2-135M-Instruct (the same GGUF, dequantized to fp32 by transformers), LoRA r=16,
alpha 32, dropout 0.05 on all seven projections, AdamW, batch 4 x 256 tokens (prompt 16
tokens masked from the loss, completion 240). Prints one JSON object with the same keys as
`cargo bench --bench engine`: training tokens/s, forward tokens/s, generation new tokens/s
(greedy, KV cache) and peak resident memory.

Usage: python benches/compare_pytorch.py [--dtype fp32|bf16] [--steps N] [--threads N]
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

BATCH, SEQ, PROMPT, NEW_TOKENS = 4, 256, 16, 64
ROOT = Path(__file__).resolve().parent.parent


def ids(row, length, salt, vocab):
    return [((row * 7919 + j * 104_729 + salt) % (vocab - 1000)) + 500 for j in range(length)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(
        ROOT / "models", gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf", dtype=torch.float32
    )
    vocab = model.config.vocab_size
    lora = LoraConfig(
        r=16,
        lora_alpha=32,
        lora_dropout=0.05,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.dtype == "bf16")

    def batch(step):
        rows = [ids(step * BATCH + r, PROMPT, 1, vocab) + ids(step * BATCH + r, SEQ - PROMPT, 2, vocab) for r in range(BATCH)]
        input_ids = torch.tensor(rows)
        labels = input_ids.clone()
        labels[:, :PROMPT] = -100
        return input_ids, labels

    def train_step(step):
        input_ids, labels = batch(step)
        with autocast:
            loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.train()
    train_step(0)
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        train_step(step)
    train_tps = BATCH * SEQ * args.steps / (time.perf_counter() - started)

    model.eval()
    rows = torch.tensor([ids(r, SEQ, 3, vocab) for r in range(BATCH)])
    with torch.no_grad(), autocast:
        model(input_ids=rows)
        started = time.perf_counter()
        for _ in range(args.steps):
            model(input_ids=rows)
        forward_tps = BATCH * SEQ * args.steps / (time.perf_counter() - started)
        prompts = torch.tensor([ids(r, 128, 4, vocab) for r in range(BATCH)])
        started = time.perf_counter()
        out = model.generate(
            input_ids=prompts, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0
        )
        generate_tps = (out.shape[1] - prompts.shape[1]) * BATCH / (time.perf_counter() - started)

    print(
        json.dumps(
            {
                "engine": f"pytorch {torch.__version__} + peft",
                "quantization": args.dtype,
                "threads": args.threads,
                "train_tokens_per_second": train_tps,
                "forward_tokens_per_second": forward_tps,
                "generate_new_tokens_per_second": generate_tps,
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
