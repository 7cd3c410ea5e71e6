"""The official Region-wise GAN graph, rebuilt in ``tf.compat.v1`` for tests (needs TensorFlow).

A compact re-implementation of the authors' TF1 code (DIG-Beihang/Region-wise-Inpainting:
``inpaint_model.py`` RW_generator / SINet / GPNet / RW_discriminator, ``inpaint_ops.py``
standard_conv / standard_dconv / dis_conv / spectral_norm / LeakyRelu, ``region_conv.py``
region_conv / region_deconv), layer for layer and name for name, so that a checkpoint
saved from it has the official variables:

- ``inpaint_net/<layer>/kernel`` ``[kh, kw, in, out]`` and ``.../bias`` ``[out]`` (SINet),
  ``inpaint_net_1/...`` (GPNet), where ``<layer>`` is the code's layer name plus the
  ``_1`` that ``standard_conv`` / ``standard_dconv`` append (``conv1_1``,
  ``conv7_atrous_1``, ``com_13_fusion_1``, ``conv13_upsample_1``, ...) except
  ``com_14_fusion``, which ``region_conv`` creates with ``tf.layers.conv2d`` directly;
- ``discriminator/d_convK_w`` ``[5, 5, in, out]``, ``d_convK_bias`` ``[out]`` and the
  spectral-norm vector ``d_convKu`` ``[1, out]`` (non-trainable), K = 1..6.

Convolutions are ``tf.compat.v1.layers.conv2d`` (the code's ``tf.layers.conv2d``) where
this TensorFlow has it (TF < 2.16, or ``tf_keras`` installed with
``TF_USE_LEGACY_KERAS=1``); otherwise the same variables and ops written out
(``kernel``/``bias`` variables, a VALID ``conv2d`` with the dilation, ``bias_add``, ELU).
Used by ``tests/test_official.py``; not part of the rwgan package.
"""
from __future__ import annotations

import tensorflow as tf

v1 = tf.compat.v1
CNUM = 32


def _probe_tf_layers() -> bool:
    """Whether ``tf.compat.v1.layers.conv2d`` works here (Keras 3 removed it)."""
    try:
        with tf.Graph().as_default():
            v1.layers.conv2d(v1.placeholder(tf.float32, [1, 3, 3, 1]), 1, 1)
        return True
    except Exception:  # AttributeError / ImportError / ValueError, depending on the version
        return False


#: True: convolutions are the genuine ``tf.layers.conv2d``; False: written out.
TF_LAYERS = _probe_tf_layers()


def _layers_conv2d(x, filters, ksize, stride, rate, activation, name):
    if TF_LAYERS:
        return v1.layers.conv2d(x, filters, ksize, stride, dilation_rate=rate, activation=activation,
                                padding="VALID", name=name)
    with v1.variable_scope(name):
        kernel = v1.get_variable("kernel", [ksize, ksize, x.shape[-1], filters],
                                 initializer=v1.glorot_uniform_initializer())
        bias = v1.get_variable("bias", [filters], initializer=v1.zeros_initializer())
    y = tf.nn.conv2d(x, kernel, strides=[1, stride, stride, 1], padding="VALID", dilations=[1, rate, rate, 1])
    y = tf.nn.bias_add(y, bias)
    return activation(y) if activation is not None else y


def standard_conv(x, cnum, ksize=3, stride=1, rate=1, name="conv"):
    """Reflect pad rate * (ksize - 1) / 2, VALID conv, ELU; variables ``<name>_1``."""
    pad = rate * (ksize - 1) // 2
    x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], "REFLECT")
    return _layers_conv2d(x, cnum, ksize, stride, rate, tf.nn.elu, name + "_1")


def standard_dconv(x, cnum, name="deconv"):
    """Nearest x2 (align_corners=False), reflect pad 1, VALID 3x3 conv, ELU; ``<name>_1``."""
    _, height, width, _ = x.shape.as_list()
    x = v1.image.resize_nearest_neighbor(x, [height * 2, width * 2])
    x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "REFLECT")
    return _layers_conv2d(x, cnum, 3, 1, 1, tf.nn.elu, name + "_1")


def _region_split(x_complete, x_missing, mask):
    batch, height, width, _ = x_complete.shape.as_list()
    mask = v1.image.resize_nearest_neighbor(mask, size=[height, width], align_corners=True)
    mask = tf.reshape(mask, [batch, height, width, 1])
    return tf.concat([x_complete * mask, x_missing * (1 - mask)], axis=-1)


def region_conv(x_complete, x_missing, mask, name):
    """Region-wise conv (eq. 1): one 3x3 conv named ``<name>_fusion`` (no ``_1``), then ELU."""
    fused = tf.pad(_region_split(x_complete, x_missing, mask), [[0, 0], [1, 1], [1, 1], [0, 0]], "REFLECT")
    out = _layers_conv2d(fused, x_missing.shape[-1], 3, 1, 1, None, name + "_fusion")
    return tf.nn.elu(out)


def region_deconv(x_complete, x_missing, mask, name):
    """Region-wise split at the input resolution, then standard_dconv ``<name>_fusion_1``."""
    return standard_dconv(_region_split(x_complete, x_missing, mask), x_missing.shape[-1], name=name + "_fusion")


