//! GET_LOGGING_LEVEL / SET_LOGGING_LEVEL: the process-wide log level control lives in
//! `drover_http::logging`, shared with the agent's Operator API; re-exported here so the
//! binary and the master's tests keep one path.

pub use drover_http::logging::*;
