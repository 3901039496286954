from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from trt_tui.core.errors import ModelError
from trt_tui.core.models import LoadedModel, list_models, load_model, sample_input


@pytest.mark.parametrize("name", ["mlp", "cnn", "resnet18", "resnet50"])
def test_builtin_forward_shape(name, model_cache):
    m = load_model(name, cache_dir=model_cache)
    assert isinstance(m, LoadedModel) and m.module is not None and not m.module.training
    with torch.no_grad():
        out = m.module(torch.zeros(1, *m.input_shape))
    assert tuple(out.shape) == (1, m.spec.num_classes)


def test_list_models_names():
    names = [s.name for s in list_models()]
    assert names == ["mlp", "cnn", "digits-cnn", "resnet18", "resnet50"]
    assert all(s.description and "\n" not in s.description for s in list_models())


def test_seeded_weights_are_deterministic(model_cache):
    a, b = load_model("cnn"), load_model("cnn")
    x = torch.from_numpy(sample_input(a.input_shape, 2, seed=1))
    with torch.no_grad():
        assert torch.equal(a.module(x), b.module(x))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in a.module.modules())


def test_sample_input():
    x = sample_input((1, 8, 8), 4, seed=3)
    assert x.shape == (4, 1, 8, 8) and x.dtype == np.float32
    assert np.array_equal(x, sample_input((1, 8, 8), 4, seed=3))
    assert not np.array_equal(x, sample_input((1, 8, 8), 4, seed=4))


def test_digits_cnn_accuracy_and_data(digits):
    d = digits.data
    assert d.x_train.dtype == np.float32 and d.x_train.shape[1:] == (1, 8, 8)
    assert d.y_test.dtype == np.int64 and len(d.x_test) == len(d.y_test) == 450
    assert -1.0 <= d.x_train.min() and d.x_train.max() <= 1.0  # normalised x/16*2-1
    with torch.no_grad():
        acc = (digits.module(torch.from_numpy(d.x_test)).argmax(-1).numpy() == d.y_test).mean()
    assert acc > 0.9
    assert digits.info["test_accuracy"] == pytest.approx(acc)


def test_digits_cnn_cache_reused(digits, model_cache, monkeypatch):
    import trt_tui.core.models as models

    def no_training(*a, **k):
        raise AssertionError("retrained although the cache holds this recipe")

    monkeypatch.setattr(models, "_train_digits", no_training)
    again = load_model("digits-cnn", cache_dir=model_cache)
    assert again.info["cache"] == "hit"
    for a, b in zip(digits.module.state_dict().values(), again.module.state_dict().values()):
        assert torch.equal(a, b)


def test_digits_cnn_changed_recipe_retrains(tmp_path, monkeypatch):
    import trt_tui.core.models as models

    calls = []
    monkeypatch.setattr(models, "_train_digits", lambda data: calls.append(1) or models._digits_arch().eval())
    monkeypatch.setenv("TRT_TUI_CACHE", str(tmp_path))
    assert load_model("digits-cnn").info["cache"] == "trained"
    assert load_model("digits-cnn").info["cache"] == "hit"
    monkeypatch.setitem(models.DIGITS_RECIPE, "epochs", 1)
    assert load_model("digits-cnn").info["cache"] == "trained"
    assert len(calls) == 2 and len(list(tmp_path.glob("digits-cnn-*.pt"))) == 2


# -- user models ---------------------------------------------------------------------------------
GOOD = """
import torch
def make():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5))
"""