def _encoder(x):
    x1 = standard_conv(x, CNUM, 5, 1, name="conv1")
    x2 = standard_conv(x1, 2 * CNUM, 3, 2, name="conv2_downsample")
    x3 = standard_conv(x2, 2 * CNUM, 3, 1, name="conv3")
    x4 = standard_conv(x3, 4 * CNUM, 3, 2, name="conv4_downsample")
    x5 = standard_conv(x4, 4 * CNUM, 3, 1, name="conv5")
    x6 = standard_conv(x5, 4 * CNUM, 3, 1, name="conv6")
    x7 = standard_conv(x6, 4 * CNUM, 3, rate=2, name="conv7_atrous")
    x8 = standard_conv(x7, 4 * CNUM, 3, rate=4, name="conv8_atrous")
    x9 = standard_conv(x8, 4 * CNUM, 3, rate=8, name="conv9_atrous")
    x10 = standard_conv(x9, 4 * CNUM, 3, rate=16, name="conv10_atrous")
    x11 = standard_conv(tf.concat([x10, x6], axis=-1), 4 * CNUM, 3, 1, name="conv11")
    x12 = standard_conv(tf.concat([x11, x5], axis=-1), 4 * CNUM, 3, 1, name="conv12")
    return x1, x2, x3, x4, x12


def sinet(x, mask, name="inpaint_net"):
    """SINet: the encoder, region-wise decoder com_13 (up), com_14, com_15 (up), conv16-18."""
    with v1.variable_scope(name):
        _, x2, x3, x4, x12 = _encoder(tf.concat([x, mask], axis=3))
        x13 = region_deconv(tf.concat([x12, x4], axis=-1), x12, mask, name="com_13")
        x14 = region_conv(tf.concat([x13, x3], axis=-1), x13, mask, name="com_14")
        x15 = region_deconv(tf.concat([x14, x2], axis=-1), x14, mask, name="com_15")
        x16 = standard_conv(x15, CNUM, 3, 1, name="conv16")
        x17 = standard_conv(x16, CNUM // 2, 3, 1, name="conv17")
        x18 = standard_conv(x17, 3, 3, 1, name="conv18")
        return tf.clip_by_value(x18, -1.0, 1.0)


def gpnet(x, mask, name="inpaint_net_1"):
    """GPNet: the encoder, U-Net decoder conv13_upsample, conv14, conv15_upsample, conv16, conv17."""
    with v1.variable_scope(name):
        x1, x2, x3, x4, x12 = _encoder(tf.concat([x, mask], axis=3))
        x13 = standard_dconv(tf.concat([x12, x4], axis=-1), 2 * CNUM, name="conv13_upsample")
        x14 = standard_conv(tf.concat([x13, x3], axis=-1), 2 * CNUM, 3, 1, name="conv14")
        x15 = standard_dconv(tf.concat([x14, x2], axis=-1), CNUM, name="conv15_upsample")
        x16 = standard_conv(tf.concat([x15, x1], axis=-1), CNUM // 2, 3, 1, name="conv16")
        x17 = standard_conv(x16, 3, 3, 1, name="conv17")
        return tf.clip_by_value(x17, -1.0, 1.0)


def rw_generator(x, mask, gpnet_device=None):
    """(I_p1, I_p2) for the masked image ``x`` (NHWC, [-1, 1]) and ``mask`` (1 = known).

    ``gpnet_device`` places GPNet's variables on another device, so that a sharded saver
    writes two data shards (as the authors' places2.ckpt-6666 has)."""
    x1 = sinet(x, mask)
    combined = x * mask + x1 * (1 - mask)
    if gpnet_device is None:
        return x1, gpnet(combined, mask)
    with tf.device(gpnet_device):
        return x1, gpnet(combined, mask)


def spectral_norm(w, name):
    """One power iteration from the stored ``<name>u`` [1, out]; returns (w / sigma, u update)."""
    shape = w.shape.as_list()
    matrix = tf.reshape(w, [-1, shape[-1]])
    u = v1.get_variable(name + "u", [1, shape[-1]], initializer=v1.truncated_normal_initializer(), trainable=False)

    def l2_norm(v, eps=1e-12):
        return v / (tf.reduce_sum(v ** 2) ** 0.5 + eps)

    v_hat = l2_norm(tf.matmul(u, tf.transpose(matrix)))
    u_hat = l2_norm(tf.matmul(v_hat, matrix))
    sigma = tf.matmul(tf.matmul(v_hat, matrix), tf.transpose(u_hat))
    with tf.control_dependencies([u.assign(u_hat)]):
        return tf.reshape(matrix / sigma, shape)


def dis_conv(x, cnum, name, activation="leaky_relu", normalized=None):
    """5x5 stride-2 SAME conv with a spectrally normalised ``<name>_w``, ``<name>_bias``,
    then LeakyReLU 0.2 (as 0.6 x + 0.4 |x|) unless ``activation`` is None."""
    w = v1.get_variable(name + "_w", [5, 5, x.shape[-1], cnum])
    w = spectral_norm(w, name)
    if normalized is not None:
        normalized.append(w)
    x = tf.nn.conv2d(x, w, strides=[1, 2, 2, 1], padding="SAME")
    bias = v1.get_variable(name + "_bias", [cnum])
    if activation is None:
        return x + bias
    y = x + bias
    return 0.5 * (1 + 0.2) * y + 0.5 * (1 - 0.2) * tf.abs(y)


def rw_discriminator(x, mask, activation="leaky_relu", normalized=None):
    """The region-wise D on ``x`` (the caller passes image * (1 - mask)) and ``mask``.

    ``activation`` applies to the last layer (the official stage-1 default, adv_type ' ',
    passes 'leaky_relu'); the spectrally normalised kernels are appended to ``normalized``."""
    with v1.variable_scope("discriminator"):
        x = tf.concat([x, mask], axis=3)
        for index, width in enumerate((64, 128, 256, 256, 256), start=1):
            x = dis_conv(x, width, f"d_conv{index}", normalized=normalized)
        return dis_conv(x, 256, "d_conv6", activation=activation, normalized=normalized)
