//! How `eidgw` ends, so a script can tell a pass from a fail without reading the output.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success; a positive answer (`VALID`, `AUTHENTIC`, every field matched) |
//! | 1 | a local error: a file, the configuration, the wallet, the store |
//! | 2 | the command line itself is wrong (clap's usage error) |
//! | 3 | the gateway answered, and the answer is negative (`INVALID`, `NOT AUTHENTIC`, a refused line in a batch) |
//! | 4 | the gateway refused the request (a 4xx problem: bad input, bad credentials, not found) |
//! | 5 | the gateway could not be reached, or answered 5xx (try again later) |

use std::process::ExitCode;

use super::client::GatewayProblem;

pub const NEGATIVE_ANSWER: u8 = 3;
pub const REQUEST_REFUSED: u8 = 4;
pub const UNREACHABLE: u8 = 5;

/// The gateway answered, negatively; the answer was printed already.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NegativeAnswer(pub String);

/// The gateway could not be reached at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the gateway at {base}: {source}")]
pub struct Unreachable {
    pub base: String,
    #[source]
    pub source: reqwest::Error,
}

/// The exit code for an error a command returned.
pub fn code_of(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<NegativeAnswer>() {
            return NEGATIVE_ANSWER;
        }
        if cause.is::<Unreachable>() {
            return UNREACHABLE;
        }
        if let Some(p) = cause.downcast_ref::<GatewayProblem>() {
            return if p.status >= 500 {
                UNREACHABLE
            } else {
                REQUEST_REFUSED
            };
        }
    }
    1
}

/// Ends the process for `result`: errors on stderr (a negative answer was printed on stdout
/// already, so it gets one short line).
pub fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(code_of(&err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_own_code() {
        let negative = anyhow::Error::new(NegativeAnswer("INVALID".into()));
        assert_eq!(code_of(&negative), 3);
        let refused = anyhow::Error::new(GatewayProblem {
            status: 401,
            code: "invalid_client".into(),
            detail: String::new(),
        });
        assert_eq!(code_of(&refused), 4);
        let down = anyhow::Error::new(GatewayProblem {
            status: 503,
            code: "store_unavailable".into(),
            detail: String::new(),
        });
        assert_eq!(code_of(&down), 5);
        // Wrapped in context, the kind still shows through.
        assert_eq!(code_of(&refused.context("registering")), 4);
        assert_eq!(code_of(&anyhow::anyhow!("no such file")), 1);
    }
}
