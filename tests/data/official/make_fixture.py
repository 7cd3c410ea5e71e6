"""Regenerate the TensorFlow-written checkpoint fixture of tests/test_official.py (needs TensorFlow).

    python tests/data/official/make_fixture.py      # run with a Python that has tensorflow

writes, beside this file:

- ``tiny.ckpt-7.index`` and ``tiny.ckpt-7.data-0000{0,1}-of-00002``: a checkpoint saved
  by ``tf.compat.v1.train.Saver(sharded=True)`` from two CPU devices, so it has two data
  shards like the authors' ``places2.ckpt-6666``.  It holds a few of the official
  variables with their real names and shapes (SINet's ``conv16_1`` and ``conv18_1``,
  GPNet's ``conv17_1``, the discriminator's ``d_conv1_w`` / ``d_conv1_bias`` /
  ``d_conv1u``), the Adam slots and beta powers an ``AdamOptimizer`` adds, and one
  tensor of each other dtype the reader decodes (plus a string and an empty tensor).
  The full model (4.7 M + 5.9 M float32) would be 43 MB, too big for git: the mapping of
  the whole model is proven by the TensorFlow test instead.
- ``expected.npz`` / ``expected.json``: every tensor as TensorFlow's own reader
  (``tf.train.load_checkpoint``) returns it, with its dtype and shape, which the test
  compares with :class:`rwgan.tfcheckpoint.TFCheckpoint`.

Values are drawn from a fixed seed; regenerating gives the same values (the bytes of the
index may differ between TensorFlow versions).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = Path(__file__).resolve().parent
PREFIX = "tiny.ckpt-7"
v1 = tf.compat.v1


def main() -> None:
    rng = np.random.default_rng(20220101)
    v1.disable_eager_execution()
    graph = tf.Graph()
    with graph.as_default():
        floats = {}
        with tf.device("/cpu:0"):
            for name, shape in [("inpaint_net/conv16_1/kernel", [3, 3, 128, 32]), ("inpaint_net/conv16_1/bias", [32]),
                                ("inpaint_net/conv18_1/kernel", [3, 3, 16, 3]), ("inpaint_net/conv18_1/bias", [3])]:
                floats[name] = v1.get_variable(name, shape, tf.float32)
        with tf.device("/cpu:1"):
            for name, shape in [("inpaint_net_1/conv17_1/kernel", [3, 3, 16, 3]), ("inpaint_net_1/conv17_1/bias", [3]),
                                ("discriminator/d_conv1_w", [5, 5, 4, 64]), ("discriminator/d_conv1_bias", [64])]:
                floats[name] = v1.get_variable(name, shape, tf.float32)
            floats["discriminator/d_conv1u"] = v1.get_variable("discriminator/d_conv1u", [1, 64], tf.float32,
                                                               trainable=False)
            others = {
                "dtypes/float64": v1.get_variable("dtypes/float64", [2, 3], tf.float64),
                "dtypes/float16": v1.get_variable("dtypes/float16", [3, 2], tf.float16),
                "dtypes/bfloat16": v1.get_variable("dtypes/bfloat16", [5], tf.bfloat16),
                "dtypes/int32": v1.get_variable("dtypes/int32", [4], tf.int32),
                "dtypes/int64_scalar": v1.get_variable("dtypes/int64_scalar", [], tf.int64),
                "dtypes/uint8": v1.get_variable("dtypes/uint8", [7], tf.uint8),
                "dtypes/int8": v1.get_variable("dtypes/int8", [2, 2], tf.int8),
                "dtypes/int16": v1.get_variable("dtypes/int16", [3], tf.int16),
                "dtypes/bool": v1.get_variable("dtypes/bool", [2, 2], tf.bool),
                "dtypes/empty": v1.get_variable("dtypes/empty", [0, 3], tf.float32),
                "dtypes/string": v1.get_variable("dtypes/string", [], tf.string),
            }
        loss = tf.reduce_sum(floats["inpaint_net/conv18_1/kernel"] ** 2) + tf.reduce_sum(
            floats["inpaint_net/conv18_1/bias"])
        with tf.device("/cpu:0"):
            train = v1.train.AdamOptimizer(1e-4, beta1=0.5, beta2=0.9).minimize(
                loss, var_list=[floats["inpaint_net/conv18_1/kernel"], floats["inpaint_net/conv18_1/bias"]])
        saver = v1.train.Saver(sharded=True)
        config = v1.ConfigProto(device_count={"CPU": 2})
        with v1.Session(graph=graph, config=config) as session:
            session.run(v1.global_variables_initializer())
            for name, variable in floats.items():
                variable.load(rng.standard_normal(variable.shape.as_list()).astype(np.float32), session)
            values = {
                "dtypes/float64": rng.standard_normal((2, 3)),
                "dtypes/float16": rng.standard_normal((3, 2)).astype(np.float16),
                "dtypes/bfloat16": np.array([1.0, -2.5, 3.140625, 0.0, -0.0078125], np.float32),
                "dtypes/int32": rng.integers(-2**31, 2**31, 4).astype(np.int32),
                "dtypes/int64_scalar": np.int64(-(2**40) - 7),
                "dtypes/uint8": rng.integers(0, 256, 7).astype(np.uint8),
                "dtypes/int8": rng.integers(-128, 128, (2, 2)).astype(np.int8),
                "dtypes/int16": rng.integers(-2**15, 2**15, 3).astype(np.int16),
                "dtypes/bool": np.array([[True, False], [False, True]]),
                "dtypes/empty": np.zeros((0, 3), np.float32),
                "dtypes/string": b"not a number",
            }
            for name, value in values.items():
                if name == "dtypes/bfloat16":
                    session.run(others[name].assign(tf.cast(tf.constant(value), tf.bfloat16)))
                elif name != "dtypes/empty":
                    others[name].load(value, session)
            session.run(train)  # fills the Adam slots and beta powers
            for path in HERE.glob(PREFIX + ".*"):
                path.unlink()
            saver.save(session, str(HERE / PREFIX), write_meta_graph=False, write_state=False)

    reader = tf.train.load_checkpoint(str(HERE / PREFIX))
    dtypes = reader.get_variable_to_dtype_map()
    shapes = reader.get_variable_to_shape_map()
    arrays, expected = {}, {}
    for index, name in enumerate(sorted(shapes)):
        record = {"dtype": dtypes[name].name, "shape": list(shapes[name])}
        if dtypes[name] != tf.string:
            value = reader.get_tensor(name)
            if dtypes[name] == tf.bfloat16:
                value = np.asarray(value).astype(np.float32)
            record["key"] = f"t{index}"
            arrays[record["key"]] = np.asarray(value)
        expected[name] = record
    np.savez(HERE / "expected.npz", **arrays)
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    files = sorted(p.name for p in HERE.glob(PREFIX + ".*"))
    print(f"wrote {', '.join(files)}, expected.npz, expected.json ({len(expected)} tensors)")


if __name__ == "__main__":
    main()
