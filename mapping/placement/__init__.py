"""Partitioning a network over cores and placing the cores on the mesh, with the traffic model and the mapping report."""
