"""Models with several inputs, integer token ids and masks, Hugging Face models, TorchScript and
torch.export files: each loaded with its inputs read from the artifact, exported, run by onnxruntime
FP32 and INT8 (ModelOpt Q/DQ, calibrated by name), and explained per layer. All on the CPU."""

from pathlib import Path

import numpy as np
import pytest
import torch

from trt_tui.core import bench, export, layers, models, onnx_variants
from trt_tui.core.calib_batches import BatchSource
from trt_tui.core.errors import ModelError
from trt_tui.core.inputs import Overrides

MODELS = Path(__file__).resolve().parents[2] / "assets" / "models"
FAMILIES = {
    "image+meta": ("image_meta.py:build", ["image", "meta"], ["float32", "float32"]),
    "text-encoder": ("text_encoder.py:build", ["tokens", "padding_mask"], ["int64", "bool"]),
    "hf-bert": ("hf_bert.py:build", ["input_ids", "attention_mask", "token_type_ids"], ["int64"] * 3),
    "hf-gpt2": ("hf_gpt2.py:build", ["input_ids", "attention_mask"], ["int64"] * 2),
}
SMALL_SEQ = {"hf-bert": 32, "hf-gpt2": 32}  # shorter sequences than the example's: a quicker test


def load(family):
    spec, names, dtypes = FAMILIES[family]
    if family.startswith("hf-"):
        pytest.importorskip("transformers")
    ov = Overrides(shapes={n: (SMALL_SEQ[family],) for n in names}) if family in SMALL_SEQ else None
    m = models.load_model(str(MODELS / spec), overrides=ov)
    assert m.inputs.names == names and [s.dtype for s in m.inputs] == dtypes
    return m


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_through_export_ort_int8_and_layers(family, tmp_path):
    m = load(family)
    feeds = m.inputs.feeds(8, seed=1)
    ids = next((s for s in m.inputs if s.name in ("input_ids", "tokens")), None)
    if ids is not None:  # token ids drawn below the embedding table (read by a hooked forward)
        assert ids.gen == "randint" and "embedding table" in ids.note
        assert feeds[ids.name].max() <= ids.high < 2000
    onnx_path = tmp_path / "model.onnx"
    rec = export.export_onnx(m.module, m.inputs, 8, onnx_path, exporter="dynamo")
    assert rec["input_names"] == m.inputs.names and rec["output_names"][0] in ("output", "logits")
    parity = export.ort_parity(onnx_path, m.module, feeds, prefer_cuda=False, keyword=m.inputs.keyword)
    assert parity["passed"], parity
    ref = bench.run_batches(bench.TorchRunner(m.module, m.inputs, device="cpu"), feeds, 8)
    qdq = tmp_path / "model_int8_qdq.onnx"
    source = BatchSource.random(m.inputs, batch_size=8, max_samples=32, seed=0)
    info = onnx_variants.quantize_qdq(onnx_path, qdq, source, method="minmax", device="cpu")
    assert info["tool"] == "modelopt" and info["quantize_nodes"] > 0 and info["nodes_quantized"] > 0
    int8 = bench.run_batches(bench.OrtRunner(export.ort_session(qdq, prefer_cuda=False)), feeds, 8)
    a, b = ref[0].ravel(), int8[0].ravel()
    assert np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)) > 0.98  # INT8 close to FP32 on the logits
    view = layers.explain(onnx_path, {"int8": qdq}, feeds, max_samples=4)
    assert view["variants"]["int8"]["status"] == "ok" and view["variants"]["int8"]["tensors_compared"] > 0


def test_integer_inputs_stay_integer_in_half_rows():
    m = load("text-encoder")
    runner = bench.TorchRunner(m.module, m.inputs, device="cpu", half=True)
    runner.set_input(m.inputs.feeds(2, seed=0))
    assert runner.x_dev["tokens"].dtype == torch.int64 and runner.x_dev["padding_mask"].dtype == torch.bool
    runner.compute()
    assert runner.outputs()[0].shape == (2, 4)


def test_causal_lm_dynamic_seq_export_runs_at_other_lengths(tmp_path):
    """One ONNX with a dynamic sequence dim runs at 16 and 48 tokens (what a --sweep reuses)."""
    m = models.load_model(str(MODELS / "hf_gpt2.py:build"),
                          overrides=Overrides(dynamic=(("input_ids", 1, "seq"), ("attention_mask", 1, "seq")),
                                              sizes={"seq": 16}))
    path = tmp_path / "lm.onnx"
    export.export_onnx(m.module, m.inputs, 2, path, dim_ranges={"seq": (16, 16, 64)})
    sess = export.ort_session(path, prefer_cuda=False)
    for seq in (16, 48):
        out = sess.run(None, m.inputs.feeds(2, seed=0, sizes={"seq": seq}))
        assert out[0].shape == (2, seq, 1000)