def write(tmp_path, body: str, name="user_model.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def test_user_model_ok(tmp_path):
    p = write(tmp_path, GOOD)
    m = load_model(f"{p}:make", input_shape=(3, 2, 2))
    assert m.source == "file" and m.input_shape == (3, 2, 2) and m.spec.num_classes == 5


@pytest.mark.parametrize(
    "body, factory, shape, pattern",
    [
        (None, "make", (3, 2, 2), r"model file not found"),
        ("import torch\ndef make(:\n    pass\n", "make", (3, 2, 2), r"syntax error in .* line 2"),
        ("import torch\nimport not_a_real_module_xyz\n", "make", (3, 2, 2), r"import failed .*not_a_real_module_xyz"),
        (GOOD, "build", (3, 2, 2), r"has no function 'build' \(functions there: make\)"),
        ("def make():\n    raise RuntimeError('boom in factory')\n", "make", (3, 2, 2), r"make\(\) in .* raised RuntimeError: boom in factory"),
        ("def make():\n    return 42\n", "make", (3, 2, 2), r"returned int, not a torch.nn.Module"),
        (GOOD, "make", (3, 4, 4), r"forward with input shape \(1, 3, 4, 4\) failed: RuntimeError: .*shapes cannot be multiplied"),
        (GOOD, "make", None, r"need an input shape"),
    ],
    ids=["missing", "syntax", "import", "no-function", "factory-raises", "not-module", "wrong-shape", "no-shape"],
)
def test_user_model_failures(tmp_path, body, factory, shape, pattern):
    p = tmp_path / "user_model.py" if body is None else write(tmp_path, body)
    with pytest.raises(ModelError, match=pattern) as info:
        load_model(f"{p}:{factory}", input_shape=shape)
    assert "\n" not in info.value.message
    if pattern.startswith(("syntax", "import", "make", "forward")):
        assert "Traceback" in info.value.detail


def test_unknown_model_lists_builtins():
    with pytest.raises(ModelError, match=r"unknown model 'nope'; built-ins: mlp, cnn, digits-cnn, resnet18, resnet50"):
        load_model("nope")


def test_builtin_wrong_input_shape():
    with pytest.raises(ModelError, match=r"input shape \(1, 3, 3, 3\)"):
        load_model("mlp", input_shape=(3, 3, 3))


# -- .onnx inputs --------------------------------------------------------------------------------
def _export(tmp_path, batch_dim="batch", shape=(3, 4, 4)):
    import onnx
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch_dim, *shape])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch_dim, *shape])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [inp], [out])
    p = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), p)
    return p


def test_onnx_input_dynamic_batch(tmp_path):
    m = load_model(str(_export(tmp_path)))
    assert m.module is None and m.onnx_path and m.input_shape == (3, 4, 4) and m.onnx_batch is None
    assert m.source == "onnx"


def test_onnx_input_fixed_batch_and_given_shape(tmp_path):
    p = _export(tmp_path, batch_dim=2, shape=(3, "h", 4))
    with pytest.raises(ModelError, match="dynamic dims besides the batch"):
        load_model(str(p))
    m = load_model(str(p), input_shape=(3, 7, 4))
    assert m.input_shape == (3, 7, 4) and m.onnx_batch == 2
    with pytest.raises(ModelError, match="does not fit the graph input"):
        load_model(str(p), input_shape=(3, 7, 5))


@pytest.mark.parametrize("kind", ["truncated", "garbage", "missing"])
def test_onnx_bad_file(tmp_path, kind):
    p = _export(tmp_path)
    if kind == "truncated":
        p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    elif kind == "garbage":
        p.write_text("this is not onnx at all\n" * 10)
    else:
        p.unlink()
    with pytest.raises(ModelError, match="not found" if kind == "missing" else "is not a valid ONNX model"):
        load_model(str(p))


def test_user_model_with_dataclass_and_neighbour_import(tmp_path):
    (tmp_path / "helper_layers.py").write_text("import torch\nWIDTH = 6\n")
    p = write(tmp_path, """
        from __future__ import annotations
        import dataclasses
        import torch
        from helper_layers import WIDTH

        @dataclasses.dataclass
        class Cfg:
            width: int = WIDTH

        def make():
            return torch.nn.Linear(4, Cfg().width)
        """)
    assert load_model(f"{p}:make", input_shape=(4,)).spec.num_classes == 6
