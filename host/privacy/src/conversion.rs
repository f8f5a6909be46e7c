//! From Rényi DP to (ε, δ)-DP.
//!
//! For each order α with RDP `r`, `ε(α) = r + ln(1 − 1/α) − ln(δ·α) / (α − 1)` (Balle et al.
//! 2020, "Hypothesis Testing Interpretations and Rényi DP", Prop. 12; also Canonne, Kamath &
//! Steinke 2020), tighter than Mironov's `r − ln δ / (α − 1)`; the reported ε is the minimum
//! over the orders. When `δ² > 1 − e⁻ʳ` the KL bound already gives ε = 0. Orders at or below
//! 1.01 are left out: the bound is unstable there and never the minimum.

/// ε at `delta` from the RDP values `rdp` at `orders`, and the order that gave it: ε = +∞ when
/// no order gives a finite bound.
pub fn epsilon(orders: &[f64], rdp: &[f64], delta: f64) -> (f64, f64) {
    let mut best = (f64::INFINITY, orders.first().copied().unwrap_or(f64::NAN));
    for (&alpha, &r) in orders.iter().zip(rdp) {
        let eps = if r < 0.0 || delta * delta + (-r).exp_m1() > 0.0 {
            0.0
        } else if alpha > 1.01 {
            r + (-1.0 / alpha).ln_1p() - (delta * alpha).ln() / (alpha - 1.0)
        } else {
            f64::INFINITY
        };
        if eps < best.0 {
            best = (eps, alpha);
        }
    }
    (best.0.max(0.0), best.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One Gaussian mechanism of σ = 1 (RDP α/2) at δ = 1e-5: the bound at α = 5 by hand.
    #[test]
    fn bound_at_one_order() {
        let (eps, order) = epsilon(&[5.0], &[2.5], 1e-5);
        let expected = 2.5 + (0.8_f64).ln() - (5e-5_f64).ln() / 4.0;
        assert!((eps - expected).abs() < 1e-12 && order == 5.0);
    }

    /// The minimum over orders is taken, and a tiny divergence costs nothing.
    #[test]
    fn minimum_and_kl_shortcut() {
        let orders = [2.0, 4.0, 8.0];
        let rdp: Vec<f64> = orders.iter().map(|a| a / 2.0).collect();
        let (eps, order) = epsilon(&orders, &rdp, 1e-5);
        let each: Vec<f64> = orders.iter().zip(&rdp).map(|(a, r)| epsilon(&[*a], &[*r], 1e-5).0).collect();
        assert_eq!(eps, each.iter().copied().fold(f64::INFINITY, f64::min));
        assert_eq!(order, 4.0);
        assert_eq!(epsilon(&[2.0], &[1e-12], 1e-3).0, 0.0);
        assert_eq!(epsilon(&[2.0], &[f64::INFINITY], 1e-5).0, f64::INFINITY);
    }
}
