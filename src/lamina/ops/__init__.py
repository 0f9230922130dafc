"""Array operations shared by layers (convolution and pooling lowerings)."""
