"""One Mochi job on several GPUs: CFG-parallel times Ulysses sequence parallel over the gang's group."""
