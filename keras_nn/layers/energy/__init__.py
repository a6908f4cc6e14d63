"""Energy-based layers: the restricted Boltzmann machine."""