def test_torchscript_and_torch_export_files(tmp_path):
    net = models.load_model(str(MODELS / "image_meta.py:build")).module
    example = (torch.randn(2, 3, 32, 32), torch.rand(2, 8))
    ts = tmp_path / "net.pt"
    torch.jit.trace(net, example).save(str(ts))
    with pytest.raises(ModelError, match="need an input shape"):
        models.load_model(str(ts))
    m = models.load_model(str(ts), overrides=Overrides(shapes={"image": (3, 32, 32), "meta": (8,)}))
    assert m.source == "torchscript" and m.inputs.names == ["image", "meta"]
    runner = bench.TorchRunner(m.module, m.inputs, device="cpu")  # a ScriptModule runs in the PyTorch rows
    runner.set_input(m.inputs.feeds(2, 0))
    runner.compute()
    rec = export.export_onnx(m.module, m.inputs, 2, tmp_path / "ts.onnx")
    assert rec["exporter"] == "torchscript"  # the dynamo exporter cannot trace a ScriptModule

    pt2 = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(net, example), str(pt2))
    p = models.load_model(str(pt2))
    assert p.source == "exported" and [s.shape for s in p.inputs] == [(3, 32, 32), (8,)] and p.onnx_batch == 2
    rec = export.export_onnx(p.program, p.inputs, 2, tmp_path / "ep.onnx")
    got = export.ort_session(tmp_path / "ep.onnx", prefer_cuda=False).run(None, p.inputs.feeds(2, 0))
    assert got[0].shape == (2, 5)
    # the program's module refuses eval(): the parity check and the PyTorch rows take it as it is
    assert export.ort_parity(tmp_path / "ep.onnx", p.module, p.inputs.feeds(2, 0), prefer_cuda=False)["passed"]
    half = bench.TorchRunner(p.module, p.inputs, device="cpu", half=True)
    half.set_input(p.inputs.feeds(2, 0))
    half.compute()


