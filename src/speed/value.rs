//! The one value every place serves: n! written out in decimal, the very
//! text `/factorial/<n>` answers with.

use num_bigint::BigUint;

/// Which factorial is measured: 1000! has 2,568 digits, a value about the
/// size of a small web page's HTML.
pub const FACTORIAL_OF: u64 = 1000;

/// n! in decimal, computed from scratch: 1 × 2 × … × n, then written out.
/// No simulated delay: this is what recomputing really costs.
pub fn compute(n: u64) -> Vec<u8> {
    let mut product = BigUint::from(1u32);
    for factor in 2..=n {
        product *= factor;
    }
    product.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_small_factorials_and_the_measured_one() {
        assert_eq!(compute(0), b"1");
        assert_eq!(compute(5), b"120");
        let value = compute(FACTORIAL_OF);
        assert_eq!(value.len(), 2568);
        assert!(value.starts_with(b"402387260077"));
    }
}
