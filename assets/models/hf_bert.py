"""A Hugging Face BertForSequenceClassification built from a small config (no download): ``input_ids``,
``attention_mask`` and ``token_type_ids`` (int64, [B, 128]), a ModelOutput with ``logits``.
trt-tui run --model assets/models/hf_bert.py:build            (needs `pip install transformers`)"""

import torch
from transformers import BertConfig, BertForSequenceClassification

SEQ = 128
CONFIG = dict(vocab_size=2000, hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
              max_position_embeddings=512, num_labels=3)


def build():
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(**CONFIG)).eval()


def example_inputs(batch_size: int):
    ids = torch.randint(0, CONFIG["vocab_size"], (batch_size, SEQ))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
