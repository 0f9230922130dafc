"""Keras 3's `keras.applications`: pretrained image backbones with Keras's layer and weight
names, so Keras's published weight files load (docs/transfer_learning.md)."""
