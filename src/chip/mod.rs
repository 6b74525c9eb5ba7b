//! The chip ID card (CCCD, ICAO Doc 9303 logic): card authority keys and certificates.
//! Data groups, passive and active authentication arrive with the chip issue.

pub mod authority;
