/* Instantiates sparse_impl.h for double and float, int32 and int64 indices. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "skce_math.h"
#include "skce_solver.h"

#define REAL double
#define INDEX int32_t
#define NAME(name) name##_f64_i32
#include "sparse_impl.h"
#undef INDEX
#undef NAME
#define INDEX int64_t
#define NAME(name) name##_f64_i64
#include "sparse_impl.h"
#undef INDEX
#undef NAME
#undef REAL

#define REAL float
#define INDEX int32_t
#define NAME(name) name##_f32_i32
#include "sparse_impl.h"
#undef INDEX
#undef NAME
#define INDEX int64_t
#define NAME(name) name##_f32_i64
#include "sparse_impl.h"
#undef INDEX
#undef NAME
#undef REAL
