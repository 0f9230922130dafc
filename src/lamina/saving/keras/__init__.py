"""Reading Keras 3 `.keras` and `.weights.h5` files into lamina models (the layers lamina has).

`files` reads the archive and HDF5 weights, `importer` walks the model configs, `functional`
rebuilds functional graphs, `layers` maps each Keras layer config to a lamina layer, `objects`
and `options` read Keras's serialized objects and arguments, `weights` sets the weights.
"""
