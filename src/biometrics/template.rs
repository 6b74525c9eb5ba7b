//! Biometric templates as unit vectors.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

pub const FACE_DIMENSIONS: usize = 128;
pub const FINGERPRINT_DIMENSIONS: usize = 128;

/// A unit vector of `f32`. On the wire and on disk it is base64 of the little-endian floats,
/// a quarter of the size of a JSON number list, which matters at a million people.
#[derive(Clone, PartialEq)]
pub struct Template(Vec<f32>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template is not valid base64")]
    Encoding,
    #[error("template has {found} dimensions, expected {expected}")]
    Dimensions { expected: usize, found: usize },
    #[error("template is not a finite, non-zero vector")]
    NotAVector,
}

impl Template {
    /// A random direction: a person's true biometric vector.
    pub fn random(rng: &mut impl Rng, dimensions: usize) -> Self {
        let v: Vec<f32> = (0..dimensions)
            .map(|_| StandardNormal.sample(rng))
            .collect();
        Self::normalised(v)
    }

    /// This template plus isotropic Gaussian noise of standard deviation `sigma` per dimension,
    /// re-normalised: what a sensor (or an enrolment) produces from the true vector.
    pub fn with_noise(&self, rng: &mut impl Rng, sigma: f32) -> Self {
        let v = self
            .0
            .iter()
            .map(|x| {
                let n: f32 = StandardNormal.sample(rng);
                x + sigma * n
            })
            .collect();
        Self::normalised(v)
    }

    fn normalised(mut v: Vec<f32>) -> Self {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        Self(v)
    }

    /// Accepts a vector from outside (a capture), insisting on the dimension and re-normalising.
    pub fn from_components(v: Vec<f32>, dimensions: usize) -> Result<Self, TemplateError> {
        if v.len() != dimensions {
            return Err(TemplateError::Dimensions {
                expected: dimensions,
                found: v.len(),
            });
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm == 0.0 {
            return Err(TemplateError::NotAVector);
        }
        Ok(Self::normalised(v))
    }

    pub fn dimensions(&self) -> usize {
        self.0.len()
    }

    /// Cosine similarity; both sides are unit vectors so it is the dot product.
    pub fn similarity(&self, other: &Template) -> f32 {
        if self.0.len() != other.0.len() {
            return -1.0;
        }
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    pub fn to_base64(&self) -> String {
        let bytes: Vec<u8> = self.0.iter().flat_map(|x| x.to_le_bytes()).collect();
        STANDARD_NO_PAD.encode(bytes)
    }

    pub fn from_base64(s: &str) -> Result<Self, TemplateError> {
        let bytes = STANDARD_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(|_| TemplateError::Encoding)?;
        if bytes.len() % 4 != 0 {
            return Err(TemplateError::Encoding);
        }
        let v: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let dims = v.len();
        Self::from_components(v, dims)
    }
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Template({} dims, <redacted>)", self.0.len())
    }
}

impl Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Template::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn templates_are_unit_vectors_that_round_trip_through_base64() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let t = Template::random(&mut rng, FACE_DIMENSIONS);
        assert!((t.similarity(&t) - 1.0).abs() < 1e-5);
        let back = Template::from_base64(&t.to_base64()).unwrap();
        assert!((back.similarity(&t) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn noisy_copies_stay_close_and_strangers_stay_far() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let t = Template::random(&mut rng, FACE_DIMENSIONS);
        let copy = t.with_noise(&mut rng, 0.03);
        let stranger = Template::random(&mut rng, FACE_DIMENSIONS);
        assert!(t.similarity(&copy) > 0.85);
        assert!(t.similarity(&stranger).abs() < 0.4);
    }

    #[test]
    fn rejects_wrong_dimensions_and_zero_vectors() {
        assert!(matches!(
            Template::from_components(vec![1.0; 3], FACE_DIMENSIONS),
            Err(TemplateError::Dimensions { .. })
        ));
        assert_eq!(
            Template::from_components(vec![0.0; 4], 4),
            Err(TemplateError::NotAVector)
        );
        assert_eq!(
            Template::from_components(vec![f32::NAN; 4], 4),
            Err(TemplateError::NotAVector)
        );
        assert_eq!(Template::from_base64("***"), Err(TemplateError::Encoding));
    }
}
