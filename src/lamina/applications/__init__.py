"""Keras 3's `keras.applications`: pretrained image backbones with Keras's layer and weight
names, so Keras's published weight files load (docs/transfer_learning.md)."""

# -- VGG16, ResNet50V2, Xception, DenseNet (helper H5's families) ------------------------------
from lamina.applications import vgg16 as vgg16
from lamina.applications.vgg16 import VGG16 as VGG16
