"""Stage 2, run: the kernel (virtual time, choice points) and the campaign engine on it."""
