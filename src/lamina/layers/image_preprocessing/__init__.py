"""Image preprocessing and augmentation layers (Keras 3 names and arguments).

Modules: `base` (data formats, argument checks, the random-layer protocol), `kernels` (pure
resize and projective-transform kernels), `resizing` (Resizing, CenterCrop, RandomCrop),
`geometric` (RandomFlip and the affine layers), `color` (contrast, brightness), `tone`
(auto-contrast, invert, grayscale, solarize, posterize, sharpness), `mixing` (MixUp,
CutMix), `effects` (RandomErasing, RandomGaussianBlur), `hsv` (hue,
saturation, colour jitter), `perspective` (RandomPerspective), `degeneration`
(RandomColorDegeneration), `randaugment` (RandAugment), `elastic` (RandomElasticTransform).
`LAYERS` lists every class for the saving registry.
"""
from lamina.layers.image_preprocessing import color as _color
from lamina.layers.image_preprocessing import degeneration as _degeneration
from lamina.layers.image_preprocessing import effects as _effects
from lamina.layers.image_preprocessing import elastic as _elastic
from lamina.layers.image_preprocessing import geometric as _geometric
from lamina.layers.image_preprocessing import hsv as _hsv
from lamina.layers.image_preprocessing import mixing as _mixing
from lamina.layers.image_preprocessing import perspective as _perspective
from lamina.layers.image_preprocessing import randaugment as _randaugment
from lamina.layers.image_preprocessing import resizing as _resizing
from lamina.layers.image_preprocessing import tone as _tone

LAYERS = (*_resizing.LAYERS, *_geometric.LAYERS, *_color.LAYERS, *_tone.LAYERS,
          *_mixing.LAYERS, *_effects.LAYERS, *_hsv.LAYERS,
          *_perspective.LAYERS, *_degeneration.LAYERS, *_randaugment.LAYERS,
          *_elastic.LAYERS)
