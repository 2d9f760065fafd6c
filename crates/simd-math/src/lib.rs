//! Branch-free f32 math that LLVM vectorises, shared by the CPU backend (`dgemma-backend-cpu`)
//! and the sampler (`dgemma-sampler`), which must not depend on each other.
//!
//! [`exp`] / [`exp_nonpositive`] share one polynomial; [`lane_max`] / [`lane_sum`] are the
//! fixed-order reductions the softmax passes use.
//!
//! libm's `expf` is one call per element and keeps every loop that uses it scalar. The
//! functions here are `#[inline(always)]` selects and arithmetic (no calls, no `mul_add`), so a
//! loop calling them vectorises at whatever width its caller's `#[target_feature]` allows, and
//! every width (plain, AVX2, AVX-512) gives the same bits as the scalar function.

mod accuracy;
mod exp;
mod lanes;

pub use accuracy::ulp_error;
pub use exp::{exp, exp_nonpositive, EXP_NONPOSITIVE_UNDERFLOW};
pub use lanes::{lane_max, lane_sum};
