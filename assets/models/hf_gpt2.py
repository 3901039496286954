"""A GPT-2-style causal LM from a small config (no download): ``input_ids`` and ``attention_mask`` (int64,
[B, 64]) -> per-token ``logits`` [B, 64, vocab] (use_cache off: no past key/values among the outputs).
trt-tui run --model assets/models/hf_gpt2.py:build            (needs `pip install transformers`)"""

import torch
from transformers import GPT2Config, GPT2LMHeadModel

SEQ = 64
CONFIG = dict(vocab_size=1000, n_positions=256, n_embd=128, n_layer=2, n_head=4, use_cache=False)


def build():
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(**CONFIG)).eval()


def example_inputs(batch_size: int):
    ids = torch.randint(0, CONFIG["vocab_size"], (batch_size, SEQ))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
