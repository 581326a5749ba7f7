"""Studies on top of the chip: data sets, the energy reports, their figures, and the demo."""
