"""Training, export and evaluation of the learned refiner: a package beside ``realtime``, not part of it.

``realtime`` never imports this package (except its Keras reference runtime, which loads the
architecture's custom layers from :mod:`realtime_train.architecture`). Modules:

- :mod:`~realtime_train.degrade`: the camera degradation model (exposure, noise, cast, haze, blur,
  compression) that makes training and evaluation inputs from clean photos;
- :mod:`~realtime_train.data`: examples (clean photo -> degraded -> classical stages -> thumbnails);
- :mod:`~realtime_train.architecture`: the Keras network (imports TensorFlow);
- :mod:`~realtime_train.train`, :mod:`~realtime_train.export`, :mod:`~realtime_train.evaluate`:
  the command lines (``python -m realtime_train.train`` ...; thin ``tools/`` scripts call them);
- :mod:`~realtime_train.anchors`: published low-light networks in PyTorch, for evaluation only.

TensorFlow, tf2onnx and onnx come with the ``train`` extra, scikit-image with ``eval``, PyTorch
with ``anchors``; importing this package itself needs none of them.
"""
