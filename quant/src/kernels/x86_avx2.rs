//! AVX2 + FMA + F16C dot kernels (in progress).
