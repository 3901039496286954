"""core/inputs.py and core/onnx_inputs.py: specs, generators, the user's overrides and their one-line
problems, ONNX graph inputs with embedding-table bounds. No torch."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from trt_tui.core import inputs as inp
from trt_tui.core.onnx_inputs import embedding_rows, read_inputs


def bert_like_onnx(vocab=300, types=2, fixed_batch=None):
    """input_ids/token_type_ids int64 [batch, seq] into two embedding Gathers (one through a Cast), and a
    float mask, like an exported BERT's embeddings."""
    b = fixed_batch or "batch"
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, [b, "seq"])
    tt = helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, [b, "seq"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [b, "seq"])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [b, "seq", 8])
    word = numpy_helper.from_array(np.zeros((vocab, 8), np.float32), "word")
    typ = numpy_helper.from_array(np.zeros((types, 8), np.float32), "type")
    nodes = [
        helper.make_node("Gather", ["word", "input_ids"], ["we"]),
        helper.make_node("Cast", ["token_type_ids"], ["tt32"], to=TensorProto.INT32),
        helper.make_node("Gather", ["type", "tt32"], ["te"]),
        helper.make_node("Add", ["we", "te"], ["e"]),
        helper.make_node("Cast", ["attention_mask"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mf", "axes"], ["m3"]),
        helper.make_node("Mul", ["e", "m3"], ["logits"]),
    ]
    axes = numpy_helper.from_array(np.array([-1], np.int64), "axes")
    graph = helper.make_graph(nodes, "g", [ids, tt, mask], [out], [word, typ, axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_onnx_inputs_read_with_embedding_bounds_and_named_dims():
    found, batch = read_inputs(bert_like_onnx(vocab=300, types=2))
    assert batch is None and found.names == ["input_ids", "token_type_ids", "attention_mask"]
    ids, tt, mask = found.specs
    assert ids.dtype == "int64" and ids.dims == ("seq",) and ids.shape == (0,)  # a size is still needed
    assert (ids.gen, ids.low, ids.high) == ("randint", 0, 299) and "300 rows" in ids.note
    assert (tt.gen, tt.high) == ("randint", 1)  # reached through a Cast: the 2-row type table
    assert mask.gen == "ones"
    assert embedding_rows(bert_like_onnx(vocab=50)) == {"input_ids": 50, "token_type_ids": 2}
    with pytest.raises(inp.InputError, match=r"'input_ids' \[\?,seq\] has dynamic dims besides the batch"):
        inp.check_sizes(found)


def test_sizes_for_named_dims_and_feeds():
    found, _ = read_inputs(bert_like_onnx())
    sized = inp.apply(found, inp.Overrides(sizes={"seq": 16}))
    inp.check_sizes(sized)
    feeds = sized.feeds(4, seed=3)
    assert {k: v.shape for k, v in feeds.items()} == {k: (4, 16) for k in sized.names}
    assert feeds["input_ids"].dtype == np.int64 and feeds["input_ids"].max() <= 299 and feeds["input_ids"].min() >= 0
    assert set(np.unique(feeds["token_type_ids"])) <= {0, 1} and (feeds["attention_mask"] == 1).all()
    again = sized.feeds(4, seed=3)
    assert all(np.array_equal(feeds[k], again[k]) for k in feeds)  # reproducible
    at32 = sized.feeds(2, seed=3, sizes={"seq": 32})  # a sweep point: every input with the dim follows
    assert {v.shape for v in at32.values()} == {(2, 32)}
    assert sized.shapes(2, {"seq": 8}) == {n: (2, 8) for n in sized.names}


def test_overrides_one_line_each_naming_the_input():
    found, _ = read_inputs(bert_like_onnx())
    with pytest.raises(inp.InputError, match=r"'pixels' is not an input of this model \(its inputs: input_ids, "):
        inp.apply(found, inp.Overrides(shapes={"pixels": (3,)}))
    with pytest.raises(inp.InputError, match=r"input 'input_ids': shape \[3, 4\] has 2 dims per sample, the model's has 1"):
        inp.apply(found, inp.Overrides(shapes={"input_ids": (3, 4)}))
    with pytest.raises(inp.InputError, match=r"input 'input_ids': range \[-1, 9e\+20\] is outside int64"):
        inp.apply(found, inp.Overrides(ranges={"input_ids": (-1, 3e10 ** 2)}))
    with pytest.raises(inp.InputError, match=r"input 'input_ids' is int64: its range needs whole numbers"):
        inp.apply(found, inp.Overrides(ranges={"input_ids": (0, 2.5)}))
    with pytest.raises(inp.InputError, match=r"input 'input_ids' has axes 1\.\.1 after the batch, not 3"):
        inp.apply(found, inp.Overrides(dynamic=(("input_ids", 3, "x"),)))
    ranged = inp.apply(found, inp.Overrides(shapes={"input_ids": (8,)}, ranges={"input_ids": (5, 9)}))
    ids = ranged.get("input_ids")
    assert ids.shape == (8,) and (ids.gen, ids.low, ids.high, ids.note) == ("randint", 5, 9, "--val-range")


def test_float_range_and_dtype_override():
    one = inp.single((3, 4, 4))
    assert one.describe() == ["input float32 [B,3,4,4] normal"] and one.single_float
    u = inp.apply(one, inp.Overrides(ranges={"input": (0.0, 1.0)}))
    x = u.feeds(16, 0)["input"]
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    ints = inp.apply(inp.single((5,)), inp.Overrides(dtypes={"input": "int32"}))
    assert ints.specs[0].dtype == "int32" and ints.feeds(2, 0)["input"].dtype == np.int32


def test_text_forms_polygraphy_style():
    assert inp.parse_input_shapes("input_ids:[128] attention_mask:[128]") == {"input_ids": (128,), "attention_mask": (128,)}
    assert inp.parse_input_shapes("image:[3,224,224],meta:[8]") == {"image": (3, 224, 224), "meta": (8,)}
    assert inp.parse_val_ranges("input_ids:[0,999]") == {"input_ids": (0.0, 999.0)}
    assert inp.parse_dtypes("input_ids:int64,mask:bool") == {"input_ids": "int64", "mask": "bool"}
    assert inp.parse_dynamic("input_ids:1=seq,attention_mask:1") == (("input_ids", 1, "seq"), ("attention_mask", 1, "dim1"))
    assert inp.parse_sweep("seq=64,128,256") == {"seq": (64, 128, 256)}
    assert inp.parse_profile("seq=16:128:512") == {"seq": (16, 128, 512)}
    for parse, text in ((inp.parse_input_shapes, "input_ids=128"), (inp.parse_input_shapes, "a:[0]"),
                        (inp.parse_dtypes, "a:int9"), (inp.parse_sweep, "seq=64,64"), (inp.parse_profile, "seq=9:4:5"),
                        (inp.parse_dynamic, "ids-1"), (inp.parse_val_ranges, "a:[1]")):
        with pytest.raises(ValueError):
            parse(text)


def test_profile_ranges_from_the_sweep_or_the_user():
    found, _ = read_inputs(bert_like_onnx())
    sized = inp.apply(found, inp.Overrides(sizes={"seq": 64}))
    assert inp.profile_ranges(sized, {"seq": (64, 128, 32)}, {}) == {"seq": (32, 64, 128)}
    assert inp.profile_ranges(sized, {}, {"seq": (16, 64, 512)}) == {"seq": (16, 64, 512)}
    assert inp.profile_ranges(sized, {}, {}) == {"seq": (64, 64, 64)}


def test_round_trip_through_json():
    found, _ = read_inputs(bert_like_onnx())
    sized = inp.apply(found, inp.Overrides(sizes={"seq": 16}))
    assert inp.ModelInputs.from_dict(sized.to_dict()) == sized


def test_one_dim_name_has_one_size_across_inputs():
    """An ONNX file's inputs sharing dim_param 'sequence_length': the size one shape gives it sizes the
    other input too; two sizes for one name are refused naming both inputs."""
    seq = ("sequence_length",)
    found = inp.ModelInputs((inp.InputSpec("input_ids", (0,), "int64", dims=seq),
                             inp.InputSpec("attention_mask", (0,), "int64", dims=seq)), origin="onnx")
    got = inp.with_user(found, None, inp.Overrides(shapes={"input_ids": (128,)}))
    assert [s.shape for s in got] == [(128,), (128,)]
    with pytest.raises(inp.InputError, match=r"'attention_mask': dim sequence_length is 64 here but 128 in 'input_ids'"):
        inp.with_user(found, None, inp.Overrides(shapes={"input_ids": (128,), "attention_mask": (64,)}))
    with pytest.raises(inp.InputError, match=r"e\.g\. --input-shapes input_ids:\[128\]$"):  # no --input-shape hint: 2 inputs
        inp.with_user(found, None, None)
