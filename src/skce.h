/* The C API of skce's numerics, one header per layer (the Cython wrappers
 * declare it in skce/_kernels.pxd):
 *   common/  vectorizable exp/log, SIMD level
 *   loss/    loss + gradient kernels over blocks of rows
 *   solver/  optimizer steps, minibatch gathers and products */
#ifndef SKCE_H
#define SKCE_H
#include "skce_common.h"
#include "skce_loss.h"
#include "skce_solver.h"
#endif /* SKCE_H */
