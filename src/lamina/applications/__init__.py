"""Keras 3's `keras.applications`: pretrained image backbones with Keras's layer and weight
names, so Keras's published weight files load (docs/transfer_learning.md).

Each family is a submodule with Keras's name (`resnet`, `resnet50`, `mobilenet_v2`, ...)
holding its constructors, `preprocess_input` and `decode_predictions`; the constructors are
also here, as `keras.applications.ResNet50` is.
"""
from lamina.applications import convnext as convnext
from lamina.applications import densenet as densenet
from lamina.applications import efficientnet as efficientnet
from lamina.applications import imagenet_utils as imagenet_utils
from lamina.applications import mobilenet_v2 as mobilenet_v2
from lamina.applications import mobilenet_v3 as mobilenet_v3
from lamina.applications import resnet as resnet
from lamina.applications import resnet50 as resnet50
from lamina.applications import resnet_v2 as resnet_v2
from lamina.applications import vgg16 as vgg16
from lamina.applications import xception as xception
from lamina.applications.convnext import ConvNeXtTiny as ConvNeXtTiny
from lamina.applications.densenet import DenseNet121 as DenseNet121
from lamina.applications.densenet import DenseNet169 as DenseNet169
from lamina.applications.densenet import DenseNet201 as DenseNet201
from lamina.applications.efficientnet import EfficientNetB0 as EfficientNetB0
from lamina.applications.efficientnet import EfficientNetB1 as EfficientNetB1
from lamina.applications.efficientnet import EfficientNetB2 as EfficientNetB2
from lamina.applications.efficientnet import EfficientNetB3 as EfficientNetB3
from lamina.applications.mobilenet_v2 import MobileNetV2 as MobileNetV2
from lamina.applications.mobilenet_v3 import MobileNetV3Large as MobileNetV3Large
from lamina.applications.mobilenet_v3 import MobileNetV3Small as MobileNetV3Small
from lamina.applications.resnet import ResNet50 as ResNet50
from lamina.applications.resnet import ResNet101 as ResNet101
from lamina.applications.resnet import ResNet152 as ResNet152
from lamina.applications.resnet_v2 import ResNet50V2 as ResNet50V2
from lamina.applications.resnet_v2 import ResNet101V2 as ResNet101V2
from lamina.applications.resnet_v2 import ResNet152V2 as ResNet152V2
from lamina.applications.vgg16 import VGG16 as VGG16
from lamina.applications.xception import Xception as Xception
