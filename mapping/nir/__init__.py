"""NIR graphs in and out: import, export, and the unrolling of convolutions and pooling."""
