"""Stage 5, scale: many independent simulations of one design (sweeps over load, workers,
seeds and variants), run in this process, in processes, or on a Dask cluster."""
