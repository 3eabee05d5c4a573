"""Wire writers of the simulated venues: one module per exchange, mirroring its real formats."""
