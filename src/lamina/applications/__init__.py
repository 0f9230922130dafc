"""Keras 3's `keras.applications`: pretrained image backbones with Keras's layer and weight
names, so Keras's published weight files load (docs/transfer_learning.md)."""

# -- MobileNetV3, EfficientNetB0-B3, ConvNeXtTiny (H6) --
from lamina.applications import convnext as convnext
from lamina.applications import efficientnet as efficientnet
from lamina.applications import mobilenet_v3 as mobilenet_v3
from lamina.applications.convnext import ConvNeXtTiny as ConvNeXtTiny
from lamina.applications.efficientnet import EfficientNetB0 as EfficientNetB0
from lamina.applications.efficientnet import EfficientNetB1 as EfficientNetB1
from lamina.applications.efficientnet import EfficientNetB2 as EfficientNetB2
from lamina.applications.efficientnet import EfficientNetB3 as EfficientNetB3
from lamina.applications.mobilenet_v3 import MobileNetV3Large as MobileNetV3Large
from lamina.applications.mobilenet_v3 import MobileNetV3Small as MobileNetV3Small
