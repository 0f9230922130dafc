"""Private lowerings shared by layers: convolution and pooling, each chosen per backend, and
for convolutions on CPU per shape (`autotune`, cached by `tuning_cache`).

Not public API: `lamina.ops` holds Keras's public `keras.ops` catalogue. These modules are
what the convolutional and pooling layers call; they depend only on `lamina.errors` and
`lamina.core.files` (the cache's atomic writes).
"""
