//! Measuring the false-match and false-non-match rates of the configured thresholds under the
//! configured noise model, and drawing the score distributions (`eidgw bench biometrics`).

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

use super::{FACE_DIMENSIONS, Template};

/// Enrolment and capture noise (standard deviation per dimension).
#[derive(Debug, Clone, Copy)]
pub struct NoiseModel {
    pub enrolment: f32,
    pub capture: f32,
}

/// Scores of genuine pairs: a person's enrolment against a fresh capture of the same person.
pub fn genuine_scores(n: usize, seed: u64, noise: NoiseModel) -> Vec<f32> {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let truth = Template::random(&mut rng, FACE_DIMENSIONS);
            let enrolled = truth.with_noise(&mut rng, noise.enrolment);
            truth
                .with_noise(&mut rng, noise.capture)
                .similarity(&enrolled)
        })
        .collect()
}

/// Scores of impostor pairs: one person's enrolment against a capture of someone else.
pub fn impostor_scores(n: usize, seed: u64, noise: NoiseModel) -> Vec<f32> {
    let mut rng = ChaCha12Rng::seed_from_u64(seed ^ 0x1A9F_0570);
    (0..n)
        .map(|_| {
            let enrolled =
                Template::random(&mut rng, FACE_DIMENSIONS).with_noise(&mut rng, noise.enrolment);
            let other = Template::random(&mut rng, FACE_DIMENSIONS);
            other
                .with_noise(&mut rng, noise.capture)
                .similarity(&enrolled)
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub threshold: f32,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    pub false_matches: usize,
    pub false_non_matches: usize,
}

impl Rates {
    pub fn fmr(&self) -> f64 {
        self.false_matches as f64 / self.impostor_pairs.max(1) as f64
    }
    pub fn fnmr(&self) -> f64 {
        self.false_non_matches as f64 / self.genuine_pairs.max(1) as f64
    }
}

pub fn measure(genuine: &[f32], impostor: &[f32], threshold: f32) -> Rates {
    Rates {
        threshold,
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        false_matches: impostor.iter().filter(|s| **s >= threshold).count(),
        false_non_matches: genuine.iter().filter(|s| **s < threshold).count(),
    }
}

/// Draws both score histograms and the threshold as an SVG picture.
pub fn plot_svg(
    path: &Path,
    genuine: &[f32],
    impostor: &[f32],
    threshold: f32,
) -> Result<(), String> {
    use plotters::prelude::*;
    const BINS: usize = 100;
    let bin = |s: f32| (((s + 1.0) / 2.0 * BINS as f32) as usize).min(BINS - 1);
    let density = |scores: &[f32]| {
        let mut h = vec![0f64; BINS];
        for s in scores {
            h[bin(*s)] += 1.0;
        }
        let n = scores.len().max(1) as f64;
        h.iter_mut().for_each(|v| *v /= n);
        h
    };
    let (g, i) = (density(genuine), density(impostor));
    let top = g.iter().chain(&i).copied().fold(0.0, f64::max) * 1.1;
    let x = |k: usize| -1.0 + 2.0 * (k as f64 + 0.5) / BINS as f64;
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Face match scores: genuine vs impostor (cosine similarity)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.6f64..1.0f64, 0f64..top.max(0.01))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("score")
        .y_desc("fraction of pairs")
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(
            (0..BINS).map(|k| (x(k), i[k])),
            RED.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?
        .label(format!("impostor ({} pairs)", impostor.len()))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .draw_series(LineSeries::new(
            (0..BINS).map(|k| (x(k), g[k])),
            BLUE.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?
        .label(format!("genuine ({} pairs)", genuine.len()))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(
            vec![(threshold as f64, 0.0), (threshold as f64, top)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?
        .label(format!("threshold {threshold:.2}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default thresholds meet the contract: FMR ≤ 1/10,000 and FNMR ≤ 1/100, measured on
    /// 50,000 impostor and 5,000 genuine pairs (deterministic seeds).
    #[test]
    fn default_thresholds_meet_the_error_rate_targets() {
        let defaults: toml::Value = toml::from_str(
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
                .unwrap(),
        )
        .unwrap();
        let b = &defaults["biometrics"];
        let noise = NoiseModel {
            enrolment: b["enrolment_noise"].as_float().unwrap() as f32,
            capture: b["capture_noise"].as_float().unwrap() as f32,
        };
        let threshold = b["face_threshold"].as_float().unwrap() as f32;
        let rates = measure(
            &genuine_scores(5_000, 1, noise),
            &impostor_scores(50_000, 2, noise),
            threshold,
        );
        assert!(rates.fmr() <= 1e-4, "FMR {}", rates.fmr());
        assert!(rates.fnmr() <= 1e-2, "FNMR {}", rates.fnmr());
    }

    #[test]
    fn rates_count_scores_on_the_wrong_side_of_the_threshold() {
        let r = measure(&[0.9, 0.3, 0.8], &[0.1, 0.5, -0.2, 0.0], 0.4);
        assert_eq!((r.false_non_matches, r.false_matches), (1, 1));
        assert!((r.fmr() - 0.25).abs() < 1e-9);
    }
}
