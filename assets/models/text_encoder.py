"""A text encoder with a padding mask: token ids (int64) and a bool mask through nn.TransformerEncoder,
mean-pooled to class logits. Its ``example_inputs`` returns a dict, so the inputs are passed by name.
trt-tui run --model assets/models/text_encoder.py:build"""

import torch
from torch import nn

VOCAB, SEQ = 500, 32


class TextEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 64)
        layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(64, 4)

    def forward(self, tokens: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(tokens), src_key_padding_mask=~padding_mask)  # mask: True = a real token
        keep = padding_mask.unsqueeze(-1).to(h.dtype)
        return self.head((h * keep).sum(1) / keep.sum(1).clamp_min(1.0))


def build() -> nn.Module:
    torch.manual_seed(0)
    return TextEncoder().eval()


def example_inputs(batch_size: int):
    return {"tokens": torch.randint(0, VOCAB, (batch_size, SEQ)),
            "padding_mask": torch.ones(batch_size, SEQ, dtype=torch.bool)}
