//! The one entry point of the LoxiLB state machine: `apply(&mut Sim, Request)` answers one
//! API call and says what the runtime must do next.
//!
//! A [`Request`] is an API call already bound from HTTP (route, path and query parameters,
//! body), plus the two inputs a pure function cannot make itself: the current time and, for
//! a login, a fresh random token. The order of the checks is go-openapi's: an unknown
//! route or method fails first, then the token (for routes that need one), then the
//! binding of the body and parameters, then the handler.

use std::time::Instant;

use super::answer::Answer;
use super::effect::Effect;
use super::endpoints::{self, EndpointOp};
use super::rules::{self, RuleOp};
use super::sim::Sim;
use super::system::{self, SystemOp};
use crate::error::ApiError;

/// One LoxiLB API call, bound from HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// When the call arrives (token expiry, process time).
    pub now: Instant,
    /// The Authorization header, which LoxiLB takes as the token itself.
    pub token: Option<String>,
    pub op: Op,
}

/// What the call asks for, by resource. Binding errors of endpoint and rule calls are
/// kept, not raised, because go-openapi checks the token before it binds.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Endpoints(Result<EndpointOp, ApiError>),
    Rules(Result<RuleOp, ApiError>),
    System(SystemOp),
    /// Refused by routing before auth (unknown path: 404, known path, other method: 405).
    Refused(ApiError),
}

impl Op {
    /// Whether the call needs a token when auth is on.
    pub fn needs_auth(&self) -> bool {
        match self {
            Op::Endpoints(_) | Op::Rules(_) => true,
            Op::System(op) => op.needs_auth(),
            Op::Refused(_) => false,
        }
    }
}

/// The answer to an API call: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// LoxiLB's answer for an error, shaped as the simulated release shapes it.
    pub fn error(sim: &Sim, e: &ApiError) -> Self {
        let (status, body) = e.response(sim.setup.version);
        Response { status, body }
    }
}

/// Answer one API call: the response, and the effects the runtime must carry out (in
/// order) before the next call sees the state.
pub(crate) fn apply(sim: &mut Sim, req: Request) -> (Response, Vec<Effect>) {
    let response = match answer(sim, req) {
        Ok((status, body)) => Response { status, body },
        Err(e) => Response::error(sim, &e),
    };
    (response, sim.take_effects())
}

fn answer(sim: &mut Sim, req: Request) -> Result<Answer, ApiError> {
    if req.op.needs_auth() {
        sim.authorize(req.token.as_deref(), req.now)?;
    }
    match req.op {
        Op::Endpoints(op) => endpoints::handle(sim, op?),
        Op::Rules(op) => rules::handle(sim, op?),
        Op::System(op) => system::handle(sim, op, req.now),
        Op::Refused(e) => Err(e),
    }
}
