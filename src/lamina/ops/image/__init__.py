"""Keras's image ops (`keras.ops.image`) on jax: colour spaces, geometry, filters, patches."""
from lamina.ops.image.color import hsv_to_rgb as hsv_to_rgb
from lamina.ops.image.color import rgb_to_grayscale as rgb_to_grayscale
from lamina.ops.image.color import rgb_to_hsv as rgb_to_hsv
from lamina.ops.image.filters import gaussian_blur as gaussian_blur
from lamina.ops.image.filters import sobel_edges as sobel_edges
from lamina.ops.image.filters import ssim as ssim
from lamina.ops.image.geometry import affine_transform as affine_transform
from lamina.ops.image.geometry import elastic_transform as elastic_transform
from lamina.ops.image.geometry import map_coordinates as map_coordinates
from lamina.ops.image.geometry import perspective_transform as perspective_transform
from lamina.ops.image.geometry import resize as resize
from lamina.ops.image.geometry import scale_and_translate as scale_and_translate
from lamina.ops.image.patches import crop_images as crop_images
from lamina.ops.image.patches import extract_patches as extract_patches
from lamina.ops.image.patches import extract_patches_3d as extract_patches_3d
from lamina.ops.image.patches import pad_images as pad_images
