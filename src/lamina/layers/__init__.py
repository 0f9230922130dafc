"""Layers with Keras 3 names, one module per family (a large family splits its classes over
several modules and gathers them in its family module's `LAYERS`); every class here is
registered for saving (a file can name only these, and classes registered by the user)."""
from lamina.core.input_layer import Input as Input
from lamina.core.input_layer import InputLayer
from lamina.core.layer import Layer as Layer
from lamina.core.registry import register_serializable as _register  # noqa: E402
from lamina.layers import activations as _activations  # noqa: E402
from lamina.layers import attention as _attention  # noqa: E402
from lamina.layers import category_encoding as _category_encoding  # noqa: E402
from lamina.layers import conv_lstm as _conv_lstm  # noqa: E402
from lamina.layers import convolutional as _convolutional  # noqa: E402
from lamina.layers import discretization as _discretization  # noqa: E402
from lamina.layers import einsum_dense as _einsum_dense  # noqa: E402
from lamina.layers import embedding as _embedding  # noqa: E402
from lamina.layers import group_query_attention as _group_query_attention  # noqa: E402
from lamina.layers import hashed_crossing as _hashed_crossing  # noqa: E402
from lamina.layers import hashing as _hashing  # noqa: E402
from lamina.layers import image_preprocessing as _image_preprocessing  # noqa: E402
from lamina.layers import lambda_layer as _lambda_layer  # noqa: E402
from lamina.layers import merging as _merging  # noqa: E402
from lamina.layers import normalization as _normalization  # noqa: E402
from lamina.layers import pipeline as _pipeline  # noqa: E402
from lamina.layers import pooling as _pooling  # noqa: E402
from lamina.layers import preprocessing as _preprocessing  # noqa: E402
from lamina.layers import recurrent as _recurrent  # noqa: E402
from lamina.layers import regularization as _regularization  # noqa: E402
from lamina.layers import reshaping as _reshaping  # noqa: E402
from lamina.layers import residual_branch as _residual_branch  # noqa: E402
from lamina.layers import rms_normalization as _rms_normalization  # noqa: E402
from lamina.layers import rnn_cells as _rnn_cells  # noqa: E402
from lamina.layers import text as _text  # noqa: E402
from lamina.layers import wrappers as _wrappers  # noqa: E402
from lamina.layers.activations import ELU as ELU
from lamina.layers.activations import LeakyReLU as LeakyReLU
from lamina.layers.activations import PReLU as PReLU
from lamina.layers.activations import ReLU as ReLU
from lamina.layers.activations import Softmax as Softmax
from lamina.layers.attention import AdditiveAttention as AdditiveAttention
from lamina.layers.attention import Attention as Attention
from lamina.layers.attention import MultiHeadAttention as MultiHeadAttention
from lamina.layers.category_encoding import CategoryEncoding as CategoryEncoding
from lamina.layers.conv_lstm import ConvLSTM1D as ConvLSTM1D
from lamina.layers.conv_lstm import ConvLSTM2D as ConvLSTM2D
from lamina.layers.conv_lstm import ConvLSTM3D as ConvLSTM3D
from lamina.layers.convolutional import Conv1D as Conv1D
from lamina.layers.convolutional import Conv1DTranspose as Conv1DTranspose
from lamina.layers.convolutional import Conv2D as Conv2D
from lamina.layers.convolutional import Conv2DTranspose as Conv2DTranspose
from lamina.layers.convolutional import Conv3D as Conv3D
from lamina.layers.convolutional import Conv3DTranspose as Conv3DTranspose
from lamina.layers.convolutional import DepthwiseConv1D as DepthwiseConv1D
from lamina.layers.convolutional import DepthwiseConv2D as DepthwiseConv2D
from lamina.layers.convolutional import SeparableConv1D as SeparableConv1D
from lamina.layers.convolutional import SeparableConv2D as SeparableConv2D
from lamina.layers.core import Activation as Activation
from lamina.layers.core import Dense as Dense
from lamina.layers.discretization import Discretization as Discretization
from lamina.layers.einsum_dense import EinsumDense as EinsumDense
from lamina.layers.embedding import Embedding as Embedding
from lamina.layers.embedding import Masking as Masking
from lamina.layers.group_query_attention import GroupQueryAttention as GroupQueryAttention
from lamina.layers.hashed_crossing import HashedCrossing as HashedCrossing
from lamina.layers.hashing import Hashing as Hashing
from lamina.layers.image_preprocessing.color import RandomBrightness as RandomBrightness
from lamina.layers.image_preprocessing.color import RandomContrast as RandomContrast
from lamina.layers.image_preprocessing.degeneration import (
    RandomColorDegeneration as RandomColorDegeneration,
)
from lamina.layers.image_preprocessing.effects import RandomErasing as RandomErasing
from lamina.layers.image_preprocessing.effects import RandomGaussianBlur as RandomGaussianBlur
from lamina.layers.image_preprocessing.elastic import (
    RandomElasticTransform as RandomElasticTransform,
)
from lamina.layers.image_preprocessing.geometric import RandomFlip as RandomFlip
from lamina.layers.image_preprocessing.geometric import RandomRotation as RandomRotation
from lamina.layers.image_preprocessing.geometric import RandomShear as RandomShear
from lamina.layers.image_preprocessing.geometric import RandomTranslation as RandomTranslation
from lamina.layers.image_preprocessing.geometric import RandomZoom as RandomZoom
from lamina.layers.image_preprocessing.hsv import RandomColorJitter as RandomColorJitter
from lamina.layers.image_preprocessing.hsv import RandomHue as RandomHue
from lamina.layers.image_preprocessing.hsv import RandomSaturation as RandomSaturation
from lamina.layers.image_preprocessing.mixing import CutMix as CutMix
from lamina.layers.image_preprocessing.mixing import MixUp as MixUp
from lamina.layers.image_preprocessing.perspective import RandomPerspective as RandomPerspective
from lamina.layers.image_preprocessing.randaugment import RandAugment as RandAugment
from lamina.layers.image_preprocessing.resizing import CenterCrop as CenterCrop
from lamina.layers.image_preprocessing.resizing import RandomCrop as RandomCrop
from lamina.layers.image_preprocessing.resizing import Resizing as Resizing
from lamina.layers.image_preprocessing.tone import AutoContrast as AutoContrast
from lamina.layers.image_preprocessing.tone import Equalization as Equalization
from lamina.layers.image_preprocessing.tone import RandomGrayscale as RandomGrayscale
from lamina.layers.image_preprocessing.tone import RandomInvert as RandomInvert
from lamina.layers.image_preprocessing.tone import RandomPosterization as RandomPosterization
from lamina.layers.image_preprocessing.tone import RandomSharpness as RandomSharpness
from lamina.layers.image_preprocessing.tone import Solarization as Solarization
from lamina.layers.lambda_layer import Lambda as Lambda
from lamina.layers.merging import Add as Add
from lamina.layers.merging import Average as Average
from lamina.layers.merging import Concatenate as Concatenate
from lamina.layers.merging import Dot as Dot
from lamina.layers.merging import Maximum as Maximum
from lamina.layers.merging import Minimum as Minimum
from lamina.layers.merging import Multiply as Multiply
from lamina.layers.merging import Subtract as Subtract
from lamina.layers.merging import add as add
from lamina.layers.merging import average as average
from lamina.layers.merging import concatenate as concatenate
from lamina.layers.merging import dot as dot
from lamina.layers.merging import maximum as maximum
from lamina.layers.merging import minimum as minimum
from lamina.layers.merging import multiply as multiply
from lamina.layers.merging import subtract as subtract
from lamina.layers.normalization import BatchNormalization as BatchNormalization
from lamina.layers.normalization import GroupNormalization as GroupNormalization
from lamina.layers.normalization import LayerNormalization as LayerNormalization
from lamina.layers.normalization import UnitNormalization as UnitNormalization
from lamina.layers.pipeline import Pipeline as Pipeline
from lamina.layers.pooling import AveragePooling1D as AveragePooling1D
from lamina.layers.pooling import AveragePooling2D as AveragePooling2D
from lamina.layers.pooling import AveragePooling3D as AveragePooling3D
from lamina.layers.pooling import GlobalAveragePooling1D as GlobalAveragePooling1D
from lamina.layers.pooling import GlobalAveragePooling2D as GlobalAveragePooling2D
from lamina.layers.pooling import GlobalAveragePooling3D as GlobalAveragePooling3D
from lamina.layers.pooling import GlobalMaxPooling1D as GlobalMaxPooling1D
from lamina.layers.pooling import GlobalMaxPooling2D as GlobalMaxPooling2D
from lamina.layers.pooling import GlobalMaxPooling3D as GlobalMaxPooling3D
from lamina.layers.pooling import MaxPooling1D as MaxPooling1D
from lamina.layers.pooling import MaxPooling2D as MaxPooling2D
from lamina.layers.pooling import MaxPooling3D as MaxPooling3D
from lamina.layers.preprocessing import Identity as Identity
from lamina.layers.preprocessing import Normalization as Normalization
from lamina.layers.preprocessing import Rescaling as Rescaling
from lamina.layers.recurrent import GRU as GRU
from lamina.layers.recurrent import LSTM as LSTM
from lamina.layers.recurrent import RNN as RNN
from lamina.layers.recurrent import SimpleRNN as SimpleRNN
from lamina.layers.regularization import ActivityRegularization as ActivityRegularization
from lamina.layers.regularization import AlphaDropout as AlphaDropout
from lamina.layers.regularization import Dropout as Dropout
from lamina.layers.regularization import GaussianDropout as GaussianDropout
from lamina.layers.regularization import GaussianNoise as GaussianNoise
from lamina.layers.regularization import SpatialDropout1D as SpatialDropout1D
from lamina.layers.regularization import SpatialDropout2D as SpatialDropout2D
from lamina.layers.regularization import SpatialDropout3D as SpatialDropout3D
from lamina.layers.reshaping import Cropping1D as Cropping1D
from lamina.layers.reshaping import Cropping2D as Cropping2D
from lamina.layers.reshaping import Flatten as Flatten
from lamina.layers.reshaping import Permute as Permute
from lamina.layers.reshaping import RepeatVector as RepeatVector
from lamina.layers.reshaping import Reshape as Reshape
from lamina.layers.reshaping import UpSampling1D as UpSampling1D
from lamina.layers.reshaping import UpSampling2D as UpSampling2D
from lamina.layers.reshaping import ZeroPadding1D as ZeroPadding1D
from lamina.layers.reshaping import ZeroPadding2D as ZeroPadding2D
from lamina.layers.residual_branch import LayerScale as LayerScale
from lamina.layers.residual_branch import StochasticDepth as StochasticDepth
from lamina.layers.rms_normalization import RMSNormalization as RMSNormalization
from lamina.layers.rnn_cells import GRUCell as GRUCell
from lamina.layers.rnn_cells import LSTMCell as LSTMCell
from lamina.layers.rnn_cells import SimpleRNNCell as SimpleRNNCell
from lamina.layers.text import IntegerLookup as IntegerLookup
from lamina.layers.text import StringLookup as StringLookup
from lamina.layers.text import TextVectorization as TextVectorization
from lamina.layers.wrappers import Bidirectional as Bidirectional
from lamina.layers.wrappers import TimeDistributed as TimeDistributed

_FAMILIES = (
    _activations, _attention, _category_encoding, _conv_lstm, _convolutional, _discretization,
    _einsum_dense, _embedding, _group_query_attention, _hashed_crossing, _hashing,
    _image_preprocessing, _lambda_layer, _merging, _normalization,
    _pipeline, _pooling, _preprocessing, _recurrent, _regularization, _reshaping,
    _residual_branch, _rms_normalization, _rnn_cells, _text, _wrappers,
)
for _cls in (Layer, InputLayer, Activation, Dense,
             *(cls for family in _FAMILIES for cls in family.LAYERS)):
    _register()(_cls)