BAD = {
    "returns-none": ("import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        return None\n"
                     "def make():\n    return M()\n", None, "returned None"),
    "no-float": ("import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        return x.argmax(-1)\n"
                 "def make():\n    return M()\n", None, r"returned no float tensor \(output: int64\)"),
    "example-raises": ("import torch\ndef make():\n    return torch.nn.Linear(4, 2)\n"
                       "def example_inputs(batch_size):\n    raise ValueError('no data here')\n", None,
                       r"example_inputs\(2\) in .* raised ValueError: no data here"),
    "example-not-tensor": ("import torch\ndef make():\n    return torch.nn.Linear(4, 2)\n"
                           "def example_inputs(batch_size):\n    return {'x': [1, 2]}\n", None,
                           r"input 'x' is list, not a tensor"),
    "example-no-batch": ("import torch\ndef make():\n    return torch.nn.Linear(4, 2)\n"
                         "def example_inputs(batch_size):\n    return (torch.zeros(4),)\n", None,
                         r"input 'input' has shape \[4\]; with batch_size=2 its first dim must be 2"),
    "unknown-name": ("import torch\ndef make():\n    return torch.nn.Linear(4, 2)\n", {"pixels": (4,)},
                     r"'pixels' is not an input of .* \(forward takes: input\)"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_models_refused_at_load_with_one_line(case, tmp_path):
    body, shapes, pattern = BAD[case]
    p = tmp_path / "m.py"
    p.write_text(body)
    shape = None if shapes or "example" in case else (4,)
    with pytest.raises(ModelError, match=pattern) as info:
        models.load_model(f"{p}:make", input_shape=shape, overrides=Overrides(shapes=shapes or {}))
    assert "\n" not in info.value.message


TOKENS_NO_EXAMPLE = """import torch
class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(50, 8)
        self.head = torch.nn.Linear(8, 3)
    def forward(self, tokens, scale):
        return self.head(self.emb(tokens).mean(1) * scale)
def make():
    return M()
"""


def test_a_float_input_feeding_an_embedding_becomes_token_ids(tmp_path):
    """No example_inputs, only shapes by name: the input the forward hands to nn.Embedding is ids (int64,
    below the table's 50 rows, or in the user's range); the other stays float; a dtype the user set stays."""
    p = tmp_path / "tok.py"
    p.write_text(TOKENS_NO_EXAMPLE)
    shapes = {"tokens": (12,), "scale": (1,)}
    m = models.load_model(f"{p}:make", overrides=Overrides(shapes=shapes))
    tokens, scale = m.inputs.specs
    assert (tokens.dtype, tokens.gen, tokens.low, tokens.high) == ("int64", "randint", 0, 49)
    assert "feeds an nn.Embedding" in tokens.note and scale.dtype == "float32"
    ranged = models.load_model(f"{p}:make", overrides=Overrides(shapes=shapes, ranges={"tokens": (3, 9)}))
    assert (ranged.inputs.specs[0].dtype, ranged.inputs.specs[0].low, ranged.inputs.specs[0].high) == ("int64", 3, 9)
    with pytest.raises(ModelError, match=r"forward with tokens float32 \[1,12\], scale float32 \[1,1\] failed"):
        models.load_model(f"{p}:make", overrides=Overrides(shapes=shapes, dtypes={"tokens": "float32"}))


def test_a_torchscript_file_shows_its_token_ids_in_its_graph(tmp_path):
    """No hooks on a ScriptModule: the inlined graph's aten::embedding says which input is ids and the
    table's rows, for a float-shaped input (retyped int64) and one the user typed int64 alike."""
    p = tmp_path / "tok.py"
    p.write_text(TOKENS_NO_EXAMPLE)
    shapes = {"tokens": (12,), "scale": (1,)}
    net = models.load_model(f"{p}:make", overrides=Overrides(shapes=shapes)).module
    ts = tmp_path / "tok.pt"
    torch.jit.trace(net, (torch.randint(0, 50, (2, 12)), torch.rand(2, 1))).save(str(ts))
    for dtypes in ({}, {"tokens": "int64"}):
        m = models.load_model(str(ts), overrides=Overrides(shapes=shapes, dtypes=dtypes))
        tokens, scale = m.inputs.specs
        assert (tokens.dtype, tokens.low, tokens.high, scale.dtype) == ("int64", 0, 49, "float32"), dtypes


def test_a_float_mask_is_ones_too():
    from trt_tui.core.inputs import InputSpec, default_generator

    assert default_generator(InputSpec("attention_mask", (8,), "float32")).gen == "ones"
    assert default_generator(InputSpec("pixels", (8,), "float32")).gen == "normal"


GPT2_DEFAULTS = """import torch
from transformers import GPT2Config, GPT2LMHeadModel
def build():
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=1, n_head=2)).eval()
def example_inputs(batch_size):
    return {"input_ids": torch.randint(0, 300, (batch_size, 16))}
"""


def test_a_causal_lm_with_its_default_kv_cache_exports(tmp_path):
    """GPT-2 as a user builds it (use_cache on by default): the KV cache output (a DynamicCache) stopped the
    ONNX export; one forward pass is measured instead, said once."""
    pytest.importorskip("transformers")
    p = tmp_path / "gpt2.py"
    p.write_text(GPT2_DEFAULTS)
    m = models.load_model(f"{p}:build")
    assert m.module.config.use_cache is False and "use_cache off" in m.info["notes"][0]
    rec = export.export_onnx(m.module, m.inputs, 2, tmp_path / "lm.onnx", exporter="dynamo")
    assert rec["output_names"] == ["logits"]


def test_example_inputs_keep_a_constant_and_make_a_float_mask_ones():
    """A float input named *mask* is a mask (ones, whatever padding the example has); a constant float
    input (a scale, a temperature) keeps its value instead of becoming noise around it."""
    import torch

    from trt_tui.core.user_models import read_example

    class Net(torch.nn.Module):
        def forward(self, x, pad_mask, scale):
            return x * pad_mask * scale

    mask = torch.ones(4, 6)
    mask[:, 4:] = 0
    specs = {s.name: s for s in read_example((torch.randn(4, 6), mask, torch.full((4, 1), 0.5)), Net(), "t", 4)}
    assert specs["pad_mask"].gen == "ones" and specs["pad_mask"].note == "a mask: no padding"
    assert specs["scale"].generator_text() == "constant 0.5"
    drawn = specs["scale"].draw(np.random.default_rng(0), 3)
    assert drawn.shape == (3, 1) and (drawn == 0.5).all()
    assert specs["x"].generator_text() != "constant 0"  # a varying input stays a distribution
