"""Private lowerings shared by layers: convolution and pooling, each chosen per backend.

Not public API: `lamina.ops` holds Keras's public `keras.ops` catalogue. These modules are
what the convolutional and pooling layers call; they depend only on `lamina.errors`.
"""
