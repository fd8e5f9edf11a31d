/* What every layer of skce's C code shares. */
#ifndef SKCE_COMMON_H
#define SKCE_COMMON_H

/* The instruction set the kernels run with on this CPU, as text. */
const char *skce_simd_level(void);

#endif /* SKCE_COMMON_H */
